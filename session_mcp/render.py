"""Pure functions that turn results into text a model reads well.

Compact on purpose: context is the scarce resource. A column named once in a header instead of
a key per row, no empty fields, times in ISO 8601 UTC to the minute in lists, durations like
``4m 55s``, and every cut said plainly with the call that gets the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from session_mcp.models import SessionDetail
from session_mcp.results import (
    Distribution,
    ScanInfo,
    SessionInfo,
    SessionPageResult,
    SessionRow,
    StatsResult,
    ToolConnection,
    TranscriptResult,
    Turn,
    make_turn,
    session_info,
    transcript_origin,
)

CUT_MARK = "…"
TRANSCRIPT_FRAME = 200  # the "Transcript turns a-b of n:" line and the cut note under the turns


def format_duration(seconds: float | None) -> str:
    """``4m 55s``, ``1h 02m``, ``12s``; ``-`` when unknown."""
    if seconds is None:
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
    if seconds is None:
        return "--:--"
    hours, minutes, secs = _clock(int(seconds))
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _clock(total: int) -> tuple[int, int, int]:
    """Whole seconds as (hours, minutes, seconds)."""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return hours, minutes, secs


def format_tags(tags: dict[str, Any] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((tags or {}).items()))


def format_status(row: SessionRow) -> str:
    return f"{row.status}/{row.close_reason}" if row.close_reason else row.status


def shorten_text(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    kept = text[: max(0, limit)].rstrip()
    return f"{kept}{CUT_MARK} [+{len(text) - len(kept)} chars]"


SESSION_COLUMNS = "id | companion | client | started (UTC) | duration | turns | status | tags"
SESSION_COLUMNS_NO_TURNS = SESSION_COLUMNS.replace(" | turns", "")


def session_line(row: SessionRow, *, with_turns: bool = True) -> str:
    """One session on one line, in the order of ``SESSION_COLUMNS`` (without turns if asked)."""
    cells = [
        row.id,
        row.companion_id or "-",
        row.external_client_id or "-",
        format_time(row.started_at) if row.started_at else _created_only(row.created_at),
        format_duration(row.duration_seconds),
    ]
    if with_turns:
        cells.append("-" if row.turns is None else str(row.turns))
    cells += [format_status(row), format_tags(row.tags) or "-"]
    return " | ".join(cells)


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
    if scan.bound_hit:
        parts.append(
            f"INCOMPLETE: the scan bound ({scan.max_scan:,} sessions per answer) stopped it before the window's "
            "start, so older matching sessions were not read; narrow the window or the upstream filters"
        )
    elif not scan.in_order:
        parts.append("the list did not come newest first, so the scan could not stop early and read every session")
    elif scan.stopped_early:
        parts.append("complete (the list came newest first; the scan stopped at the window's start)")
    elif scan.complete:
        parts.append("complete (read to the end of the list)")
    else:
        parts.append("stopped at the limit: more sessions match")
    return " · ".join(parts) + "."


def render_session_page(page: SessionPageResult) -> str:
    if page.scan is not None:
        return _render_scanned_page(page, page.scan)
    if not page.sessions:
        matching = f" ({page.total_count} in the project)" if page.total_count is not None else ""
        return f"No sessions match on page {page.page_index}{matching}."
    first = page.page_index * page.page_size + 1
    last = first + len(page.sessions) - 1
    of = f" of {page.filtered_count}" if page.filtered_count is not None else ""
    # The turns column only when some count is known (sessions read before): otherwise all dashes.
    with_turns = any(row.turns is not None for row in page.sessions)
    lines = [f"Sessions {first}-{last}{of}, newest first (page {page.page_index})."]
    lines.append(SESSION_COLUMNS if with_turns else SESSION_COLUMNS_NO_TURNS)
    lines.extend(session_line(row, with_turns=with_turns) for row in page.sessions)
    if page.has_more:
        lines.append(f"More: call list_sessions with page_index={page.next_page_index} and the same filters.")
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
    head = f"# Session {info.id} — {format_status(info)}"
    who = [f"companion {info.companion_id or '-'}" + (f" ({info.companion_name})" if info.companion_name else "")]
    if info.agent_id or info.agent_name:
        who.append(f"agent {info.agent_id or '-'}" + (f" ({info.agent_name})" if info.agent_name else ""))
    if info.external_client_id:
        who.append(f"client {info.external_client_id}")
    if info.tags:
        who.append(f"tags {format_tags(info.tags)}")
    for label, value in (("type", info.session_type), ("modality", info.modality), ("mode", info.mode)):
        if value:
            who.append(f"{label} {value}")
    config = []
    if info.knowledge_base_id:
        config.append(f"knowledge base {info.knowledge_base_id}")
    if info.functions:
        config.append("functions " + ",".join(info.functions))
    if info.faq_ids:
        config.append("FAQs " + ",".join(info.faq_ids))
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
        lines.append(tools_line(info.tools))
    if info.extra:
        lines.append("other fields: " + ", ".join(f"{k}={_compact(v)}" for k, v in sorted(info.extra.items())))
    return lines


MAX_TOOLS_SHOWN = 10


def tools_line(tools: Sequence[ToolConnection]) -> str:
    """``tools: 2 connected · sms_gateway failed (connection_failed: WebSocket handshake timed out)``."""
    connected = sum(1 for t in tools if t.state == "connected")
    others = [t for t in tools if t.state != "connected"]
    cells = [f"{connected} connected"] if connected else []
    for tool in others[:MAX_TOOLS_SHOWN]:
        reason = ": ".join(part for part in (tool.error_code, tool.error_message) if part)
        why = f" ({shorten_text(reason, 120)})" if reason else ""
        cells.append(f"{shorten_text(tool.name, 60)} {tool.state}{why}")
    if len(others) > MAX_TOOLS_SHOWN:
        cells.append(f"{len(others) - MAX_TOOLS_SHOWN} more not connected")
    return "tools: " + " · ".join(cells)


def turn_line(turn: Turn) -> str:
    role = turn.role.capitalize() if turn.role in ("agent", "user") else turn.role
    return f"[{format_offset(turn.offset_seconds)}] {role}: {turn.text}"


def render_transcript(result: TranscriptResult) -> str:
    lines = render_session_header(result.session)
    if result.total_turns == 0:
        lines.append("No transcript: nothing was said in this session.")
        return "\n".join(lines)
    if not result.turns:
        lines.append(f"No turns from offset {result.offset}: the transcript has {result.total_turns} turns.")
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
        f"[cut: {total_turns - next_offset} more turns. get_session_transcript session_id={session_id!r} "
        f"offset={next_offset} has the rest.]"
    )


def format_distribution(dist: Distribution, unit: str = "") -> str:
    if not dist.count:
        return "no data"
    show = format_duration if unit == "duration" else (lambda v: f"{v:g}")
    return f"median {show(dist.median)} · p90 {show(dist.p90)} · max {show(dist.max)} (n={dist.count})"


def format_counts(counts: dict[str, int]) -> str:
    return " · ".join(f"{key} {count}" for key, count in counts.items()) or "-"


def render_stats(result: StatsResult) -> str:
    scope = f"Statistics over {result.examined} sessions"
    if result.matched is not None:
        scope += f" of {result.matched} matching"
    if result.limit_hit:
        scope += f" (limit {result.limit} reached: raise limit to cover all)"
    lines = [scope + "."]
    if result.scan is not None:
        lines.append(render_scan(result.scan))
    lines += [
        f"status: {format_counts(result.by_status)}",
        f"companion: {format_counts(result.by_companion)}",
    ]
    if result.failed_reasons:
        lines.append(f"failed, by close reason: {format_counts(result.failed_reasons)}")
    if result.by_close_reason:
        lines.append(f"close reason: {format_counts(result.by_close_reason)}")
    lines.extend(f"tag {key}: {format_counts(values)}" for key, values in result.by_tag.items())
    for label, counts in (("session type", result.by_session_type), ("modality", result.by_modality)):
        if counts:
            lines.append(f"{label}: {format_counts(counts)}")
    lines.append(f"duration: {format_distribution(result.duration_seconds, 'duration')}")
    lines.append(f"turns: {format_distribution(result.turns)}")
    silent = ", ".join(result.no_user_turn_ids)
    lines.append(f"no user turn: {result.no_user_turn}" + (f" ({silent})" if silent else ""))
    lines += _companion_lines(result)
    lines += _cost_lines(result)
    if result.per_day:
        earlier = (
            f" (and {plural(result.earlier_days, 'earlier day')}: {result.earlier_sessions})"
            if result.earlier_days
            else ""
        )
        lines.append("sessions per day (UTC): " + " · ".join(f"{d.day} {d.sessions}" for d in result.per_day) + earlier)
    if result.busiest_hours:
        lines.append(
            "busiest hours (UTC): " + " · ".join(f"{h.hour_utc:02d}h {h.sessions}" for h in result.busiest_hours)
        )
    lines += _tool_lines(result)
    if result.unread:
        lines.append(
            f"transcripts not read: {len(result.unread)} (" + ", ".join(f.session_id for f in result.unread[:10]) + ")"
        )
    return "\n".join(lines)


def format_money(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}".rstrip("0").rstrip(".")


def _companion_lines(result: StatsResult) -> list[str]:
    if not result.companions:
        return []
    lines = ["per companion (companion | sessions | failed | cost | duration median | p90):"]
    for figures in result.companions:
        duration = figures.duration_seconds
        cells = [figures.companion_id, str(figures.sessions), str(figures.failed), format_money(figures.cost)]
        cells += [format_duration(duration.median), format_duration(duration.p90)]
        lines.append(" | ".join(cells))
    if result.other_companions:
        lines.append(f"({plural(result.other_companions, 'other companion')} left out)")
    return lines


def _cost_lines(result: StatsResult) -> list[str]:
    cost = result.cost
    if not cost.with_cost:
        return [f"cost: none sent yet ({plural(cost.without_cost, 'session')} without one)"]
    line = f"cost: {format_money(cost.total)} over {plural(cost.with_cost, 'session')}"
    line += f" (mean {format_money(cost.mean or 0)})"
    if cost.without_cost:
        line += f"; {cost.without_cost} without a cost yet (the API sets it once a session closes)"
    lines = [line]
    if len(cost.by_companion) > 1:
        lines.append("cost by companion: " + " · ".join(f"{a.key} {format_money(a.cost)}" for a in cost.by_companion))
    if cost.top_clients:
        clients = " · ".join(f"{a.key} {format_money(a.cost)} ({a.sessions})" for a in cost.top_clients)
        if cost.other_clients:
            clients += f" · {cost.other_clients} others {format_money(cost.other_clients_cost)}"
        lines.append(f"top external clients by cost (sessions): {clients}")
    return lines


def _tool_lines(result: StatsResult) -> list[str]:
    if result.turns.count == 0 and result.examined:
        return ["tool connections: not counted (they come with the transcripts: read_transcripts=true)"]
    failing = [t for t in result.tools if t.failed or t.canceled]
    if not result.tools:
        return ["tool connections: none reported (functionMetrics)"]
    if not failing:
        return [f"tool connections: all connected ({', '.join(t.name for t in result.tools)})"]
    lines = ["tool connection failures (tool | connected | failed | canceled | errors | latest message):"]
    for tool in failing:
        errors = ", ".join(f"{code} {n}" for code, n in tool.errors.items()) or "-"
        example = shorten_text(tool.example, 120) if tool.example else "-"
        lines.append(f"{tool.name} | {tool.connected} | {tool.failed} | {tool.canceled} | {errors} | {example}")
    if result.other_tools:
        lines.append(f"({plural(result.other_tools, 'other tool')} left out)")
    return lines


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
    return shorten_text(text, 200)


def transcript_window(session: SessionDetail, offset: int, limit: int, budget: int) -> TranscriptResult:
    """The turns from ``offset`` that fit both ``limit`` and ``budget`` characters of turn lines.

    At least one turn is returned (shortened if it alone is over budget), so paging always
    moves forward.
    """
    origin = transcript_origin(session)
    info = session_info(session)
    items = session.turns
    window = [make_turn(i, items[i], origin) for i in range(offset, min(len(items), offset + limit))]
    budget -= sum(len(line) + 1 for line in render_session_header(info)) + TRANSCRIPT_FRAME
    count = fit_lines((turn_line(t) for t in window), budget)
    window = window[:count]
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
