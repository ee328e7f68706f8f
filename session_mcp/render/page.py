"""One page of ``list_sessions``: the result model, built from an upstream page or a scan, and its text.

A page is checked against its own claims before it is shown: counts its rows contradict are left
out, a repeated id is shown once, and at most the rows asked for are kept. The text names each
column once in a header, numbers the rows among the matches and ends with the call for the next.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from session_mcp.companion.models import SessionPage, SessionSummary
from session_mcp.render.common import plural, shown_columns
from session_mcp.render.freshness import StoreFreshness, freshness_line
from session_mcp.render.scan_info import INCONSISTENCIES, ScanInfo, counts_hold, render_scan, upstream_note
from session_mcp.render.session_info import (
    SESSION_COLUMNS,
    SESSION_COLUMNS_NO_TURNS,
    SessionRow,
    session_line,
    session_row,
)
from session_mcp.sessions.claims import Inconsistency, distinct, page_inconsistencies
from session_mcp.sessions.criteria import Scan


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
    store: StoreFreshness | None = Field(None, description="Present when the answer came from the session store.")


def trim_page(page: SessionPage, page_size: int) -> tuple[SessionPage, int]:
    """``page`` with at most ``page_size`` items, and how many more upstream sent (those the client
    dropped unread included)."""
    extra = len(page.items) - page_size
    if extra <= 0:
        return page, page.items_left_out
    return page.model_copy(update={"items": page.items[:page_size]}), extra + page.items_left_out


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


def stored_page_result(
    sessions: list[SessionSummary],
    total: int,
    page_size: int,
    *,
    matched_before: int,
    next_cursor: str | None,
    store: StoreFreshness,
    known_turns: Callable[[str], int | None] = lambda _: None,
) -> SessionPageResult:
    """A page read from the session store: the count of matches is exact, the next page a keyset cursor."""
    return SessionPageResult(
        sessions=[session_row(item, known_turns(item.id)) for item in sessions],
        page_index=matched_before // page_size,
        page_size=page_size,
        filtered_count=total,
        has_more=next_cursor is not None,
        first_number=matched_before + 1,
        next_cursor=next_cursor,
        store=store,
    )


def render_session_page(page: SessionPageResult) -> str:
    if page.scan is not None:
        return _render_scanned_page(page, page.scan)
    if page.store is not None:
        return _render_stored_page(page, page.store)
    # What the API claimed that its answer contradicts comes first, and no range or total it contradicts.
    notes = [upstream_note(i) for i in page.upstream_inconsistencies or []]
    if not page.sessions:
        matching = f" ({page.total_count} in the project)" if page.total_count is not None else ""
        return "\n".join([f"No sessions match on page {page.page_index}{matching}.", *notes])
    first = page.first_number
    last = first + len(page.sessions) - 1
    of = f" of {page.filtered_count}" if page.filtered_count is not None else ""
    # The turns column only when some count is known (sessions read before): otherwise all dashes.
    with_turns = any(row.turns is not None for row in page.sessions)
    if notes:
        lines = [
            f"{plural(len(page.sessions), 'session')} as the API sent them for page {page.page_index}, newest first "
            "(no range or total: the API's answer contradicts itself).",
            *notes,
        ]
    else:
        lines = [f"Sessions {first}-{last}{of}, newest first (page {page.page_index})."]
    lines.append(shown_columns(SESSION_COLUMNS if with_turns else SESSION_COLUMNS_NO_TURNS))
    lines.extend(session_line(row, with_turns=with_turns) for row in page.sessions)
    if page.upstream_sent_more:
        lines.append(
            f"(The API sent {page.upstream_sent_more} rows more than the page size of {page.page_size}; "
            "they are left out.)"
        )
    if page.next_page_index is not None:
        lines.append(f"More: call list_sessions with page_index={page.next_page_index} and the same filters.")
    elif page.has_more:
        lines.append(
            "More sessions exist, but the next page index would bring these rows again: narrow the filters "
            "(companion_id, external_client_id, search, tags, since/until) to reach them."
        )
    else:
        lines.append("Last page.")
    return "\n".join(lines)


def _render_scanned_page(page: SessionPageResult, scan: ScanInfo) -> str:
    """A page of sessions filtered client-side: numbered among the matches, counts said as known."""
    note = render_scan(scan)
    if not page.sessions:
        more = "" if page.next_cursor is None else f" Scan on: call list_sessions with cursor={page.next_cursor!r}."
        return f"No sessions match{' from here' if page.first_number > 1 else ''}.{more}\n{note}"
    first = page.first_number
    last = first + len(page.sessions) - 1
    if page.filtered_count is not None:
        of = f" of {page.filtered_count}"
    elif page.has_more:
        of = f" of at least {last + 1}" if not scan.bound_hit else f" of at least {last}"
    else:
        of = ""
    return _matching_page(page, f"Sessions {first}-{last}{of} matching, newest first.", note)


def _render_stored_page(page: SessionPageResult, store: StoreFreshness) -> str:
    """A page read from the store: numbered among the exact count of matches, and how fresh it is."""
    fresh = freshness_line(store)
    if not page.sessions:
        return f"No sessions match{' from here' if page.first_number > 1 else ''}.\n{fresh}"
    last = page.first_number + len(page.sessions) - 1
    heading = f"Sessions {page.first_number}-{last} of {page.filtered_count} matching, newest first."
    return _matching_page(page, heading, fresh)


def _matching_page(page: SessionPageResult, heading: str, note: str) -> str:
    """A page of matches: its heading and note, the rows, then the cursor that reads on (or the end)."""
    with_turns = any(row.turns is not None for row in page.sessions)
    lines = [heading, note, shown_columns(SESSION_COLUMNS if with_turns else SESSION_COLUMNS_NO_TURNS)]
    lines.extend(session_line(row, with_turns=with_turns) for row in page.sessions)
    if page.next_cursor is not None:
        lines.append(f"More: call list_sessions with cursor={page.next_cursor!r} and the same filters.")
    else:
        lines.append("Last page.")
    return "\n".join(lines)
