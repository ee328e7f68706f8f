"""What a session store offers, whatever engine holds it: SQLite (``sqlite``) or PostgreSQL (``postgres``).

A store is opened once (``open.open_store(location)``: a file or a ``postgresql://`` URL) and read
through ``SessionStore`` objects, each bound to one tenant: ``CompanionClient.fingerprint``, a
fingerprint of the API key and base URL. No method takes a tenant: the one bound at ``for_tenant``
filters every query, so no caller can cross it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

from session_mcp.companion.models import SessionDetail, SessionSummary


@dataclass(frozen=True)
class SyncState:
    """When the tenant was last synced (Unix seconds), the newest list time seen then, and whether the
    latest sync ended whole: only then may the next one stop where it meets what the store holds (an
    interrupted or partial one stored the newest sessions first and left older ones out)."""

    last_sync: float | None = None
    newest_seen: float | None = None
    complete: bool = False
    # How far back the store is whole: the oldest list time a complete sync listed down to (``since``,
    # or retention's horizon), ``None`` when it listed to the end of the list (the whole history).
    reached: float | None = None

    def covers(self, start: float | None) -> bool:
        """Whether every session listed from ``start`` on (``None``: the whole history) is stored or pending."""
        if not self.complete:
            return False
        return self.reached is None or (start is not None and start >= self.reached)


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
    external_client_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()  # all of these key=value pairs
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


@dataclass(frozen=True)
class ToolOutcome:
    """One WebSocket tool connection of a session, as statistics count it."""

    name: str | None
    state: str | None
    code: str | None = None
    message: str | None = None
    at: float | None = None  # when it ended, else started (Unix seconds)


@dataclass(frozen=True)
class Figures:
    """What statistics need of a transcript, computed once when the session is stored: no body read later."""

    turns: int
    user_turns: int
    tools: tuple[ToolOutcome, ...] = ()
    # How the session ended (``sessions.outcome``: its value and the rule that decided, not the quote,
    # which redaction changes), computed above the store and given to ``put_sessions``. ``None``:
    # stored before outcomes were (or given none): the answers call it unknown until it is stored again.
    outcome: str | None = None
    signal: str | None = None


UNKNOWN_OUTCOME = "unknown"  # what a row without a stored outcome (an open session, an older row) counts as
StoredOutcome = tuple[str, str]  # (outcome, signal) of a session, as ``put_sessions`` takes them


def figures_of(session: SessionDetail, outcome: StoredOutcome | None = None) -> Figures:
    """The transcript figures of ``session``, with its ``outcome`` when given (pure: every engine stores the same)."""
    tools = tuple(
        ToolOutcome(
            name=tool.name,
            state=tool.state,
            code=tool.error.code if tool.error else None,
            message=tool.error.message if tool.error else None,
            at=_seconds(tool.ended or tool.started),
        )
        for tool in session.tools
    )
    ended, signal = outcome if outcome is not None else (None, None)
    return Figures(len(session.turns), sum(1 for t in session.turns if t.role == "user"), tools, ended, signal)


def _seconds(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


@dataclass(frozen=True)
class StoredQuery:
    """Which stored sessions (closed, and open ones by their list row), newest first by start time.

    Every filter ``None`` or empty is "any"; value sets are compared casefolded (``Criteria``).
    ``after`` is a keyset position: (start time, id) of the last row of the previous page.
    """

    since: float | None = None  # start time (creation when it never started), Unix seconds
    until: float | None = None
    companion_id: str | None = None
    external_client_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()  # all of these key=value pairs
    statuses: frozenset[str] = frozenset()
    close_reasons: frozenset[str] = frozenset()
    session_types: frozenset[str] = frozenset()
    modalities: frozenset[str] = frozenset()
    outcomes: frozenset[str] = frozenset()  # any of these; a row without a stored outcome is "unknown"
    after: tuple[float, str] | None = None
    limit: int | None = None
    with_figures: bool = False


@dataclass(frozen=True)
class StoredRow:
    """One stored session's list row, and its transcript figures (closed sessions, when asked)."""

    summary: SessionSummary
    figures: Figures | None = None


@dataclass(frozen=True)
class StoredPage:
    """Rows of a ``StoredQuery`` and the exact number of sessions matching it (``after`` and ``limit`` aside)."""

    rows: list[StoredRow] = field(default_factory=list)
    total: int = 0


class Listed(NamedTuple):
    """What a QA report shows of a stored session's list row, read from its ``list_rows`` columns (written from
    the validated ``SessionSummary``: its ``id``, ``companion_id``, ``start_time``, ``state``, ``close_reason``).
    A re-run of 50,000 kept sessions validated their list rows' JSON again only for these."""

    id: str
    companion_id: str | None
    start_time: float | None
    state: str
    close_reason: str | None

    @classmethod
    def of(cls, session: SessionSummary) -> Listed:
        return cls(session.id, session.companion_id, session.start_time, session.state, session.close_reason)


@dataclass(frozen=True)
class Annotation:
    """A reviewer's verdict on a finding (``confirm``, ``dispute``) or a ``note`` on a session.

    A verdict names its finding by session, check and turn (``None``: a whole-session finding) and
    the rules fingerprint it was given under: a finding of other rules is another finding.
    """

    session_id: str
    kind: str  # "confirm", "dispute" or "note"
    reviewer: str
    at: float  # Unix seconds
    text: str = ""
    check: str | None = None
    turn_index: int | None = None
    rules: str | None = None  # the rules fingerprint of a verdict


MAX_ANNOTATIONS_READ = 100_000  # one review reads at most this many of a tenant's annotations, newest first

SNIPPET_TOKENS = 16  # words of a hit's snippet, in both engines
# One search's bound in time: a query of many common prefixes must not hold the store's workers.
SEARCH_SECONDS = 10.0
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

    async def put_sessions(
        self, sessions: Sequence[SessionDetail], outcomes: Mapping[str, StoredOutcome] | None = None
    ) -> None:
        """Store closed sessions (as validated on their way in), replacing any earlier copy, each with its
        outcome from ``outcomes`` (by id; computed above the store: ``sessions.keep``), else none (unknown)."""

    async def get_session(self, session_id: str) -> SessionDetail | None:
        """A stored session, read back through the ingest boundary; ``None`` when not stored."""

    async def get_sessions(self, session_ids: Sequence[str]) -> dict[str, SessionDetail]:
        """Those of ``session_ids`` the store holds, by id (read back through the ingest boundary)."""

    async def query(self, query: StoredQuery) -> StoredPage:
        """Stored sessions (closed ones and the open ones pending) matching ``query``, newest first."""

    async def query_ids(self, query: StoredQuery) -> tuple[list[str], int]:
        """The ids of ``query``'s rows in its order (its ``after`` and ``limit`` too), and the exact number
        matching it, as ``query`` gives them: no list row is read, for a caller that wants ids only."""

    async def closed_ids(self, session_ids: Sequence[str]) -> set[str]:
        """Those of ``session_ids`` the store holds (every stored session is closed)."""

    async def set_pending(self, sessions: Sequence[SessionSummary], now: float) -> None:
        """Remember open sessions to revisit, with their latest list row (what answers show until they close)."""

    async def pending(self) -> list[tuple[str, float]]:
        """Open sessions to revisit: (id, list time) each."""

    async def open_ids(self, session_ids: Sequence[str]) -> set[str]:
        """Those of ``session_ids`` known as open (pending, revisited or given up)."""

    async def drop_pending(self, session_ids: Sequence[str]) -> None:
        """Stop revisiting these sessions (given up; their list rows stay in answers until they are stored)."""

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

    async def get_findings(self, rules: str, session_ids: Sequence[str]) -> dict[str, tuple[str, Listed]]:
        """The QA results kept for those of ``session_ids`` checked under ``rules`` (a fingerprint of
        the rules and the checks' code): id -> (the text ``put_findings`` was given, opaque to the
        store; what the report shows of the session's list row), so a result need not hold a copy of it."""

    async def put_findings(self, rules: str, results: Sequence[tuple[str, str]]) -> None:
        """Keep each (session id, QA result text) under ``rules``, for stored sessions only (a closed
        session never changes, so its findings under the same rules never do); deleted with the session."""

    async def add_annotation(self, annotation: Annotation) -> None:
        """Keep a reviewer's verdict or note (a later verdict on the same finding supersedes it)."""

    async def annotations(self, session_ids: Sequence[str] | None = None) -> list[Annotation]:
        """This tenant's annotations, oldest first (of ``session_ids`` only, when given): at most
        ``MAX_ANNOTATIONS_READ``, the newest."""
