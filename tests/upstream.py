"""The one fake of the Companion API, served over real HTTP on 127.0.0.1: it answers what a test scripts.

Unlike the simulator, it sends whatever a test gives it: any status, any headers, bodies that are
not JSON or not the documented shape (a list page of 20,000 rows for a page of 5, megabyte ids, a
session nested too deep to parse), bodies that trickle a byte at a time or never end.
``TricklingHeaders`` is a raw socket server for the one thing an ASGI app cannot do: send the
response headers a byte at a time.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio

from session_mcp.simulator import bind_loopback

LIST_PATH = "/public/sessions"
COMPANIONS_PATH = "/public/companions"
AGENTS_PATH = "/public/agents"
T0 = 1_710_000_000  # 2024-03-09T16:00:00Z
CONNECTED = {"token": "t", "connection": {"id": "sess_new"}}
NOT_FOUND = b'{"code": "SessionNotFound", "description": "Session not found"}'

Body = dict[str, Any] | list[Any] | bytes


def encode(body: Body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


@dataclass
class Answer:
    """One scripted answer: status, headers and body, sent at once or trickled.

    The body is the exact bytes, or a JSON value encoded (UTF-8, not ASCII-escaped) when it is sent,
    so a test may change a session it serves between two requests.
    """

    body: Body = b"{}"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float | None = None  # seconds between single body bytes (chunked, no Content-Length)
    endless: bool = False  # with ``trickle``: the body never ends

    def __repr__(self) -> str:
        """Short, so that a falsifying example stays readable: status, headers, size and the start."""
        data = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        start = data[:200] + (b"..." if len(data) > 200 else b"")
        return f"Answer(status={self.status}, headers={self.headers}, {len(data):,} bytes: {start!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis prints a dataclass field by field otherwise


def json_answer(value: Any, status: int = 200) -> Answer:
    """``value`` as ``json.dumps`` writes it: non-ASCII escaped, NaN and Infinity as JavaScript would not."""
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
NORMAL_COMPANIONS = {"items": [{"id": "comp_normal", "name": "Normal"}], "filteredCount": 1, "totalCount": 1}
NORMAL_AGENT = {"id": "agent_normal", "name": "Agent", "companionId": "comp_normal", "channels": ["webrtc"]}
NORMAL_AGENTS = {"items": [NORMAL_AGENT]}


def session(session_id: str, *texts: str, **fields: Any) -> dict[str, Any]:
    """A closed session whose turns alternate user and agent, one second apart."""
    items = [
        {"role": "user" if i % 2 == 0 else "agent", "text": text, "timestamp": 1_790_000_001 + i}
        for i, text in enumerate(texts)
    ]
    base: dict[str, Any] = {
        "id": session_id,
        "companionId": "comp_support",
        "createdAt": 1_790_000_000,
        "startedAt": 1_790_000_000,
        "closedAt": 1_790_000_100,
        "status": "closed",
        "conversation": {"items": items},
    }
    return base | fields


def nested(depth: int) -> bytes:
    """A JSON value nested ``depth`` arrays deep: more than any parser's recursion allows."""
    return b"[" * depth + b"]" * depth


class HostileUpstream:
    """An ASGI app: ``GET /public/sessions`` answers ``listing`` (whole, or page by page when
    ``paged``), a session path ``details[id]``, else ``detail``, both connection POSTs
    ``connection``, and the directory lists ``companions`` and ``agents``. ``reset()`` makes it a
    well-behaved API of three sessions again, ``clear()`` one with no sessions (an unknown id is
    a 404); ``add()`` serves sessions by id and lists them.
    """

    def __init__(self) -> None:
        self.listing = Answer()
        self.detail = Answer()
        self.connection = Answer()
        self.companions = Answer()
        self.agents = Answer()
        self.details: dict[str, Answer] = {}
        self.paged = False  # serve ``listing`` page by page (pageIndex, pageSize), not whole every time
        self.max_page_size: int | None = None  # with ``paged``: fewer rows than asked, without saying so
        self.paths: list[str] = []
        self.reset()

    def reset(self) -> None:
        """Three normal sessions, listed; any other id answers the first one."""
        self.clear()
        self.listing = json_answer(normal_page(NORMAL_IDS))
        self.detail = json_answer(normal_session(NORMAL_IDS[0]))
        self.details = {i: json_answer(normal_session(i)) for i in NORMAL_IDS}

    def clear(self) -> None:
        """No sessions: an empty list page, and a 404 for any id."""
        self.listing = Answer({"items": []})
        self.detail = Answer(NOT_FOUND, 404)
        self.connection = json_answer(CONNECTED, 201)
        self.companions = json_answer(NORMAL_COMPANIONS)
        self.agents = json_answer(NORMAL_AGENTS)
        self.details = {}
        self.paged = False
        self.max_page_size = None
        self.paths = []

    def add(self, *sessions: dict[str, Any], page: bool = True) -> None:
        """Serve ``sessions`` by id, and (unless ``page`` is false) list them, transcripts left out."""
        for one in sessions:
            self.details[one["id"]] = Answer(one)
        if page:
            items = [{k: v for k, v in s.items() if k != "conversation"} for s in sessions]
            self.listing = Answer({"items": items, "filteredCount": len(items), "totalCount": len(items)})

    def answer_for(self, path: str, query: dict[str, str]) -> Answer:
        if path == LIST_PATH:
            return self.page_of(self.listing, query) if self.paged else self.listing
        if path.endswith("/connections"):  # POST /public/connections or /public/agents/{id}/connections
            return self.connection
        if path in (COMPANIONS_PATH, AGENTS_PATH):
            return self.companions if path == COMPANIONS_PATH else self.agents
        session_id = path.removeprefix(LIST_PATH + "/")
        return self.details.get(session_id, self.detail)

    def page_of(self, listing: Answer, query: dict[str, str]) -> Answer:
        """The page ``query`` asks for of a listing that holds every row; the counts a test gave stand, true or not."""
        body = listing.body
        assert isinstance(body, dict), "a paged listing is a JSON object with its rows"
        size = int(query["pageSize"])
        size = min(size, self.max_page_size) if self.max_page_size else size
        start = int(query["pageIndex"]) * size
        total = body.get("totalCount", len(body["items"]))
        page = {**body, "items": body["items"][start : start + size], "totalCount": total}
        return Answer(page, listing.status, listing.headers)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.paths.append(scope["path"])
        answer = self.answer_for(scope["path"], dict(parse_qsl(scope["query_string"].decode("latin-1"))))
        body = encode(answer.body)
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        if answer.trickle is None:
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": answer.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        async with anyio.create_task_group() as group:

            async def stop_on_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(stop_on_disconnect)
            await _trickle(send, body, answer.trickle, answer.endless)
            group.cancel_scope.cancel()


async def _trickle(send: Any, body: bytes, interval: float, endless: bool) -> None:
    position = 0
    while endless or position < len(body):
        await anyio.sleep(interval)
        byte = body[position % len(body) : position % len(body) + 1] if body else b" "
        await send({"type": "http.response.body", "body": byte, "more_body": True})
        position += 1
    await send({"type": "http.response.body", "body": b""})


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
