"""A hostile stand-in of the Companion API, served over real HTTP on 127.0.0.1.

Unlike the simulator, it answers whatever bytes a test scripts: any status, any headers, bodies
that are not JSON or not the documented shape, bodies that trickle a byte at a time or never
end. ``TricklingHeaders`` is a raw socket server for the one thing an ASGI app cannot do: send
the response headers a byte at a time. ``run_cli`` runs ``session-mcp`` in process against it.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import anyio
import jsonschema
from mcp.types import CallToolResult

from session_mcp.cli.main import main
from session_mcp.simulator import bind_loopback, serve_in_thread

LIST_PATH = "/public/sessions"
T0 = 1_710_000_000  # 2024-03-09T16:00:00Z
KEY = "sk-live-HOSTILE-KEY-0001"  # the key every test client uses: it must never show up in an answer
ERROR_BOUND = 1_000  # characters of any error message: one line of at most 1,000 (the README's promise)


@dataclass
class Answer:
    """One scripted answer: status, headers and body bytes, sent at once or trickled."""

    body: bytes = b"{}"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float | None = None  # seconds between single body bytes (chunked, no Content-Length)
    endless: bool = False  # with ``trickle``: the body never ends

    def __repr__(self) -> str:
        """Short, so that a falsifying example stays readable: status, headers, size and the start."""
        start = self.body[:200] + (b"..." if len(self.body) > 200 else b"")
        return f"Answer(status={self.status}, headers={self.headers}, {len(self.body):,} bytes: {start!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis prints a dataclass field by field otherwise


def json_answer(value: Any, status: int = 200) -> Answer:
    return Answer(json.dumps(value).encode(), status)


def normal_session(session_id: str, turns: int = 2) -> dict[str, Any]:
    """A well-formed closed session with a short transcript."""
    return {
        "id": session_id,
        "companionId": "comp_normal",
        "status": "closed",
        "createdAt": T0,
        "startedAt": T0 + 1,
        "closedAt": T0 + 61,
        "conversation": {
            "items": [
                {"role": "agent" if i % 2 == 0 else "user", "text": f"turn {i}", "timestamp": T0 + 2 + i}
                for i in range(turns)
            ]
        },
    }


def normal_page(ids: list[str]) -> dict[str, Any]:
    items = [{k: v for k, v in normal_session(i).items() if k != "conversation"} for i in ids]
    return {"items": items, "filteredCount": len(ids), "totalCount": len(ids), "pageIndex": 0, "pageSize": 20}


NORMAL_IDS = ["sess_normal_1", "sess_normal_2", "sess_normal_3"]


CONNECTED = {"token": "t", "connection": {"id": "sess_new"}}


class HostileUpstream:
    """An ASGI app answering ``GET /public/sessions`` with ``listing``, any session path with
    ``details[id]``, else ``detail``, and both connection POSTs with ``connection``. ``reset()``
    makes it a well-behaved API again."""

    def __init__(self) -> None:
        self.listing = Answer()
        self.detail = Answer()
        self.connection = Answer()
        self.details: dict[str, Answer] = {}
        self.paths: list[str] = []
        self.reset()

    def reset(self) -> None:
        self.listing = json_answer(normal_page(NORMAL_IDS))
        self.detail = json_answer(normal_session(NORMAL_IDS[0]))
        self.connection = json_answer(CONNECTED, 201)
        self.details = {i: json_answer(normal_session(i)) for i in NORMAL_IDS}
        self.paths = []

    def answer_for(self, path: str) -> Answer:
        if path == LIST_PATH:
            return self.listing
        if path.endswith("/connections"):  # POST /public/connections or /public/agents/{id}/connections
            return self.connection
        session_id = path.removeprefix(LIST_PATH + "/")
        return self.details.get(session_id, self.detail)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.paths.append(scope["path"])
        answer = self.answer_for(scope["path"])
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        if answer.trickle is None:
            headers.append((b"content-length", str(len(answer.body)).encode()))
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": answer.body})
            return
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        async with anyio.create_task_group() as group:

            async def stop_on_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(stop_on_disconnect)
            await _trickle(send, answer)
            group.cancel_scope.cancel()


async def _trickle(send: Any, answer: Answer) -> None:
    assert answer.trickle is not None
    position = 0
    while answer.endless or position < len(answer.body):
        await anyio.sleep(answer.trickle)
        byte = answer.body[position % len(answer.body) : position % len(answer.body) + 1] if answer.body else b" "
        await send({"type": "http.response.body", "body": byte, "more_body": True})
        position += 1
    await send({"type": "http.response.body", "body": b""})


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port (bound before the thread starts); its base URL."""
    with serve_in_thread(app) as url:
        yield url


class TricklingHeaders:
    """A raw HTTP server whose answers are a status line and then header bytes, one every ``interval``
    seconds, forever: what no read timeout alone can stop. A context manager giving its base URL."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.connections = 0
        self._stop = threading.Event()
        self._sock = bind_loopback()

    def __enter__(self) -> str:
        threading.Thread(target=self._accept, daemon=True).start()
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._sock.accept()
            except OSError:
                return  # closed by __exit__
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65_536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not self._stop.wait(self.interval):
                    connection.sendall(b"a")
            except OSError:
                return  # the client gave up: what the test wants


@dataclass
class CliRun:
    """What one in-process ``session-mcp`` run left: its exit status and its output, decoded."""

    status: int | str | None  # SystemExit's code; None when main returned
    stdout: str
    stderr: str  # with the message of ``sys.exit("...")``, as the interpreter would print it


def run_cli(*argv: str, base_url: str, key: str) -> CliRun:
    """``session-mcp ARGV`` in process against ``base_url``, writing to strict UTF-8 streams.

    The streams raise on a lone surrogate as a real UTF-8 terminal or pipe would; anything but
    ``SystemExit`` escaping ``main`` (a traceback) propagates to the test.
    """
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="strict", write_through=True)
    environment = {"NAPSTER_API_KEY": key, "NAPSTER_API_BASE_URL": base_url, "SESSION_MCP_TIMEOUT": "5"}
    status: int | str | None = None
    with mock.patch.dict(os.environ, environment), redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            main(list(argv))
        except SystemExit as exc:
            status = exc.code
    message = f"{status}\n" if isinstance(status, str) else ""
    return CliRun(status, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8") + message)


# -- what every answer must be ---------------------------------------------------------------------


def strict_json(text: str) -> Any:
    """``JSON.parse`` semantics: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def assert_clean(text: str) -> str:
    """Encodable as UTF-8 (a lone surrogate raises), no key, no traceback."""
    text.encode("utf-8")
    assert KEY not in text, text[:300]
    assert "Traceback" not in text, text[:300]
    return text


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


def assert_clear_message(message: str, *needles: str) -> str:
    """An error message: clean, bounded, more than the SDK's generic one, holding ``needles``."""
    assert_clean(message)
    assert message != "Internal server error"
    assert len(message) <= ERROR_BOUND, len(message)
    assert "\n" not in message, message[:300]
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def assert_clear_tool_error(result: CallToolResult, tool: str, *needles: str) -> str:
    assert result.is_error, text_of(result)[:300]
    text = assert_clear_message(text_of(result), *needles)
    assert text.strip() != f"Error executing tool {tool}", "a crash, not a handled error"
    return text


def assert_valid_structured(result: CallToolResult, schema: dict[str, Any] | None) -> dict[str, Any]:
    """A result whose text is clean and whose ``structuredContent`` is strict JSON fitting ``schema``."""
    assert not result.is_error, text_of(result)[:500]
    assert_clean(text_of(result))
    assert result.structured_content is not None and schema is not None
    strict_json(json.dumps(result.structured_content, ensure_ascii=False))
    jsonschema.validate(result.structured_content, schema)
    return result.structured_content
