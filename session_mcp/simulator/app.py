"""The Companion API sessions endpoints as a Starlette app, with fault injection.

It serves the three documented endpoints with the documented shapes and status codes, and it
records every request it receives, so tests can assert what reached "upstream".
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from session_mcp.companion.models import (
    CHANNEL_TYPES,
    AgentConnectionRequest,
    ConnectionRequest,
    SessionOptions,
    decode_tags_query,
)
from session_mcp.simulator.data import AGENTS, COMPANIONS, DEFAULT_SESSION_COUNT, day_anchor, generate_sessions
from session_mcp.simulator.directory import agent_rows, companion_rows
from session_mcp.simulator.faults_qa import add_qa_faults

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
CONNECTION_INTERVAL_SECONDS = 5
LIVE_SESSION_LIMIT = 5
DETAIL_ONLY = ("conversation", "functionMetrics", "functionStates")  # fields a list item never carries

FaultKind = Literal["status", "malformed_json", "bad_schema", "huge_body", "bad_encoding", "delay"]
# The order the list is served in: the documented guess (newest first) or an upstream that breaks it.
ListOrder = Literal["newest_first", "oldest_first", "shuffled", "pages_shuffled"]
LIST_ORDERS: tuple[ListOrder, ...] = ("newest_first", "oldest_first", "shuffled", "pages_shuffled")


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next ``times`` matching requests.

    ``status`` answers with that code (and the error body unless ``with_body`` is false);
    ``malformed_json`` answers 200 with a body that is not JSON; ``bad_schema`` answers 200 with
    JSON that breaks the documented shape; ``huge_body`` streams ``size`` bytes (with or without
    a Content-Length); ``bad_encoding`` claims gzip for bytes that are not; ``delay`` waits
    ``seconds`` before answering normally.
    """

    kind: FaultKind = "status"
    status: int = 500
    times: int = 1
    path_prefix: str = "/public/"
    with_body: bool = True
    code: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    size: int = 50 * 1024 * 1024
    declare_length: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    raw_path: str
    query: str
    api_key: str | None


@dataclass
class Project:
    """The sessions of the project one API key belongs to."""

    sessions: dict[str, dict[str, Any]]
    last_connection_at: float | None = None
    opened_via_api: set[str] = field(default_factory=set)
    connection_bodies: list[dict[str, Any]] = field(default_factory=list)  # each accepted one, as sent
    # GET /public/companions and /public/agents, as the wire shows them: a test may add to one project's.
    companions: list[dict[str, Any]] = field(default_factory=companion_rows)
    agents: list[dict[str, Any]] = field(default_factory=agent_rows)

    def newest_first(self) -> list[dict[str, Any]]:
        return sorted(self.sessions.values(), key=lambda s: s.get("createdAt") or 0, reverse=True)


@dataclass
class Simulator:
    """A local Companion API. ``app`` is the ASGI application.

    ``api_keys`` maps each accepted key to the seed of its project's data: two keys with
    different seeds see different sessions, as two projects would. The data ends at ``anchor``
    (Unix seconds), by default the start of the ``clock``'s UTC day: the same all day long.
    """

    api_keys: Mapping[str, int] = field(default_factory=lambda: {"demo": 7})
    session_count: int = DEFAULT_SESSION_COUNT
    anchor: int | None = None
    latency: float = 0.0
    # Quirks an upstream might have, to test that the client copes with them.
    max_page_size: int = MAX_PAGE_SIZE
    echo_page_size: bool = False  # report the pageSize asked for, not the one served
    send_counts: bool = True
    honour_page_index: bool = True
    directory: bool = True  # serve /public/companions and /public/agents; False: an older API (404)
    # "oldest_first" reverses the list, "shuffled" mixes every item, "pages_shuffled" serves whole
    # pages (each sorted) in a mixed order; ``order_seed`` fixes the mix.
    list_order: ListOrder = "newest_first"
    order_seed: int = 0
    clock: Callable[[], float] = time.time
    requests: deque[RecordedRequest] = field(default_factory=lambda: deque(maxlen=10_000))
    faults: list[Fault] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0  # most requests answered at once: what concurrency bounds are checked against
    # Per key, session id -> the QA checks a review must flag (faults_qa); never served.
    expected_findings: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        anchor = self.anchor if self.anchor is not None else day_anchor(self.clock())
        self.projects = {}
        for key, seed in self.api_keys.items():
            sessions = generate_sessions(seed, self.session_count, anchor)
            self.expected_findings[key] = add_qa_faults(sessions, seed)
            self.projects[key] = Project({s["id"]: s for s in sessions})
        self.app = Starlette(
            routes=[
                Route("/public/sessions", self._list_sessions, methods=["GET"]),
                Route("/public/sessions/{session_id:path}", self._get_session, methods=["GET"]),
                Route("/public/connections", self._create_connection, methods=["POST"]),
                Route("/public/agents/{agent_id}/connections", self._create_agent_connection, methods=["POST"]),
                Route("/public/companions", self._list_companions, methods=["GET"]),
                Route("/public/agents", self._list_agents, methods=["GET"]),
            ],
            middleware=[Middleware(_Gate, simulator=self)],
        )

    def inject(self, fault: Fault) -> None:
        """Apply ``fault`` to the next ``fault.times`` matching requests."""
        self.faults.append(fault)

    def fail_next(self, status: int, times: int = 1, **options: Any) -> None:
        self.inject(Fault(kind="status", status=status, times=times, **options))

    def sessions_of(self, api_key: str = "demo") -> list[dict[str, Any]]:
        """The project's sessions, newest first, as the wire shows them."""
        return self.projects[api_key].newest_first()

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path_prefix):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    # -- endpoints -------------------------------------------------------------------------

    async def _list_sessions(self, request: Request) -> Response:
        project = request.state.project
        query = request.query_params
        try:
            page_index = _int_param(query.get("pageIndex"), 0, "pageIndex", minimum=0)
            page_size = _int_param(query.get("pageSize"), DEFAULT_PAGE_SIZE, "pageSize", minimum=1)
            tags = decode_tags_query(query["tags"]) if "tags" in query else {}
        except ValueError as exc:
            return error(400, None, str(exc))
        asked_size = page_size
        page_size = min(page_size, self.max_page_size)
        companion_id = query.get("companionId")
        external_client_id = query.get("externalClientId")
        search = (query.get("search") or "").casefold()
        matches = project.newest_first()
        if companion_id is not None or external_client_id is not None or tags or search:  # else no pass over them
            matches = [
                s
                for s in matches
                if (companion_id is None or s.get("companionId") == companion_id)
                and (external_client_id is None or s.get("externalClientId") == external_client_id)
                and all((s.get("tags") or {}).get(k) == v for k, v in tags.items())
                and (not search or search in _searchable(s))
            ]
        start = page_index * page_size if self.honour_page_index else 0
        items = [
            {k: v for k, v in s.items() if k not in DETAIL_ONLY}
            for s in self._in_list_order(matches, page_size)[start : start + page_size]
        ]
        body: dict[str, Any] = {"items": items, "pageIndex": page_index}
        body["pageSize"] = asked_size if self.echo_page_size else page_size
        if self.send_counts:
            body |= {"filteredCount": len(matches), "totalCount": len(project.sessions)}
        return JSONResponse(body)

    async def _list_companions(self, request: Request) -> Response:
        """The project's companions, filtered by ``statuses`` (repeated or comma-separated), ``search``, ``tags``."""
        query = request.query_params
        try:
            tags = decode_tags_query(query["tags"]) if "tags" in query else {}
        except ValueError as exc:
            return error(400, None, str(exc))
        statuses = {s for value in query.getlist("statuses") for s in value.split(",") if s}
        search = (query.get("search") or "").casefold()
        rows = [
            c
            for c in request.state.project.companions
            if (not statuses or c.get("status") in statuses)
            and all((c.get("tags") or {}).get(k) == v for k, v in tags.items())
            and (not search or search in " ".join(str(v) for v in c.values() if isinstance(v, str)).casefold())
        ]
        return self._directory_page(request, rows, len(request.state.project.companions))

    async def _list_agents(self, request: Request) -> Response:
        return self._directory_page(request, request.state.project.agents, len(request.state.project.agents))

    def _directory_page(self, request: Request, rows: list[dict[str, Any]], total: int) -> Response:
        """One page of a directory list, paged and counted like the sessions; 404 for an older API."""
        if not self.directory:
            return Response("Not Found", status_code=404, media_type="text/plain")
        try:
            page_index = _int_param(request.query_params.get("pageIndex"), 0, "pageIndex", minimum=0)
            page_size = min(
                _int_param(request.query_params.get("pageSize"), DEFAULT_PAGE_SIZE, "pageSize", minimum=1),
                self.max_page_size,
            )
        except ValueError as exc:
            return error(400, None, str(exc))
        start = page_index * page_size
        body: dict[str, Any] = {"items": rows[start : start + page_size], "pageIndex": page_index}
        body["pageSize"] = page_size
        if self.send_counts:
            body |= {"filteredCount": len(rows), "totalCount": total}
        return JSONResponse(body)

    def _in_list_order(self, matches: list[dict[str, Any]], page_size: int) -> list[dict[str, Any]]:
        """``matches`` (newest first) in the order of the ``list_order`` quirk."""
        mixer = random.Random(self.order_seed)
        if self.list_order == "oldest_first":
            return matches[::-1]
        if self.list_order == "shuffled":
            mixed = list(matches)
            mixer.shuffle(mixed)
            return mixed
        if self.list_order == "pages_shuffled":
            pages = [matches[i : i + page_size] for i in range(0, len(matches), page_size)]
            mixer.shuffle(pages)
            return [item for page in pages for item in page]
        return matches

    async def _get_session(self, request: Request) -> Response:
        session = request.state.project.sessions.get(request.path_params["session_id"])
        if session is None:
            return error(404, "SessionNotFound", "Session not found")
        return JSONResponse(session)

    async def _create_connection(self, request: Request) -> Response:
        project: Project = request.state.project
        refused = self._rate_limit(project)
        if refused is not None:
            return refused
        try:
            sent = json.loads(await request.body())
            body = ConnectionRequest.model_validate(sent)
        except (ValueError, ValidationError):
            return error(400, None, "Invalid request body")
        if body.companion_id not in {c.id for c in COMPANIONS}:
            return error(400, None, "Companion not found or not ready")
        if not body.provider_config.voice_id.isascii() or not body.provider_config.voice_id.isidentifier():
            return error(400, None, "Invalid voiceId")
        companion = next(c for c in COMPANIONS if c.id == body.companion_id)
        session = {
            "companionId": body.companion_id,
            "functions": body.functions or list(companion.functions),
            "knowledgeBaseId": body.knowledge_base_id or companion.knowledge_base_id,
            "faqIds": body.faq_collections or list(companion.faq_ids),
            "sessionType": "webrtc",
        }
        return self._open(project, session, body, sent)

    async def _create_agent_connection(self, request: Request) -> Response:
        project: Project = request.state.project
        refused = self._rate_limit(project)
        if refused is not None:
            return refused
        companion = AGENTS.get(request.path_params["agent_id"])
        if companion is None:
            return error(404, "AgentNotFound", "Agent not found")  # the code is our guess: none is documented
        try:
            sent = json.loads(await request.body())
            channel_type = sent.get("channelType") if isinstance(sent, dict) else None
            if channel_type not in CHANNEL_TYPES:
                return error(400, None, "channelType must be webrtc or websocket")
            body = AgentConnectionRequest.model_validate(sent)
        except (ValueError, ValidationError):
            return error(400, None, "Invalid request body")
        session = {
            "companionId": companion.id,
            "agent": {"id": request.path_params["agent_id"], "name": companion.name},
            "functions": list(companion.functions),
            "knowledgeBaseId": companion.knowledge_base_id,
            "faqIds": list(companion.faq_ids),
            "sessionType": body.channel_type,
        }
        return self._open(project, session, body, sent)

    def _rate_limit(self, project: Project) -> Response | None:
        """The 429 for a connection request within 5 s of the last one, on either endpoint; else counts it."""
        now = self.clock()
        if project.last_connection_at is not None and now - project.last_connection_at < CONNECTION_INTERVAL_SECONDS:
            wait = CONNECTION_INTERVAL_SECONDS - (now - project.last_connection_at)
            return error(
                429,
                "RequestRateLimitExceeded",
                "Rate limit exceeded",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        project.last_connection_at = now
        return None

    def _open(self, project: Project, session: dict[str, Any], body: SessionOptions, sent: Any) -> Response:
        """A new pending session, unless its transport already has its 5 live sessions."""
        transport = session["sessionType"]
        live = sum(
            1
            for i in project.opened_via_api
            if project.sessions[i].get("status") in ("pending", "started")
            and project.sessions[i].get("sessionType") == transport
        )
        if live >= LIVE_SESSION_LIMIT:
            return error(409, "ConcurrentSessionLimitReached", "Concurrent session limit reached")
        session_id = "sess_" + secrets.token_hex(8)
        project.sessions[session_id] = {
            "id": session_id,
            **session,
            "externalClientId": body.external_client_id,
            "tags": body.tags,
            "createdAt": int(self.clock()),
            "status": "pending",
        }
        project.opened_via_api.add(session_id)
        project.connection_bodies.append(sent)
        token = "eyJhbGciOiJIUzI1NiJ9." + secrets.token_urlsafe(24) + "." + secrets.token_urlsafe(16)
        return JSONResponse({"token": token, "connection": {"id": session_id}}, status_code=201)


class _Gate:
    """ASGI middleware: records the request, checks the key, applies latency and faults."""

    def __init__(self, app: Any, simulator: Simulator) -> None:
        self.app = app
        self.simulator = simulator

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        simulator = self.simulator
        simulator.in_flight += 1
        simulator.peak_in_flight = max(simulator.peak_in_flight, simulator.in_flight)
        try:
            await self._answer(scope, receive, send)
        finally:
            simulator.in_flight -= 1

    async def _answer(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope)
        simulator = self.simulator
        api_key = request.headers.get("x-api-key")
        raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        simulator.requests.append(RecordedRequest(request.method, raw_path, request.url.query, api_key))
        if simulator.latency:
            await anyio.sleep(simulator.latency)
        project = simulator.projects.get(api_key or "")
        if project is None:
            await error(401, "Unauthorized", "Missing or invalid API key")(scope, receive, send)
            return
        fault = simulator.take_fault(scope["path"])
        if fault is not None:
            if fault.kind == "delay":
                await anyio.sleep(fault.seconds)
            else:
                await _fault_response(fault)(scope, receive, send)
                return
        scope.setdefault("state", {})["project"] = project
        await self.app(scope, receive, send)


def _fault_response(fault: Fault) -> Response:
    if fault.kind == "malformed_json":
        return Response(b'{"items": [{"id": "sess_1", "companionId": ', media_type="application/json")
    if fault.kind == "bad_schema":
        return JSONResponse({"id": 12345, "createdAt": "yesterday", "items": "not a list", "conversation": []})
    if fault.kind == "bad_encoding":
        return Response(b'{"items": []}', media_type="application/json", headers={"Content-Encoding": "gzip"})
    if fault.kind == "huge_body":
        return _huge_response(fault.size, fault.declare_length)
    headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else None
    if not fault.with_body:
        return Response(b"", status_code=fault.status, headers=headers)
    return error(fault.status, fault.code, f"Injected fault {fault.status}", headers=headers)


def _huge_response(size: int, declare_length: bool) -> Response:
    chunk = b" " * 65_536
    chunks = -(-size // len(chunk))
    head, tail = b'{"items": [', b"]}"

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(chunks):
            yield chunk
        yield tail

    length = len(head) + chunks * len(chunk) + len(tail)
    headers = {"Content-Length": str(length)} if declare_length else None
    return StreamingResponse(body(), media_type="application/json", headers=headers)


def error(status: int, code: str | None, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The documented error body."""
    return JSONResponse(
        {"code": code, "description": description, "type": "failure", "numericType": 0},
        status_code=status,
        headers=headers,
    )


def _int_param(raw: str | None, default: int, name: str, *, minimum: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}")
    return value


def _searchable(session: dict[str, Any]) -> str:
    """The text free-text search looks in: ids, tags and the transcript."""
    parts = [session.get("id"), session.get("companionId"), session.get("externalClientId")]
    parts += [f"{k}:{v}" for k, v in (session.get("tags") or {}).items()]
    parts += [item.get("text") for item in (session.get("conversation") or {}).get("items", [])]
    return "\n".join(p for p in parts if p).casefold()
