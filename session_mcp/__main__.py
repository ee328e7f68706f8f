"""``python -m session_mcp`` is the ``session-mcp`` command."""

from session_mcp.cli.main import entry

entry()
