"""The answer of ``search_transcripts`` (and ``session-mcp sessions search``): ranked hits, grouped lines.

Hits keep the store's order (relevance, or newest first when too many to rank); consecutive hits
of one session share its header line. Every hit is one line: ``[mm:ss] Role: snippet``, with the
matched words between ``«`` and ``»``. The answer says what it searched (the store only, and when
it was last synced), cuts at the character budget with the cursor that reads on, and names the
call that reads a whole conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from session_mcp.errors import InvalidInputError
from session_mcp.render.common import format_offset, format_time, plural, show_id
from session_mcp.render.lines import cell, one_line
from session_mcp.render.transcript import ROLE_CHARS
from session_mcp.sessions.redact import redact_snippet, redact_text
from session_mcp.store.base import MARKS, SearchHit, SearchPage, SyncState

SNIPPET_CHARS = 400


class SearchHitRow(BaseModel):
    """One matching turn."""

    session_id: str
    turn_index: int = Field(description="The turn's index: get_session_transcript offset=turn_index reads from it.")
    offset_seconds: float | None = Field(None, description="Seconds since the session started.")
    role: str
    snippet: str = Field(description="The turn around the match, matched words between « and ».")
    companion_id: str | None = None
    started_at: datetime | None = None
    status: str | None = None
    session_hits: int = Field(description="Hits in this session over the whole result.")


class SearchResult(BaseModel):
    """A page of a transcript search over the session store."""

    query: str
    total_hits: int = Field(description="Matching turns, exact.")
    total_sessions: int = Field(description="Sessions with at least one matching turn, exact.")
    order: Literal["relevance", "newest"] = Field(
        description="'relevance' (bm25), or 'newest' (session start) when too many hits to rank."
    )
    hits: list[SearchHitRow]
    next_cursor: str | None = Field(None, description="Pass as cursor (with the same query and filters) to read on.")
    last_sync: datetime | None = Field(None, description="When the store was last synced completely.")


def check_query(query: str, *, redact: bool) -> None:
    """With personal data masked, a query may not look for it: hits would say who wrote what was masked."""
    if redact and redact_text(query) != query:
        raise InvalidInputError(
            "With personal data masked (--redact-pii), a search cannot look for emails, phone or card numbers."
        )


def search_result(query: str, page: SearchPage, state: SyncState, *, redact: bool) -> SearchResult:
    """The page as the answer's model; snippets redacted as their turns would be when ``redact``."""
    rows = [
        hit_row(h, page.session_hits.get(h.session_id, 1), redact_snippet(h.snippet, MARKS) if redact else h.snippet)
        for h in page.hits
    ]
    synced = None if state.last_sync is None else datetime.fromtimestamp(state.last_sync, UTC)
    return SearchResult(
        query=query,
        total_hits=page.total_hits,
        total_sessions=page.total_sessions,
        order="relevance" if page.order == "relevance" else "newest",
        hits=rows,
        last_sync=synced,
    )


def hit_row(hit: SearchHit, session_hits: int, snippet: str) -> SearchHitRow:
    started = None if hit.started_at is None else datetime.fromtimestamp(hit.started_at, UTC)
    return SearchHitRow(
        session_id=hit.session_id,
        turn_index=hit.turn_index,
        offset_seconds=hit.offset_seconds,
        role=hit.role,
        snippet=one_line(snippet, SNIPPET_CHARS),
        companion_id=hit.companion_id,
        started_at=started,
        status=hit.status,
        session_hits=session_hits,
    )


def search_head(result: SearchResult) -> str:
    """What was searched, what was found, and how fresh the store is."""
    order = "ranked by relevance" if result.order == "relevance" else "newest sessions first (too many to rank)"
    synced = (
        f"last synced {format_time(result.last_sync)}"
        if result.last_sync is not None
        else "never synced completely: run session-mcp sync"
    )
    found = f"{plural(result.total_hits, 'hit')} in {plural(result.total_sessions, 'session')}"
    return (
        f"Transcript search: {found}, {order}. Searched the session store only ({synced}); sessions newer than "
        f"that are not in it.\nQuery: {one_line(result.query, 200)}"
    )


def session_line(row: SearchHitRow) -> str:
    return (
        f"{show_id(row.session_id)} | {cell(row.companion_id or '-')} | {format_time(row.started_at)} | "
        f"{cell(row.status or '-')} | {plural(row.session_hits, 'hit')}"
    )


def hit_line(row: SearchHitRow) -> str:
    role = row.role.capitalize() if row.role in ("agent", "user") else one_line(row.role, ROLE_CHARS)
    return f"  [{format_offset(row.offset_seconds)}] {role}: {row.snippet}"


def hit_lines(rows: list[SearchHitRow]) -> list[list[str]]:
    """The lines each hit adds: its session's header when the session changes, then the hit."""
    lines: list[list[str]] = []
    previous = None
    for row in rows:
        block = [session_line(row)] if row.session_id != previous else []
        lines.append([*block, hit_line(row)])
        previous = row.session_id
    return lines


def transcript_call(row: SearchHitRow) -> str:
    """The call that reads a hit's conversation from the hit on."""
    return (
        f"get_session_transcript session_id={row.session_id!r} offset={row.turn_index} reads a conversation from a hit."
    )


def render_search(
    result: SearchResult, more: str | None, reading: Callable[[SearchHitRow], str] = transcript_call
) -> str:
    """The answer's text; ``more`` is the note that reads on (``None`` at the end), ``reading`` says how to
    read the first hit's conversation."""
    lines = [search_head(result)]
    if not result.hits:
        lines.append("No turn matches." if not result.total_hits else "No more hits past this cursor.")
    for block in hit_lines(result.hits):
        lines += block
    if more:
        lines.append(more)
    if result.hits:
        lines.append(reading(result.hits[0]))
    return "\n".join(lines)


def fit_hits(result: SearchResult, budget: int) -> int:
    """How many of the result's hits fit ``budget`` characters with the head and notes (at least one)."""
    used = len(search_head(result)) + 400  # the notes: cut, cursor, the transcript call
    for count, block in enumerate(hit_lines(result.hits)):
        used += sum(len(line) + 1 for line in block)
        if used > budget and count:
            return count
    return len(result.hits)
