"""``list_companions`` and ``list_agents``, and what else knows the project's directory.

The two tools read ``GET /public/companions`` and ``GET /public/agents`` one page at a time, and
add to each row its sessions and failed sessions of the last 7 days. The directory read here
also serves completions (``server/completions.py``) and the check that a ``companion_id`` filter
names a companion of the project (``refuse_unknown_companion``, when a filtered answer is empty).

What is read is remembered briefly (``CACHE_SECONDS``) per tenant (the request key's
fingerprint), in a memory that belongs to the server's own client: a completion per keystroke,
or ``list_agents`` right after ``list_companions``, costs no new request, and no tenant is ever
answered from another's reads.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.companion.client import CompanionClient, SessionFilters
from session_mcp.companion.directory import AgentPage, CompanionPage, DirectoryEntry
from session_mcp.companion.models import MAX_PAGE_SIZE
from session_mcp.errors import CompanionError, MissingEndpointError
from session_mcp.render.directory import (
    ACTIVITY_DAYS,
    Activity,
    AgentsResult,
    CompanionsResult,
    Counts,
    agent_rows,
    companion_rows,
    paging,
    render_agents,
    render_companions,
)
from session_mcp.render.lines import cell, quoted
from session_mcp.server.arguments import NO_BOOL, CompanionStatus, Tags
from session_mcp.server.backend import Backend
from session_mcp.server.toolkit import error_text, structured, tool_errors
from session_mcp.sessions.scan import scan_sessions
from session_mcp.sessions.window import Window

CACHE_SECONDS = 30.0
MAX_TENANTS = 256  # tenants one server remembers the directory of; the oldest is forgotten first
MAX_KNOWN = 5 * MAX_PAGE_SIZE  # companions or agents read for completions and the unknown-id check
KNOWN_SHOWN = 10  # known companions an unknown-id message names

T = TypeVar("T")

PageIndex = Annotated[int, Field(ge=0, le=1_000_000, description="From 0."), NO_BOOL]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Per page."), NO_BOOL]


@dataclass(frozen=True)
class Known:
    """Companions or agents of a project as read for completions and checks: ``complete`` when all of them."""

    entries: list[DirectoryEntry]
    complete: bool


class DirectoryMemory:
    """What was read of each tenant's directory lately: (fingerprint, what) -> (when, value)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], tuple[float, Any]] = {}

    async def get(self, client: CompanionClient, what: str, read: Callable[[], Awaitable[T]]) -> T:
        """The value ``read`` gave for this client's key within ``CACHE_SECONDS``, else a fresh one."""
        key = (client.fingerprint, what)
        now = time.monotonic()
        held = self._values.get(key)
        if held is not None and now - held[0] < CACHE_SECONDS:
            return held[1]  # type: ignore[no-any-return]
        value = await read()
        self._values.pop(key, None)
        self._values[key] = (time.monotonic(), value)
        while len(self._values) > MAX_TENANTS * 4:  # four kinds of value per tenant
            del self._values[next(iter(self._values))]
        return value

    def forget(self) -> None:
        """Read everything afresh next time (tests that change what upstream answers)."""
        self._values.clear()


_MEMORIES: weakref.WeakKeyDictionary[CompanionClient, DirectoryMemory] = weakref.WeakKeyDictionary()


def memory_of(server_client: CompanionClient) -> DirectoryMemory:
    """The directory memory of one server (its own client): shared by its tools and completions."""
    memory = _MEMORIES.get(server_client)
    if memory is None:
        memory = _MEMORIES[server_client] = DirectoryMemory()
    return memory


async def _read_all(read_page: Callable[[int], Awaitable[CompanionPage | AgentPage]]) -> Known:
    """Every row of a directory list, up to ``MAX_KNOWN``; each id once."""
    entries: list[DirectoryEntry] = []
    seen: set[str] = set()
    page_index = 0
    while len(entries) < MAX_KNOWN:
        page = await read_page(page_index)
        fresh = [e for e in page.items if e.id and e.id not in seen]
        seen.update(e.id for e in fresh if e.id)
        entries += fresh
        if page.items and not fresh:  # the same rows again (an API that ignores pageIndex): whole unknown
            return Known(entries[:MAX_KNOWN], complete=False)
        if not page.more_after(len(seen), MAX_PAGE_SIZE, len(page.items)):
            return Known(entries[:MAX_KNOWN], complete=True)
        page_index += 1
    return Known(entries[:MAX_KNOWN], complete=False)


class DirectoryReader:
    """The directory and the week's activity of one request's tenant, through the server's memory."""

    def __init__(self, server_client: CompanionClient, client: CompanionClient) -> None:
        self.memory = memory_of(server_client)
        self.client = client

    async def companions(self) -> Known | None:
        """The project's companions (``None``: this API has no companion list)."""
        return await self._known(
            "companions", lambda i: self.client.list_companions(page_index=i, page_size=MAX_PAGE_SIZE)
        )

    async def agents(self) -> Known | None:
        """The project's agents (``None``: this API has no agent list)."""
        return await self._known("agents", lambda i: self.client.list_agents(page_index=i, page_size=MAX_PAGE_SIZE))

    async def _known(self, what: str, read_page: Callable[[int], Awaitable[CompanionPage | AgentPage]]) -> Known | None:
        async def read() -> Known | None:
            try:
                return await _read_all(read_page)
            except MissingEndpointError:
                return None

        return await self.memory.get(self.client, what, read)

    async def recent_companion_ids(self) -> list[str]:
        """Companion ids of the newest sessions: what an API without a companion list still tells."""

        async def read() -> list[str]:
            page = await self.client.list_sessions(page_size=MAX_PAGE_SIZE)
            return sorted({s.companion_id for s in page.items[:MAX_PAGE_SIZE] if s.companion_id})

        return await self.memory.get(self.client, "recent-companions", read)

    async def activity(self, now: datetime, max_scan: int) -> tuple[Activity, Counts, Counts]:
        """Sessions and failures of the last 7 days, by companion and by agent: one bounded scan.

        TODO(store): once ``Backend.store_for(client)`` exists (helper A's store-backed reads),
        count from the store when there is one (``source="store"``) and scan only without one.
        """

        async def read() -> tuple[Activity, Counts, Counts]:
            window = Window(now - timedelta(days=ACTIVITY_DAYS), now)
            scan = await scan_sessions(self.client, SessionFilters(), window, max_scan=max_scan)
            companions: Counter[str] = Counter()
            agents: Counter[str] = Counter()
            companions_failed: Counter[str] = Counter()
            agents_failed: Counter[str] = Counter()
            for session in scan.sessions:
                failed = int(session.state == "failed")
                if session.companion_id:
                    companions[session.companion_id] += 1
                    companions_failed[session.companion_id] += failed
                if session.agent and session.agent.id:
                    agents[session.agent.id] += 1
                    agents_failed[session.agent.id] += failed
            activity = Activity(
                window_start=window.start or now,
                window_end=now,
                source="scan",
                sessions=len(scan.sessions),
                naming_agent=sum(agents.values()),
                complete=scan.complete,
            )
            return (
                activity,
                {k: (n, companions_failed[k]) for k, n in companions.items()},
                {k: (n, agents_failed[k]) for k, n in agents.items()},
            )

        return await self.memory.get(self.client, "activity", read)


class DirectoryTools(Backend):
    """The read-only tools over the project's companions and agents."""

    def reader(self, ctx: Context) -> DirectoryReader:
        return DirectoryReader(self.client, self.client_for(ctx))

    async def week(self, reader: DirectoryReader) -> tuple[Activity | None, str | None, Counts, Counts]:
        """The 7-day figures, or ``None`` and why: they add to a list, never sink it."""
        try:
            activity, companions, agents = await reader.activity(self.clock(), self.settings.max_scan)
        except CompanionError as exc:
            return None, error_text(str(exc)).rstrip("."), {}, {}
        return activity, None, companions, agents

    async def list_companions(
        self,
        ctx: Context,
        status: CompanionStatus = None,
        search: Annotated[str, Field(max_length=200, description="Free text")] = "",
        tags: Annotated[Tags, Field(description="Each 'key=value'.")] = None,
        page_index: PageIndex = 0,
        page_size: PageSize = 20,
    ) -> Annotated[CallToolResult, CompanionsResult]:
        """The project's companions: id, name, status, sessions and failures in the last 7 days. Their ids
        are the other tools' companion_id."""
        with tool_errors():
            reader = self.reader(ctx)
            try:
                page = await reader.client.list_companions(
                    page_index=page_index, page_size=page_size, statuses=status, search=search or None, tags=tags
                )
            except MissingEndpointError as exc:
                raise ToolError(str(exc)) from None
        activity, note, counts, _ = await self.week(reader)
        items = page.items[:page_size]
        result = CompanionsResult(
            companions=companion_rows(items, counts if activity else None),
            activity=activity,
            activity_note=note,
            **paging(page, len(items), page_index, page_size),
        )
        return structured(result, render_companions(result, self.settings.max_chars))

    async def list_agents(
        self, ctx: Context, page_index: PageIndex = 0, page_size: PageSize = 20
    ) -> Annotated[CallToolResult, AgentsResult]:
        """The project's agents, one line each: id, name, companion, channels, sessions and failures in the
        last 7 days."""
        with tool_errors():
            reader = self.reader(ctx)
            try:
                page = await reader.client.list_agents(page_index=page_index, page_size=page_size)
            except MissingEndpointError as exc:
                raise ToolError(str(exc)) from None
            try:
                companions = await reader.companions()
            except CompanionError:
                companions = None  # the names are a courtesy: the agents stand without them
        names = {c.id: c.label for c in (companions.entries if companions else []) if c.id and c.label}
        activity, note, _, counts = await self.week(reader)
        items = page.items[:page_size]
        result = AgentsResult(
            agents=agent_rows(items, counts if activity else None, names),
            activity=activity,
            activity_note=note,
            **paging(page, len(items), page_index, page_size),
        )
        return structured(result, render_agents(result, self.settings.max_chars))


async def check_companion_filter(backend: Backend, ctx: Context, companion_id: str, *, empty: bool) -> None:
    """Where a tool filtered by ``companion_id`` found nothing: refuse an id that is none of the project's."""
    if empty and companion_id:
        await refuse_unknown_companion(backend.client, backend.client_for(ctx), companion_id)


async def refuse_unknown_companion(server_client: CompanionClient, client: CompanionClient, companion_id: str) -> None:
    """A ``ToolError`` naming the known companions when ``companion_id`` is none of the project's.

    Called only when an answer filtered by ``companion_id`` came back empty (one companions
    request then, remembered briefly), so a filter that matches costs nothing. Says nothing
    when it cannot be sure: no companion list on this API, a list cut at ``MAX_KNOWN``, an
    empty list, or an error reading it.
    """
    if not companion_id:
        return
    try:
        known = await DirectoryReader(server_client, client).companions()
    except CompanionError:
        return
    if known is None or not known.complete or not known.entries:
        return
    if any(entry.id == companion_id for entry in known.entries):
        return
    raise ToolError(error_text(unknown_companion_text(companion_id, known.entries)))


def unknown_companion_text(companion_id: str, entries: Sequence[DirectoryEntry]) -> str:
    """``companion_id`` is not the project's; the first ``KNOWN_SHOWN`` companions by name."""
    return (
        f"No companion {quoted(companion_id, 80)} in this project, so nothing can match companion_id. "
        f"Its companions: {known_list(entries, 'list_companions')}."
    )


def known_list(entries: Sequence[DirectoryEntry], tool: str) -> str:
    """The first ``KNOWN_SHOWN`` entries by name, ``id (name)``, and how many more ``tool`` lists."""
    ordered = sorted(entries, key=lambda e: ((e.label or "").casefold(), e.id or ""))
    shown = ", ".join(
        f"{cell(entry.id)} ({cell(entry.label, 40)})" if entry.label else cell(entry.id)
        for entry in ordered[:KNOWN_SHOWN]
    )
    more = f", and {len(entries) - KNOWN_SHOWN} more ({tool} lists them)" if len(entries) > KNOWN_SHOWN else ""
    return shown + more


async def known_agents_note(server_client: CompanionClient, client: CompanionClient) -> str:
    """`` Its agents: ...`` for an agent id the API did not find; empty when they cannot be listed."""
    try:
        known = await DirectoryReader(server_client, client).agents()
    except CompanionError:
        return ""
    if known is None or not known.entries:
        return ""
    return f" This project's agents: {known_list(known.entries, 'list_agents')}."
