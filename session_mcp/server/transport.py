"""Running the server: stdio, or Streamable HTTP behind the checks a shared host needs."""

from __future__ import annotations

import asyncio
import hmac
import importlib.metadata
import json
import logging
import math
import os
import re
import shlex
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import INTERNAL_ERROR
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from session_mcp.config import LOOPBACK_HOSTS, Settings, authority
from session_mcp.server.health import OPEN_PATHS
from session_mcp.server.logs import RequestIds, announce

logger = logging.getLogger(__name__)


ATTACH_HINT = """\
session-mcp speaks the Model Context Protocol on stdin/stdout: it is meant to be started by an MCP
host, not typed at. To attach it, add it to your host's configuration, for example:

  Claude Desktop (claude_desktop_config.json):
    {{"mcpServers": {{"napster-sessions": {{"command": {command_json}, "args": {args}}}}}}}
  Claude Code:
    claude mcp add napster-sessions -- {command} {args_plain}
  MCP Inspector:
    npx @modelcontextprotocol/inspector {command} {args_plain}

Or serve it over HTTP: {command} {http_args}
Waiting for an MCP client on stdin (Ctrl+C to quit)...
"""


def attach_hint(argv: list[str], *, demo: bool = False) -> str:
    """The attach instructions for the command as it was started (``argv`` without the program).

    ``demo``: the server runs on the simulator (by flag or environment), so the HTTP command must too.
    """
    args = [a for a in argv if a]
    http_args = shlex.join([*(["--demo"] if demo else []), "--transport", "http", "--port", "8000"])
    program = sys.argv[0] if sys.argv[0] and not sys.argv[0].endswith("__main__.py") else "session-mcp"
    launch = launch_command(program, sys.prefix, os.environ)
    return ATTACH_HINT.format(
        command=shlex.join(launch),
        command_json=json.dumps(launch[0]),
        args=json.dumps([*launch[1:], *args]),
        args_plain=shlex.join(args),
        http_args=http_args,
    )


UV_CACHE_BUCKET = re.compile(r"(archive|builds|environments)-v\d+")  # where uvx keeps its environments


def launch_command(program: str, prefix: str, env: Mapping[str, str]) -> list[str]:
    """The words that start this server again: ``program``, or uvx's own form when uvx started it.

    uvx runs a tool from an environment in uv's cache; a host given that path loses the server at the
    next ``uv cache clean``, while ``uvx --from <source> session-mcp`` makes the environment again.
    """
    if in_uv_cache(program, env) or in_uv_cache(prefix, env):
        return ["uvx", "--from", install_source(), "session-mcp"]
    return [program]


def in_uv_cache(path: str, env: Mapping[str, str]) -> bool:
    """True when ``path`` lies in one of uv's cache buckets (``…/uv/archive-v0/…``, ``…\\uv\\cache\\…``).

    A bucket counts under a folder named ``uv`` or ``cache`` (uv's defaults on every platform) or
    under ``UV_CACHE_DIR``, so a folder of one's own that merely looks like a bucket does not.
    """
    parts = Path(path).parts
    custom = Path(env["UV_CACHE_DIR"]).expanduser() if env.get("UV_CACHE_DIR", "").strip() else None
    return any(
        UV_CACHE_BUCKET.fullmatch(part) and (parts[i - 1] in ("uv", "cache") or Path(*parts[:i]) == custom)
        for i, part in enumerate(parts)
        if i > 0
    )


def install_source() -> str:
    """What ``uvx --from`` takes to install this same session-mcp (see ``source_of``)."""
    try:
        text = importlib.metadata.distribution("session-mcp").read_text("direct_url.json")
        direct_url = json.loads(text) if text else None
    except (importlib.metadata.PackageNotFoundError, ValueError):
        direct_url = None
    return source_of(direct_url if isinstance(direct_url, dict) else None)


def source_of(direct_url: Mapping[str, Any] | None) -> str:
    """The ``uvx --from`` source of an install's ``direct_url.json`` (PEP 610); none: the index's name.

    A Git install gives ``git+URL@revision`` (the one asked for, else the commit), a local folder or
    file its path, any other URL itself.
    """
    direct_url = direct_url or {}
    url = direct_url.get("url")
    if not isinstance(url, str) or not url:
        return "session-mcp"
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict):
        kind = vcs.get("vcs") if isinstance(vcs.get("vcs"), str) else "git"
        revisions = (vcs.get("requested_revision"), vcs.get("commit_id"))
        revision = next((r for r in revisions if isinstance(r, str) and r), None)
        return f"{kind}+{url}" + (f"@{revision}" if revision else "")
    if url.startswith("file:"):
        return url2pathname(urlsplit(url).path) or "session-mcp"
    return url


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")  # as they appear in Host and Origin headers
PORTS = ("", ":*")  # a name on its default port, and on any port
RETRY_AFTER_SECONDS = 30  # when every session is taken: a guess at when one frees up


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection, on for every bind: loopback names and the hosts allowed by name."""
    names = [*LOOPBACK_NAMES, *settings.allowed_hosts]
    if settings.host not in LOOPBACK_HOSTS and settings.host not in ("0.0.0.0", "::"):
        names.append(f"[{settings.host}]" if ":" in settings.host else settings.host)  # IPv6 in brackets
    hosts = [*names, *(f"{name}:*" for name in names if not _has_port(name))]
    # Browser tools on this machine (the Inspector's UI) may call, on any port or the default one;
    # pages from anywhere else may not.
    origins = [
        f"{scheme}://{name}{port}" for scheme in ("http", "https") for name in LOOPBACK_NAMES for port in ("", ":*")
    ]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def _has_port(host: str) -> bool:
    """True for ``name:port`` and ``[v6]:port``; false for ``name`` and ``[v6]``."""
    return ":" in host.rsplit("]", 1)[-1]


def http_app(server: MCPServer, settings: Settings) -> ASGIApp:
    """The Streamable HTTP app at ``/mcp``, behind the bearer token when one is set (the health routes
    are not), every request with an id (``RequestIds``)."""
    app: ASGIApp = SessionsFull(
        server.streamable_http_app(
            transport_security=transport_security(settings),
            host=settings.host,
            max_sessions=settings.max_sessions,
            session_idle_timeout=settings.session_idle_timeout,
        ),
        settings,
    )
    if settings.auth_token is not None:
        app = BearerAuth(app, settings.auth_token.get_secret_value())
    return RequestIds(app)


class SessionsFull:
    """ASGI middleware: the SDK's bare 503 when every session is taken, with ``Retry-After`` and a reason.

    Stateful sessions (clients before 2026-07-28) are bounded by ``max_sessions``; once that many
    are open, the SDK refuses the next ``initialize`` with ``503 Too many open sessions`` and no
    hint of when to come back. The answer keeps its JSON-RPC shape, so clients still parse it.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        retry_after = min(RETRY_AFTER_SECONDS, math.ceil(settings.session_idle_timeout))
        message = (
            f"Too many open sessions: this server holds at most {settings.max_sessions} at once and closes one after "
            f"{settings.session_idle_timeout:g} s without a request. Retry in {retry_after} s, or end sessions you "
            "no longer use (HTTP DELETE)."
        )
        self.body = json.dumps(
            {"jsonrpc": "2.0", "id": None, "error": {"code": INTERNAL_ERROR, "message": message}}
        ).encode()
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:  # a readiness 503 is its own
            await self.app(scope, receive, send)
            return
        replaced = False

        async def answer(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 503:
                replaced = True
                await send({"type": "http.response.start", "status": 503, "headers": self.headers})
                await send({"type": "http.response.body", "body": self.body})
            elif not replaced:  # the SDK's own body of a replaced answer is dropped
                await send(message)

        await self.app(scope, receive, answer)


class BearerAuth:
    """ASGI middleware: every HTTP request needs ``Authorization: Bearer <SESSION_MCP_AUTH_TOKEN>``.

    The scheme is case-insensitive (RFC 9110); the token is compared in constant time. The health
    routes are open: a load balancer's probe holds no token, and they reveal nothing.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            scheme, _, given = dict(scope["headers"]).get(b"authorization", b"").partition(b" ")
            # Both sides of the comparison always run: no early exit tells a wrong scheme from a wrong token.
            right_token = hmac.compare_digest(given.strip(b" "), self.expected)
            if not (right_token and scheme.lower() == b"bearer"):
                response = JSONResponse(
                    {"error": "unauthorized", "message": "Send Authorization: Bearer <the server's auth token>."},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="session-mcp"'},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# An idle connection between two requests is closed after this long: longer than HTTP clients keep an
# idle pooled connection (httpx's 5 s), so the client drops it first. At an equal timeout a busy server
# closed connections whose next request was already sent, resetting it (bench/http_load.py met it).
KEEP_ALIVE_SECONDS = 15
MAX_HEADER_BYTES = 16 * 1024  # request line and headers; longer ones get 400 (h11's default, stated here)


def read_deadlines(header_timeout: float, body_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol with read deadlines: a request's headers, then its body, in time.

    uvicorn bounds only the idle time between two requests (``timeout_keep_alive``). A client that
    opens a connection and sends nothing, or a header a byte at a time (slowloris), or a body it
    never finishes, would hold a socket (and a place under the connection limit) for ever. Each
    deadline runs from the moment that part of a request began: the connection, or its first byte
    after a previous answer; the connection is closed when it passes.
    """

    class ReadDeadlines(H11Protocol):
        deadline: asyncio.TimerHandle | None = None
        watched: str | None = None  # the part of a request the deadline is for

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.watch()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self.watch()

        def on_response_complete(self) -> None:
            self.stop_watching()
            super().on_response_complete()
            # Idle until the next request is uvicorn's keep-alive; a pipelined request already begun is ours.
            if self.reading() != "headers":
                self.watch()

        def connection_lost(self, exc: Exception | None) -> None:
            self.stop_watching()
            super().connection_lost(exc)

        def reading(self) -> str | None:
            """The part of a request being read: its headers, its body, or none (read whole, being answered)."""
            if self.cycle is None or self.cycle.response_complete:
                return "headers"
            return "body" if self.cycle.more_body else None

        def watch(self) -> None:
            """A deadline for the part of the request being read now, kept while that part lasts."""
            part = self.reading()
            if part == self.watched:
                return
            self.stop_watching()
            if part is not None:
                seconds = header_timeout if part == "headers" else body_timeout
                self.deadline = self.loop.call_later(seconds, self.expire, part, seconds)
                self.watched = part

        def stop_watching(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
            self.deadline = None
            self.watched = None

        def expire(self, part: str, seconds: float) -> None:
            if not self.transport.is_closing():
                logger.info("Closed a connection from %s: its request %s took over %g s.", self.client, part, seconds)
                self.transport.close()

    return ReadDeadlines


def http_server(server: MCPServer, settings: Settings) -> uvicorn.Server:
    """uvicorn serving the app, with bounds on its own sockets: read deadlines and a connection limit."""
    config = uvicorn.Config(
        http_app(server, settings),
        http=read_deadlines(settings.header_timeout, settings.body_timeout),
        lifespan="on",
        log_level=settings.log_level.lower(),
        access_log=False,
        # JSON lines: uvicorn's own loggers reach the root's handler instead of printing their own format.
        log_config=None if settings.log_format == "json" else LOGGING_CONFIG,
        # uvicorn counts the connection asking among those open: one more serves exactly max_connections.
        limit_concurrency=settings.max_connections + 1,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    return uvicorn.Server(config)


async def serve_http(server: MCPServer, settings: Settings, sock: socket.socket) -> None:
    """Serve on ``sock``, already listening: a port in use was refused before anything was announced."""
    if settings.host not in LOOPBACK_HOSTS:
        logger.warning(
            "Serving on %s: reachable beyond this machine.%s Requests must name an allowed host (%s).",
            settings.host,
            "" if settings.auth_token else " No SESSION_MCP_AUTH_TOKEN is set: anyone who can reach it can use it.",
            ", ".join(settings.allowed_hosts) or "loopback only: add --allowed-host NAME",
        )
    if settings.api_key is None and not settings.demo:
        logger.warning("No NAPSTER_API_KEY: every request must carry its own key in the X-Napster-Api-Key header.")
    uvicorn_server = http_server(server, settings)
    announce(started_line(settings, sock.getsockname()[1]), settings.log_format)
    await uvicorn_server.serve(sockets=[sock])


def started_line(settings: Settings, port: int) -> str:
    """Where the server listens and whether it asks for a bearer token (never the token itself)."""
    auth = (
        "bearer auth on (SESSION_MCP_AUTH_TOKEN)"
        if settings.auth_token is not None
        else "bearer auth off (set SESSION_MCP_AUTH_TOKEN to require one)"
    )
    return f"Streamable HTTP on http://{authority(settings.host, port)}/mcp, {auth}."
