"""JSON logs on stderr (``--log-format json``), never holding a secret; request ids over HTTP.

Every JSON line passes one scrubber: the server's key, bearer token and cursor secret, the key and
token of the HTTP request being served, and any password in a URL are masked, whatever logged
them (this package, the SDK, uvicorn). Over HTTP each request gets an id, the caller's
``X-Request-Id`` when well-formed, else a new one; it is echoed in the answer's header and put on
the lines logged while that request is handled, so a team can follow one request through a
proxy's logs and ours.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from session_mcp.config import Settings

MASK = "**********"
REQUEST_ID_HEADER = b"x-request-id"
WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]*):[^/\s@]*@")  # scheme://user:password@host
REQUEST_SECRET_HEADERS = (b"x-napster-api-key", b"authorization")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
request_secrets: ContextVar[tuple[str, ...]] = ContextVar("request_secrets", default=())

logger = logging.getLogger("session_mcp.http")


class JsonLines(logging.Formatter):
    """One JSON object per record, its secrets masked: time, level, logger, message, request_id."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in (*self.secrets, *request_secrets.get()):
            text = text.replace(secret, MASK)
        return URL_PASSWORD.sub(rf"\1:{MASK}@", text)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.scrub(message),
        }
        if (current := request_id.get()) is not None:
            entry["request_id"] = current
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(settings: Settings) -> None:
    """JSON lines on stderr (stdout belongs to the MCP protocol on stdio), the settings' secrets masked."""
    secrets = (settings.api_key, settings.auth_token, settings.cursor_secret)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines([s.get_secret_value() for s in secrets if s is not None]))
    logging.basicConfig(level=settings.log_level, handlers=[handler])  # a no-op where handlers exist (a test's)
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))


def announce(message: str, log_format: str) -> None:
    """A line the server always prints on stderr (where it listens): plain, or a JSON log object."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonLines)]
    if log_format != "json" or not handlers:
        print(f"session-mcp: {message}", file=sys.stderr)
        return
    record = logging.LogRecord("session_mcp", logging.INFO, __file__, 0, message, None, None)
    for handler in handlers:
        handler.handle(record)  # past the level filter: this line is never left out


class RequestIds:
    """ASGI middleware: an id per HTTP request, echoed as ``X-Request-Id``; one INFO line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1")
        current = given if WELL_FORMED_ID.fullmatch(given) else uuid.uuid4().hex
        secrets = [headers.get(name, b"").decode("latin-1") for name in REQUEST_SECRET_HEADERS]
        secrets += [value.partition(" ")[2] for value in secrets[1:]]  # the token of "Bearer <token>"
        id_token = request_id.set(current)
        secrets_token = request_secrets.set(tuple(s.strip() for s in secrets if len(s.strip()) >= 4))
        status: list[int] = []
        started = time.perf_counter()

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message = {**message, "headers": [*message.get("headers", []), (REQUEST_ID_HEADER, current.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            code = status[0] if status else "-"
            logger.info("%s %s %s in %.0f ms", scope.get("method", "-"), scope.get("path", "-"), code, elapsed)
            request_id.reset(id_token)
            request_secrets.reset(secrets_token)
