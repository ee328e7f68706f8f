"""Running the server: stdio, or Streamable HTTP behind the checks a shared host needs."""

from __future__ import annotations

import logging
import sys

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from session_mcp.config import Settings

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

ATTACH_HINT = """\
session-mcp speaks the Model Context Protocol on stdin/stdout: it is meant to be started by an MCP
host, not typed at. To attach it, add it to your host's configuration, for example:

  Claude Desktop (claude_desktop_config.json):
    {{"mcpServers": {{"napster-sessions": {{"command": "{command}", "args": {args}}}}}}}
  Claude Code:
    claude mcp add napster-sessions -- {command} {args_plain}
  MCP Inspector:
    npx @modelcontextprotocol/inspector {command} {args_plain}

Or serve it over HTTP: session-mcp --transport http --port 8000
Waiting for an MCP client on stdin (Ctrl+C to quit)...
"""


def attach_hint(argv: list[str]) -> str:
    args = [a for a in argv if a]
    quoted = "[" + ", ".join(f'"{a}"' for a in args) + "]"
    return ATTACH_HINT.format(command=sys.argv[0] or "session-mcp", args=quoted, args_plain=" ".join(args))


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection, on for every bind: only the bound host and loopback names pass."""
    hosts = [f"{name}:*" for name in ("127.0.0.1", "localhost", "[::1]")] + ["127.0.0.1", "localhost", "[::1]"]
    if settings.host not in LOOPBACK_HOSTS and settings.host not in ("0.0.0.0", "::"):
        hosts += [settings.host, f"{settings.host}:*"]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=[])


def http_app(server: MCPServer, settings: Settings) -> ASGIApp:
    """The Streamable HTTP app at ``/mcp``."""
    return server.streamable_http_app(transport_security=transport_security(settings), host=settings.host)


async def serve_http(server: MCPServer, settings: Settings) -> None:
    if settings.host not in LOOPBACK_HOSTS:
        logger.warning(
            "Serving on %s: reachable beyond this machine.%s",
            settings.host,
            "" if settings.auth_token else " No SESSION_MCP_AUTH_TOKEN is set: anyone who can reach it can use it.",
        )
    config = uvicorn.Config(
        http_app(server, settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    print(f"session-mcp: Streamable HTTP on http://{settings.host}:{settings.port}/mcp", file=sys.stderr)
    await uvicorn.Server(config).serve()
