"""What the tools return as ``structuredContent``: plain pydantic models, snake_case, no nulls.

They are the tools' ``outputSchema``. They are built from the wire models here, so the server
stays thin and ``render`` can turn the very same objects into text.

Built within bounds, whatever upstream sent: a list page holds at most the rows asked for,
strings are cut to a length (ids only past what a valid id may be), and long fields (tags,
functions, FAQs, extra fields) keep their first items and count the rest in ``left_out``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from session_mcp.companion.models import (
    ConversationItem,
    FunctionMetric,
    SessionDetail,
    SessionPage,
    SessionSummary,
    from_unix,
)
from session_mcp.render.lines import FIELD_CHARS, ID_CHARS, shorten_text
from session_mcp.sessions.claims import Inconsistency, distinct, page_inconsistencies
from session_mcp.sessions.criteria import Criteria, Scan
from session_mcp.sessions.fetch import Failure

MAX_ITEMS = 20  # tags, functions, FAQs and extra fields kept per session
ROLE_CHARS = 40
VALUE_CHARS = 500  # an extra field's value (as JSON when it is not a string)


class SessionRow(BaseModel):
    """One session as a list shows it."""

    id: str
    companion_id: str | None = None
    external_client_id: str | None = None
    tags: dict[str, Any] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    closed_at: datetime | None = None
    duration_seconds: float | None = Field(None, description="Start to close; absent while open or never started.")
    status: str = Field(description="pending, started, closed or failed (derived from the times when not sent).")
    close_reason: str | None = None
    turns: int | None = Field(None, description="Number of transcript turns, when already known.")
    left_out: dict[str, int] | None = Field(
        None, description=f"Items left out of a long field (tags, functions, faq_ids, extra; {MAX_ITEMS} kept)."
    )


INCONSISTENCIES = "What the API claimed that its own answer contradicts; absent when nothing did."


class ScanInfo(BaseModel):
    """How a time window or a client-side filter was applied: the upstream list has neither."""

    window_start: datetime | None = Field(None, description="Sessions started at or after this time (UTC).")
    window_end: datetime | None = Field(None, description="... and before this one.")
    filters: str | None = Field(None, description="The filters applied client-side (status, close reason, ...).")
    scanned: int = Field(description="List items read to apply them (over every page of a cursor chain).")
    complete: bool = Field(description="True when no session beyond those scanned can match.")
    stopped_early: bool = Field(description="The scan stopped at a page older than the window, the list newest first.")
    in_order: bool = Field(description="Every item read came newest first (else the scan could not stop early).")
    bound_hit: bool = Field(description="The scan bound stopped the scan: older sessions were not read.")
    max_scan: int | None = Field(None, description="The scan bound: most list items one answer reads.")
    upstream_matching: int | None = Field(None, description="Sessions the upstream filters alone match.")
    upstream_inconsistencies: list[Inconsistency] | None = Field(None, description=INCONSISTENCIES)


class SessionPageResult(BaseModel):
    """One page of ``list_sessions``."""

    sessions: list[SessionRow]
    page_index: int
    page_size: int
    filtered_count: int | None = Field(None, description="Sessions matching the filters, when known exactly.")
    total_count: int | None = Field(None, description="All sessions of the project.")
    has_more: bool
    next_page_index: int | None = None
    upstream_sent_more: int | None = Field(
        None, description="Rows the API sent beyond page_size, left out (an API that ignores pageSize)."
    )
    first_number: int = Field(1, description="The 1-based number of the first session of this page among the matches.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` (with the same filters) for the next page.")
    scan: ScanInfo | None = Field(None, description="Present when a time window or a client-side filter applied.")
    upstream_inconsistencies: list[Inconsistency] | None = Field(None, description=INCONSISTENCIES)


class ToolConnection(BaseModel):
    """How one WebSocket tool connected in a session (``functionMetrics``)."""

    name: str
    state: str = Field(description="connected, failed or canceled (as sent).")
    started_at: datetime | None = None
    ended_at: datetime | None = Field(None, description="When it connected, failed or was canceled.")
    error_code: str | None = None
    error_message: str | None = None


class SessionInfo(SessionRow):
    """A session's configuration and timing, everything but the transcript."""

    functions: list[str] | None = None
    knowledge_base_id: str | None = None
    faq_ids: list[str] | None = None
    session_type: str | None = None
    modality: str | None = None
    mode: str | None = None
    cost: float | None = None
    companion_name: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    tools: list[ToolConnection] | None = Field(None, description="WebSocket tool connections (functionMetrics).")
    extra: dict[str, Any] | None = Field(None, description="Fields the API sent that this server does not name.")


class Turn(BaseModel):
    index: int = Field(description="0-based position in the whole transcript.")
    role: str
    text: str
    timestamp: datetime | None = None
    offset_seconds: float | None = Field(None, description="Seconds since the session started.")


class TranscriptResult(BaseModel):
    """A session with one window of its transcript."""

    session: SessionInfo
    total_turns: int
    offset: int
    turns: list[Turn]
    next_offset: int | None = Field(None, description="Pass as `offset` to read on; absent at the end.")
    truncated: bool = Field(description="True when turns after this window exist.")


class ConnectionResult(BaseModel):
    session_id: str
    token: str = Field(description="Short-lived credential for the realtime connection. Treat it as a secret.")


def session_row(session: SessionSummary, turns: int | None = None) -> SessionRow:
    left_out: dict[str, int] = {}
    return SessionRow(
        id=shorten_text(session.id, ID_CHARS),
        companion_id=_field(session.companion_id),
        external_client_id=_field(session.external_client_id),
        tags=_first_items(session.tags, "tags", left_out, FIELD_CHARS),
        created_at=session.created,
        started_at=session.started,
        closed_at=session.closed,
        duration_seconds=session.duration_seconds,
        status=shorten_text(session.state, FIELD_CHARS),
        close_reason=_field(session.close_reason),
        turns=turns,
        left_out=left_out or None,
    )


def _field(value: str | None, limit: int = FIELD_CHARS) -> str | None:
    return None if value is None else shorten_text(value, limit)


def _first_items(
    items: Mapping[str, Any] | None, name: str, left_out: dict[str, int], limit: int
) -> dict[str, Any] | None:
    """The first ``MAX_ITEMS`` of ``items`` (by key), keys and values bounded; the rest counted."""
    if not items:
        return None
    if len(items) > MAX_ITEMS:
        left_out[name] = len(items) - MAX_ITEMS
    kept = sorted(items)[:MAX_ITEMS]
    return {shorten_text(key, FIELD_CHARS): bounded_value(items[key], limit) for key in kept}


def _first_strings(values: Sequence[str] | None, name: str, left_out: dict[str, int]) -> list[str] | None:
    if not values:
        return None
    if len(values) > MAX_ITEMS:
        left_out[name] = len(values) - MAX_ITEMS
    return [shorten_text(value, FIELD_CHARS) for value in values[:MAX_ITEMS]]


def bounded_value(value: Any, limit: int) -> Any:
    """``value`` if it is short; else a string cut to ``limit`` (JSON text when it was not a string)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return shorten_text(value, limit)
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return "(a value that cannot be shown)"
    return value if len(text) <= limit else shorten_text(text, limit)


def trim_page(page: SessionPage, page_size: int) -> tuple[SessionPage, int]:
    """``page`` with at most ``page_size`` items, and how many more upstream sent (those the client
    dropped unread included)."""
    extra = len(page.items) - page_size
    if extra <= 0:
        return page, page.items_left_out
    return page.model_copy(update={"items": page.items[:page_size]}), extra + page.items_left_out


def counts_hold(found: list[Inconsistency]) -> bool:
    """Whether the API's counts stand: no row and no other count contradicts them."""
    return all(i.kind not in ("rows_over_count", "counts_disagree") for i in found)


def session_page_result(
    page: SessionPage,
    page_index: int,
    page_size: int,
    known_turns: Callable[[str], int | None] = lambda _: None,
) -> SessionPageResult:
    """A list page of at most ``page_size`` rows, ``has_more`` worked out from the counts (or a full page).

    The page is checked against its own claims first: counts its rows contradict are left out,
    a repeated id is shown once, and a page index the API ignored leads nowhere further.
    """
    found = page_inconsistencies(page, page_index, page_size)
    page, extra = trim_page(page, page_size)
    rows = [session_row(item, known_turns(item.id)) for item in distinct(page.items)]
    has_more = page.has_more(page_index, page_size)
    kept = counts_hold(found)
    return SessionPageResult(
        sessions=rows,
        page_index=page_index,
        page_size=page_size,
        filtered_count=page.filtered_count if kept else None,
        total_count=page.total_count if kept else None,
        has_more=has_more,
        # The next page of an API that ignores the page index is this one again.
        next_page_index=page_index + 1 if has_more and all(i.kind != "page_index_ignored" for i in found) else None,
        upstream_sent_more=extra or None,
        first_number=page_index * (page.page_size or page_size) + 1,
        upstream_inconsistencies=found or None,
    )


def scanned_page_result(
    scan: Scan,
    info: ScanInfo,
    page_size: int,
    *,
    matched_before: int,
    next_cursor: str | None,
    known_turns: Callable[[str], int | None] = lambda _: None,
) -> SessionPageResult:
    """A page of sessions filtered client-side; the count of matches is given only when known exactly."""
    rows = [session_row(item, known_turns(item.id)) for item in scan.sessions]
    return SessionPageResult(
        sessions=rows,
        page_index=matched_before // page_size,
        page_size=page_size,
        filtered_count=matched_before + len(rows) if scan.complete else None,
        has_more=next_cursor is not None,
        first_number=matched_before + 1,
        next_cursor=next_cursor,
        scan=info,
        upstream_inconsistencies=info.upstream_inconsistencies,
    )


def session_info(session: SessionDetail) -> SessionInfo:
    row = session_row(session, len(session.turns))
    left_out = dict(row.left_out or {})
    extra = {k: v for k, v in session.extra_fields.items() if v is not None}
    return SessionInfo(
        **row.model_dump(exclude={"left_out"}),
        functions=_first_strings(session.functions, "functions", left_out),
        knowledge_base_id=_field(session.knowledge_base_id),
        faq_ids=_first_strings(session.faq_ids, "faq_ids", left_out),
        session_type=_field(session.session_type),
        modality=_field(session.modality),
        mode=_field(session.mode),
        cost=session.cost,
        companion_name=_field(session.companion.name if session.companion else None),
        agent_id=_field(session.agent.id if session.agent else None),
        agent_name=_field(session.agent.name if session.agent else None),
        tools=_tools(session.tools, left_out),
        extra=_first_items(extra, "extra", left_out, VALUE_CHARS),
        left_out=left_out or None,
    )


def _tools(metrics: Sequence[FunctionMetric], left_out: dict[str, int]) -> list[ToolConnection] | None:
    """The first ``MAX_ITEMS`` tool connections, not connected ones first; the rest counted."""
    if not metrics:
        return None
    ordered = sorted(metrics, key=lambda m: m.state == "connected")
    if len(ordered) > MAX_ITEMS:
        left_out["tools"] = len(ordered) - MAX_ITEMS
    return [tool_connection(metric) for metric in ordered[:MAX_ITEMS]]


def tool_connection(metric: FunctionMetric) -> ToolConnection:
    error = metric.error
    return ToolConnection(
        name=shorten_text(metric.name or "(unnamed)", FIELD_CHARS),
        state=shorten_text(metric.state or "unknown", FIELD_CHARS),
        started_at=metric.started,
        ended_at=metric.ended,
        error_code=_field(error.code if error else None),
        error_message=_field(error.message if error else None, VALUE_CHARS),
    )


def transcript_origin(session: SessionDetail) -> float | None:
    """The instant turn offsets count from: the start, else creation, else the first turn."""
    if session.started_at is not None:
        return session.started_at
    if session.created_at is not None:
        return session.created_at
    turns = session.turns
    return turns[0].timestamp if turns else None


def make_turn(index: int, item: ConversationItem, origin: float | None, text: str | None = None) -> Turn:
    offset = None if origin is None or item.timestamp is None else max(0.0, item.timestamp - origin)
    return Turn(
        index=index,
        role=shorten_text(item.role, ROLE_CHARS),
        text=item.text if text is None else text,
        timestamp=from_unix(item.timestamp),
        offset_seconds=offset,
    )


class BatchTranscript(BaseModel):
    """One whole session of a batch (long messages may be shortened, each with a marker)."""

    session: SessionRow
    turns: list[Turn]
    total_turns: int


class DigestTurn(BaseModel):
    role: str
    text: str = Field(description="Shortened to fit, on one line.")


class SessionDigest(BaseModel):
    """A session in one line: what the user first asked and how it ended."""

    session: SessionRow
    first_request: str | None = Field(
        None,
        description="The user's first message, shortened; absent if the user never spoke or it did not fit.",
    )
    last_exchange: list[DigestTurn] = Field(description="The last user message and the reply to it, shortened.")


class BatchResult(BaseModel):
    """Many transcripts in one call: whole sessions while the budget holds, a digest line for the others."""

    detail: str = Field(description="full or digest.")
    transcripts: list[BatchTranscript] = Field(description="The sessions given whole, in order.")
    digests: list[SessionDigest] = Field(description="The others, one line each, in order.")
    left_out: list[str] = Field(description="Ids of sessions not even a digest line fitted for.")
    failures: list[Failure]
    requested: int = Field(description="Sessions asked for (ids given, or matches up to the limit).")
    matched: int | None = Field(None, description="Sessions matching the filters, when known.")
    more_matching: bool = Field(False, description="More sessions match than were asked for (count unknown).")
    budget_chars: int
    shortened_messages: int = Field(description="Messages of whole sessions cut to the per-message limit.")
    read_calls: list[str] = Field(
        description="Calls that read on, each within the budget: the digested sessions in full, or (as digests) the "
        "sessions left out."
    )
    unnamed: int = Field(0, description="Sessions to read on that no read call names: the calls did not fit.")
    scan: ScanInfo | None = None


class Distribution(BaseModel):
    count: int
    median: float | None = None
    p90: float | None = None
    max: float | None = None
    mean: float | None = None


class HourCount(BaseModel):
    hour_utc: int
    sessions: int


class DayCount(BaseModel):
    day: str = Field(description="UTC calendar day, YYYY-MM-DD.")
    sessions: int
    by_status: dict[str, int] = Field(
        default_factory=dict,
        description="The day's sessions per status (the statuses of by_status, the rest as '(others)').",
    )


class Amount(BaseModel):
    key: str
    cost: float = Field(description="USD.")
    sessions: int


class CostFigures(BaseModel):
    """Spend, from ``cost`` (USD), which the API sets once a session closes."""

    total: float
    mean: float | None = Field(None, description="Per session that has a cost.")
    with_cost: int
    without_cost: int = Field(description="Sessions with no cost yet (pending or open) or none sent.")
    by_companion: list[Amount]
    top_clients: list[Amount] = Field(description="External clients that cost most.")
    other_clients: int = Field(description="External clients with a cost left out of top_clients.")
    other_clients_cost: float


class CompanionFigures(BaseModel):
    companion_id: str
    sessions: int
    failed: int
    cost: float
    duration_seconds: Distribution


class ToolFailures(BaseModel):
    """Connections of one WebSocket tool over the sessions read, from ``functionMetrics``."""

    name: str
    connected: int
    failed: int
    canceled: int
    errors: dict[str, int] = Field(description="Failures by error code (top values).")
    example: str | None = Field(None, description="The message of the most recent failure, shortened.")


class StatsResult(BaseModel):
    """Aggregate figures over the sessions matching the filters, up to a limit."""

    examined: int = Field(description="Sessions looked at.")
    matched: int | None = Field(None, description="Sessions matching the filters upstream.")
    limit: int
    limit_hit: bool = Field(description="True when more sessions matched than were looked at.")
    by_companion: dict[str, int] = Field(
        description="Sessions per companion; each count like this keeps its "
        "10 most common values and sums the rest under '(others)'."
    )
    by_status: dict[str, int]
    by_close_reason: dict[str, int]
    by_tag: dict[str, dict[str, int]] = Field(description="For the 20 most used tag keys, sessions per value.")
    tag_keys_left_out: int | None = Field(None, description="Tag keys beyond the 20 counted.")
    values_cut: dict[str, int] | None = Field(
        None,
        description="Counts cut to their top 10 ('companion', 'status', 'close_reason', 'tag <key>'): distinct values.",
    )
    duration_seconds: Distribution = Field(description="Over sessions that started and closed.")
    turns: Distribution = Field(description="Over sessions whose transcript was read.")
    no_user_turn: int = Field(description="Sessions (with a transcript read) in which the user never spoke.")
    no_user_turn_ids: list[str] = Field(description="Up to 20 of them.")
    busiest_hours: list[HourCount] = Field(
        description="Top hours of the day (UTC) by sessions started (created, if never)."
    )
    unread: list[Failure] = Field(description="Up to 20 sessions that could not be read or counted, and why.")
    unread_count: int = Field(0, description="How many sessions could not be read or counted in all.")
    failed_reasons: dict[str, int] = Field(description="Close reasons of the failed sessions.")
    by_session_type: dict[str, int]
    by_modality: dict[str, int]
    companions: list[CompanionFigures] = Field(description="Per companion, the busiest first.")
    other_companions: int = Field(description="Companions left out of `companions`.")
    cost: CostFigures
    per_day: list[DayCount] = Field(description="Sessions per UTC day over the window (the latest days).")
    earlier_days: int = Field(description="Days before those of per_day, left out.")
    earlier_sessions: int = Field(description="Sessions of those days.")
    tools: list[ToolFailures] = Field(description="WebSocket tools by failures (needs read_transcripts).")
    other_tools: int
    scan: ScanInfo | None = None


def scan_info(scan: Scan, criteria: Criteria, max_scan: int | None) -> ScanInfo:
    """What the answer says of a scan: the window as applied, how far it read, whether it is whole."""
    return ScanInfo(
        window_start=scan.window.start,
        window_end=scan.window.end,
        filters=criteria.describe() or None,
        scanned=scan.scanned,
        complete=scan.complete,
        stopped_early=scan.stopped_early,
        in_order=scan.in_order,
        bound_hit=scan.bound_hit,
        max_scan=max_scan,
        upstream_matching=scan.upstream_count if counts_hold(scan.inconsistencies) else None,
        upstream_inconsistencies=scan.inconsistencies or None,
    )
