"""Pure functions that turn results into text a model reads well.

Compact on purpose: context is the scarce resource. A column named once in a header instead of
a key per row, no empty fields, times in ISO 8601 UTC to the minute in lists, durations like
``4m 55s``, and every cut said plainly with the call that gets the rest.

No field can forge a line (see ``session_mcp.render.lines``): every single-line field goes through
``one_line``, so a newline in a role, an id or a tag stays inside its cell (and a cell of a
``|`` table through ``cell``, so no ``|`` in a companion id starts another); message text goes
through ``message_text``, so a message's second and later lines are indented by four spaces and
never read as a turn (``[mm:ss] Agent:``), a header or a table row. Every line of a transcript
is therefore a header line, a turn line whose ``[mm:ss] Role:`` prefix comes from a real turn,
or an indented continuation of the message above it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from session_mcp.companion.models import SessionDetail
from session_mcp.render.lines import CUT_MARK, ID_CHARS, cell, message_text, one_line, shorten_text
from session_mcp.render.results import (
    ScanInfo,
    SessionInfo,
    SessionPageResult,
    SessionRow,
    ToolConnection,
    TranscriptResult,
    Turn,
    make_turn,
    session_info,
    transcript_origin,
)
from session_mcp.sessions.claims import Inconsistency
from session_mcp.sessions.fetch import Failure

TRANSCRIPT_FRAME = 200  # the "Transcript turns a-b of n:" line and the cut note under the turns

logger = logging.getLogger(__name__)


def format_duration(seconds: float | None) -> str:
    """``4m 55s``, ``1h 02m``, ``12s``; ``-`` when unknown (or not a finite number)."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    hours, minutes, secs = _clock(round(seconds))
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_time(moment: datetime | None, *, seconds: bool = False) -> str:
    """ISO 8601 UTC, to the minute unless ``seconds``; ``-`` when unknown."""
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ")


def format_offset(seconds: float | None) -> str:
    """``mm:ss`` from the session start (``h:mm:ss`` past an hour); ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    hours, minutes, secs = _clock(int(seconds))
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _clock(total: int) -> tuple[int, int, int]:
    """Whole seconds as (hours, minutes, seconds)."""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return hours, minutes, secs


def format_tags(tags: dict[str, Any] | None, left_out: int = 0) -> str:
    shown = ",".join(f"{cell(k)}={cell(v)}" for k, v in sorted((tags or {}).items()))
    return shown + (f",{CUT_MARK} +{left_out} more" if left_out else "")


def format_status(row: SessionRow) -> str:
    status = cell(row.status)
    return f"{status}/{cell(row.close_reason)}" if row.close_reason else status


def row_tags(row: SessionRow) -> str:
    """The tags of a row, with how many were left out."""
    return format_tags(row.tags, (row.left_out or {}).get("tags", 0))


def format_list(values: list[str] | None, left_out: int = 0) -> str:
    return ",".join(one_line(v) for v in values or []) + (f",{CUT_MARK} +{left_out} more" if left_out else "")


def show_id(session_id: str) -> str:
    return one_line(session_id, ID_CHARS)


SESSION_COLUMNS = "id | companion | client | started (UTC) | duration | turns | status | tags"
SESSION_COLUMNS_NO_TURNS = SESSION_COLUMNS.replace(" | turns", "")


def session_line(row: SessionRow, *, with_turns: bool = True) -> str:
    """One session on one line, in the order of ``SESSION_COLUMNS`` (without turns if asked)."""
    return " | ".join(session_cells(row, with_turns=with_turns))


def session_cells(row: SessionRow, *, with_turns: bool = True) -> list[str]:
    """The cells of ``session_line``, for a table that aligns them."""
    cells = [
        show_id(row.id),
        cell(row.companion_id or "-"),
        cell(row.external_client_id or "-"),
        format_time(row.started_at) if row.started_at else _created_only(row.created_at),
        format_duration(row.duration_seconds),
    ]
    if with_turns:
        cells.append("-" if row.turns is None else str(row.turns))
    cells += [format_status(row), row_tags(row) or "-"]
    return cells


def _created_only(created: datetime | None) -> str:
    return f"({format_time(created)} created)" if created else "-"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def render_scan(scan: ScanInfo) -> str:
    """One line: the window applied (UTC), the filters, how many sessions were scanned, and whether
    the answer is complete or the scan bound cut it."""
    if scan.window_start and scan.window_end:
        window = f"{format_time(scan.window_start, seconds=True)} to {format_time(scan.window_end, seconds=True)}"
    elif scan.window_start:
        window = f"since {format_time(scan.window_start, seconds=True)}"
    elif scan.window_end:
        window = f"before {format_time(scan.window_end, seconds=True)}"
    else:
        window = "all time"
    parts = [f"Window (UTC): {window}"]
    if scan.filters:
        parts.append(f"filters: {scan.filters}")
    parts.append(f"scanned {plural(scan.scanned, 'session')}")
    found = scan.upstream_inconsistencies or []
    changed = next((i for i in found if i.kind == "list_changed"), None)
    if scan.bound_hit:
        parts.append(
            f"INCOMPLETE: the scan bound ({scan.max_scan or 0:,} sessions per answer) stopped it before the window's "
            "start, so older matching sessions were not read; narrow the window or the upstream filters"
        )
    elif changed is not None:
        parts.append(f"NOT complete: {changed.detail}, so sessions may be missing from this answer")
    elif not scan.in_order and not scan.complete:
        parts.append(
            "the list did not come newest first, so the scan read every session, sorted the matches by start time "
            "and kept the newest: more sessions match"
        )
    elif not scan.in_order:
        parts.append("the list did not come newest first, so the scan could not stop early and read every session")
    elif scan.stopped_early:
        parts.append("complete (the list came newest first; the scan stopped at the window's start)")
    elif scan.complete:
        parts.append("complete (read to the end of the list)")
    else:
        parts.append("stopped at the limit: more sessions match")
    parts += [upstream_note(i) for i in found if i is not changed]
    return " · ".join(parts) + "."


def upstream_note(inconsistency: Inconsistency) -> str:
    """One claim of the API that its own answer contradicts, said as such."""
    return f"upstream inconsistent ({inconsistency.kind}): {one_line(inconsistency.detail, 300)}"


def render_session_page(page: SessionPageResult) -> str:
    if page.scan is not None:
        return _render_scanned_page(page, page.scan)
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
    lines.append(SESSION_COLUMNS if with_turns else SESSION_COLUMNS_NO_TURNS)
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
    with_turns = any(row.turns is not None for row in page.sessions)
    lines = [f"Sessions {first}-{last}{of} matching, newest first.", note]
    lines.append(SESSION_COLUMNS if with_turns else SESSION_COLUMNS_NO_TURNS)
    lines.extend(session_line(row, with_turns=with_turns) for row in page.sessions)
    if page.next_cursor is not None:
        lines.append(f"More: call list_sessions with cursor={page.next_cursor!r} and the same filters.")
    else:
        lines.append("Last page.")
    return "\n".join(lines)


def render_session_header(info: SessionInfo) -> list[str]:
    """The lines above a transcript: who, what configuration, when."""
    left_out = info.left_out or {}
    head = f"# Session {show_id(info.id)} — {format_status(info)}"
    who = [f"companion {one_line(info.companion_id or '-')}" + _named(info.companion_name)]
    if info.agent_id or info.agent_name:
        who.append(f"agent {one_line(info.agent_id or '-')}" + _named(info.agent_name))
    if info.external_client_id:
        who.append(f"client {one_line(info.external_client_id)}")
    if info.tags:
        who.append(f"tags {row_tags(info)}")
    for label, value in (("type", info.session_type), ("modality", info.modality), ("mode", info.mode)):
        if value:
            who.append(f"{label} {one_line(value)}")
    config = []
    if info.knowledge_base_id:
        config.append(f"knowledge base {one_line(info.knowledge_base_id)}")
    if info.functions:
        config.append("functions " + format_list(info.functions, left_out.get("functions", 0)))
    if info.faq_ids:
        config.append("FAQs " + format_list(info.faq_ids, left_out.get("faq_ids", 0)))
    timing = [f"created {format_time(info.created_at, seconds=True)}"]
    timing.append(f"started {format_time(info.started_at, seconds=True)}" if info.started_at else "never started")
    if info.closed_at:
        timing.append(f"closed {format_time(info.closed_at, seconds=True)}")
        timing.append(f"duration {format_duration(info.duration_seconds)}")
    elif info.started_at:
        timing.append("still open")
    if info.cost is not None:
        timing.append(f"cost ${info.cost:g}")
    lines = [head, " · ".join(who)]
    if config:
        lines.append(" · ".join(config))
    lines.append(" · ".join(timing))
    if info.tools:
        lines.append(tools_line(info.tools, (info.left_out or {}).get("tools", 0)))
    if info.extra:
        fields = ", ".join(f"{one_line(k)}={_compact(v)}" for k, v in sorted(info.extra.items()))
        more = left_out.get("extra", 0)
        lines.append("other fields: " + fields + (f", {CUT_MARK} +{more} more" if more else ""))
    return lines


def _named(name: str | None) -> str:
    return f" ({one_line(name)})" if name else ""


MAX_TOOLS_SHOWN = 10


def tools_line(tools: Sequence[ToolConnection], left_out: int = 0) -> str:
    """``tools: 2 connected · sms_gateway failed (connection_failed: WebSocket handshake timed out)``."""
    connected = sum(1 for t in tools if t.state == "connected")
    others = [t for t in tools if t.state != "connected"]
    cells = [f"{connected} connected"] if connected else []
    for tool in others[:MAX_TOOLS_SHOWN]:
        reason = ": ".join(part for part in (tool.error_code, tool.error_message) if part)
        why = f" ({one_line(reason, 160)})" if reason else ""
        cells.append(f"{one_line(tool.name, 60)} {one_line(tool.state, 40)}{why}")
    hidden = len(others) - len(others[:MAX_TOOLS_SHOWN]) + left_out
    if hidden:
        cells.append(f"{CUT_MARK} +{hidden} more")
    return "tools: " + " · ".join(cells)


def turn_line(turn: Turn) -> str:
    """``[mm:ss] Role: text``; the text's later lines indented (see the module docstring)."""
    role = turn.role.capitalize() if turn.role in ("agent", "user") else one_line(turn.role)
    return f"[{format_offset(turn.offset_seconds)}] {role}: {message_text(turn.text)}"


def render_transcript(result: TranscriptResult) -> str:
    lines = render_session_header(result.session)
    if result.total_turns == 0:
        lines.append("No transcript: nothing was said in this session.")
        return "\n".join(lines)
    if not result.turns:
        lines.append(f"No turns from offset {result.offset}: the transcript has {plural(result.total_turns, 'turn')}.")
        return "\n".join(lines)
    first, last = result.turns[0].index + 1, result.turns[-1].index + 1
    whole = first == 1 and last == result.total_turns
    lines.append(
        f"Transcript ({plural(result.total_turns, 'turn')}):"
        if whole
        else f"Transcript turns {first}-{last} of {result.total_turns}:"
    )
    lines.extend(turn_line(turn) for turn in result.turns)
    if result.next_offset is not None:
        lines.append(cut_note(result.session.id, result.total_turns, result.next_offset))
    return "\n".join(lines)


def cut_note(session_id: str, total_turns: int, next_offset: int) -> str:
    """The line that ends a cut transcript: how much is left and the call that reads it."""
    return (
        f"[cut: {plural(total_turns - next_offset, 'more turn')}. get_session_transcript session_id={session_id!r} "
        f"offset={next_offset} has the rest.]"
    )


def failure_line(failure: Failure) -> str:
    return f"- {show_id(failure.session_id)}: {one_line(failure.reason, 1_000)}"


def fit_text(text: str, budget: int, ask: str) -> str:
    """``text`` if it fits ``budget`` characters; else its first whole lines and a note that says so.

    The last bound of every tool answer: the budgets above it keep ordinary answers well inside,
    so this only cuts what hostile data (thousands of huge fields) would blow up. ``ask`` says how
    to ask for less, in the words of the tool's own arguments.
    """
    if len(text) <= budget:
        return text
    note = f"[cut: this answer was {len(text):,} characters, over the budget of {budget:,}. {ask}]"
    room = max(0, budget - len(note) - 1)
    lines = text.split("\n")
    kept = lines[: fit_lines(lines, room, at_least=0)]
    head = "\n".join(kept) if kept else shorten_text(lines[0], max(0, room - 20))
    return f"{head}\n{note}"


def fit_lines(lines: Iterable[str], budget: int, *, at_least: int = 1) -> int:
    """How many of ``lines`` fit in ``budget`` characters (newlines counted), but at least ``at_least``."""
    used = 0
    count = 0
    for line in lines:
        used += len(line) + 1
        if used > budget and count >= at_least:
            break
        count += 1
    return count


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return one_line(text)


def transcript_window(session: SessionDetail, offset: int, limit: int, budget: int) -> TranscriptResult:
    """The turns from ``offset`` that fit both ``limit`` and ``budget`` characters of turn lines.

    At least one turn is returned (shortened if it alone is over budget), so paging always
    moves forward.
    """
    origin = transcript_origin(session)
    info = session_info(session)
    items = session.turns
    budget -= sum(len(line) + 1 for line in render_session_header(info)) + TRANSCRIPT_FRAME + len(repr(info.id))
    # Turns are made one at a time until the budget is full: the work is bounded by the budget,
    # not by the length of the transcript.
    candidates = (make_turn(i, items[i], origin) for i in range(offset, min(len(items), offset + limit)))
    window: list[Turn] = []
    used = 0
    for turn in candidates:
        used += len(turn_line(turn)) + 1
        if used > budget and window:
            break
        window.append(turn)
    if window and len(turn_line(window[-1])) > budget:
        window[-1] = window[-1].model_copy(update={"text": shorten_text(window[-1].text, max(100, budget - 100))})
    end = offset + len(window)
    more = end < len(items) and bool(window)
    return TranscriptResult(
        session=info,
        total_turns=len(items),
        offset=offset,
        turns=window,
        next_offset=end if more else None,
        truncated=more,
    )
