"""``python -m session_mcp`` is the ``session-mcp`` command."""

from session_mcp.cli import main

main()
