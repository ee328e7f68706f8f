"""What a session store offers, whatever engine holds it: SQLite now, PostgreSQL beside it later.

A store is opened once (``SqliteStore(path)``) and read through ``SessionStore`` objects, each bound
to one tenant: ``CompanionClient.fingerprint``, a fingerprint of the API key and base URL. No method
takes a tenant: the one bound at ``for_tenant`` filters every query, so no caller can cross it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from session_mcp.companion.models import SessionDetail, SessionSummary


@dataclass(frozen=True)
class SyncState:
    """When the tenant was last synced (Unix seconds), the newest list time seen then, and whether the
    latest sync ended whole: only then may the next one stop where it meets what the store holds (an
    interrupted or partial one stored the newest sessions first and left older ones out)."""

    last_sync: float | None = None
    newest_seen: float | None = None
    complete: bool = False


@dataclass(frozen=True)
class StoreInfo:
    """One tenant's share of the store."""

    sessions: int
    turns: int
    pending: int  # open sessions waiting to be revisited
    oldest: float | None  # list times (creation, else start) of the oldest and newest stored sessions
    newest: float | None
    file_bytes: int  # the whole store file, every tenant's (the engine does not split it)
    sync: SyncState


@dataclass(frozen=True)
class SearchFilters:
    """Filters of a transcript search; ``None`` is "any"."""

    role: str | None = None
    companion_id: str | None = None
    statuses: tuple[str, ...] = ()  # any of these
    since: float | None = None  # session start (creation when it never started), Unix seconds
    until: float | None = None


@dataclass(frozen=True)
class SearchHit:
    """One matching turn, with its session's summary and a snippet (matches between ``MARKS``)."""

    session_id: str
    companion_id: str | None
    started_at: float | None
    status: str | None
    turn_index: int
    offset_seconds: float | None
    role: str
    snippet: str


@dataclass(frozen=True)
class SearchPage:
    """A page of hits; totals are exact over the whole result."""

    hits: list[SearchHit]
    total_hits: int
    total_sessions: int
    session_hits: dict[str, int]  # per session of this page: its hits in the whole result
    order: str  # "relevance", or "newest" when too many hits to rank (see RANK_LIMIT)
    next_offset: int | None


MARKS = ("«", "»")  # around matched words in snippets: rare in speech, unlike brackets or asterisks
RANK_LIMIT = 20_000  # above this many hits, ranking all of them costs more than a page is worth: newest first


class StoreError(Exception):
    """The store cannot be used (busy, damaged, newer than this program); the message says what to do."""


class SyncRunningError(StoreError):
    """Another sync of the same tenant holds the lock."""


def search_stopped(seconds: float) -> StoreError:
    """One search ran past its time bound (every engine bounds it): said with how to narrow it."""
    return StoreError(
        f"the search took longer than {seconds:g} s and was stopped: narrow it with rarer words, a phrase, "
        "since/until or companion_id"
    )


class SessionStore(Protocol):
    """One tenant's stored sessions. Every method is async; engines keep blocking work off the event loop."""

    tenant: str

    async def put_sessions(self, sessions: Sequence[SessionDetail]) -> None:
        """Store closed sessions (as validated on their way in), replacing any earlier copy."""

    async def get_session(self, session_id: str) -> SessionDetail | None:
        """A stored session, read back through the ingest boundary; ``None`` when not stored."""

    async def closed_ids(self, session_ids: Sequence[str]) -> set[str]:
        """Those of ``session_ids`` the store holds (every stored session is closed)."""

    async def set_pending(self, sessions: Sequence[SessionSummary], now: float) -> None:
        """Remember open sessions to revisit; a session stored since is dropped from the list."""

    async def pending(self) -> list[tuple[str, float]]:
        """Open sessions to revisit: (id, list time) each."""

    async def drop_pending(self, session_ids: Sequence[str]) -> None:
        """Stop revisiting these sessions."""

    def sync_lock(self) -> AbstractAsyncContextManager[None]:
        """Held for a whole sync of this tenant; raises ``SyncRunningError`` at once when another holds it."""

    async def sync_state(self) -> SyncState:
        """When this tenant was last synced."""

    async def set_sync_state(self, state: SyncState) -> None:
        """Record a finished sync."""

    async def info(self) -> StoreInfo:
        """Counts, times and size for ``store info``."""

    async def purge(self, before: float | None) -> int:
        """Delete this tenant's sessions older than ``before`` (list time), or all of them; returns how many."""

    async def search(self, query: str, filters: SearchFilters, offset: int, limit: int) -> SearchPage:
        """Ranked turns matching ``query`` (the user's syntax, ``store.search``); raises ``QueryError``."""
