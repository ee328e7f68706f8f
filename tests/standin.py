"""A hostile stand-in of the Companion API: it answers whatever bodies a test gives it.

Real HTTP on 127.0.0.1 (``session_mcp.simulator.bind_loopback`` and ``make_server``), so the
client reads the bytes exactly as a misbehaving upstream or proxy would send them: a list page of
20,000 rows for a page of 5, megabyte ids and tags, a session nested too deep to parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from session_mcp.simulator import serve_in_thread

Body = dict[str, Any] | list[Any] | bytes


def encode(body: Body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


@dataclass
class StandIn:
    """The bodies to serve: one list page for every list request, one body per session id."""

    page: Body = field(default_factory=lambda: {"items": []})
    page_status: int = 200
    paged: bool = False  # serve ``page`` page by page (pageIndex, pageSize) rather than whole every time
    sessions: dict[str, Body] = field(default_factory=dict)
    connection: Body = field(default_factory=lambda: {"token": "t", "connection": {"id": "sess_new"}})

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route("/public/sessions", self._list, methods=["GET"]),
                Route("/public/sessions/{session_id:path}", self._get, methods=["GET"]),
                Route("/public/connections", self._connect, methods=["POST"]),
            ]
        )

    def add(self, *sessions: dict[str, Any], page: bool = True) -> None:
        """Serve ``sessions`` by id, and (unless ``page`` is false) list them, transcripts left out."""
        for session in sessions:
            self.sessions[session["id"]] = session
        if page:
            items = [{k: v for k, v in s.items() if k != "conversation"} for s in sessions]
            self.page = {"items": items, "filteredCount": len(items), "totalCount": len(items)}

    async def _list(self, request: Request) -> Response:
        page = self.page
        if self.paged and isinstance(page, dict):
            size = int(request.query_params["pageSize"])
            start = int(request.query_params["pageIndex"]) * size
            total = page.get("totalCount", len(page["items"]))  # a count a test gives stands, true or not
            page = {**page, "items": page["items"][start : start + size], "totalCount": total}
        return Response(encode(page), status_code=self.page_status, media_type="application/json")

    async def _get(self, request: Request) -> Response:
        body = self.sessions.get(request.path_params["session_id"])
        if body is None:
            return Response(b'{"code": "SessionNotFound", "description": "Session not found"}', status_code=404)
        return Response(encode(body), media_type="application/json")

    async def _connect(self, request: Request) -> Response:
        return Response(encode(self.connection), status_code=201, media_type="application/json")


class Switch:
    """An ASGI app forwarding to whichever stand-in the current test installed."""

    def __init__(self) -> None:
        self.target = StandIn()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target.app(scope, receive, send)


@contextmanager
def serve_switch() -> Iterator[tuple[Switch, str]]:
    """(switch, base URL) of a stand-in server on a free loopback port, for as long as the block runs."""
    switch = Switch()
    with serve_in_thread(switch) as url:
        yield switch, url


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
