"""Pure functions that turn results into text a model reads well.

Compact on purpose: context is the scarce resource. A column named once in a header instead of
a key per row, no empty fields, times in ISO 8601 UTC to the minute in lists, durations like
``4m 55s``, and every cut said plainly with the call that gets the rest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from session_mcp.models import SessionDetail
from session_mcp.results import (
    BatchResult,
    BatchTranscript,
    Distribution,
    Failure,
    SessionInfo,
    SessionPageResult,
    SessionRow,
    StatsResult,
    TranscriptResult,
    Turn,
    make_turn,
    session_info,
    session_row,
    transcript_origin,
)

CUT_MARK = "…"
BATCH_OVERHEAD = 400  # the summary line and separators of a batch answer
TRANSCRIPT_FRAME = 200  # the "Transcript turns a-b of n:" line and the cut note under the turns


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


def render_session_page(page: SessionPageResult) -> str:
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


def render_session_header(info: SessionInfo) -> list[str]:
    """The lines above a transcript: who, what configuration, when."""
    head = f"# Session {info.id} — {format_status(info)}"
    who = [f"companion {info.companion_id or '-'}"]
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
    if info.extra:
        lines.append("other fields: " + ", ".join(f"{k}={_compact(v)}" for k, v in sorted(info.extra.items())))
    return lines


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


def batch_header(row: SessionRow, total_turns: int) -> str:
    """The one-line header of a session inside a batch."""
    cells = [f"## {row.id}", row.companion_id or "-"]
    if row.external_client_id:
        cells.append(f"client {row.external_client_id}")
    cells.append(format_time(row.started_at or row.created_at))
    cells += [format_duration(row.duration_seconds), format_status(row), plural(total_turns, "turn")]
    if row.tags:
        cells.append(format_tags(row.tags))
    return " · ".join(cells)


def cut_note(session_id: str, total_turns: int, next_offset: int) -> str:
    """The line that ends a cut transcript: how much is left and the call that reads it."""
    return (
        f"[cut: {total_turns - next_offset} more turns. get_session_transcript session_id={session_id!r} "
        f"offset={next_offset} has the rest.]"
    )


def render_batch_transcript(item: BatchTranscript) -> str:
    lines = [batch_header(item.session, item.total_turns)]
    if item.total_turns == 0:
        lines.append("(no transcript)")
    lines.extend(turn_line(turn) for turn in item.turns)
    if item.next_offset is not None:
        lines.append(cut_note(item.session.id, item.total_turns, item.next_offset))
    return "\n".join(lines)


def render_batch(result: BatchResult) -> str:
    summary = f"Transcripts of {plural(len(result.transcripts), 'session')}"
    if result.matched is not None:
        summary += f" (newest {result.requested} of {result.matched} matching)"
    notes = []
    if result.cut_sessions:
        notes.append(f"{result.cut_sessions} cut to fit {result.budget_chars} characters")
    if result.shortened_messages:
        notes.append(f"{result.shortened_messages} long messages shortened")
    if result.failures:
        notes.append(f"{len(result.failures)} could not be read")
    summary += (": " + "; ".join(notes) if notes else "") + "."
    if result.cut_sessions or result.shortened_messages:
        summary += " get_session_transcript reads any one in full."
    blocks = [summary, *(render_batch_transcript(item) for item in result.transcripts)]
    if result.failures:
        blocks.append("Not read:\n" + "\n".join(f"- {f.session_id}: {f.reason}" for f in result.failures))
    return "\n\n".join(blocks)


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
    lines = [
        scope + ".",
        f"status: {format_counts(result.by_status)}",
        f"companion: {format_counts(result.by_companion)}",
    ]
    if result.by_close_reason:
        lines.append(f"close reason: {format_counts(result.by_close_reason)}")
    lines.extend(f"tag {key}: {format_counts(values)}" for key, values in result.by_tag.items())
    lines.append(f"duration: {format_distribution(result.duration_seconds, 'duration')}")
    lines.append(f"turns: {format_distribution(result.turns)}")
    silent = ", ".join(result.no_user_turn_ids)
    lines.append(f"no user turn: {result.no_user_turn}" + (f" ({silent})" if silent else ""))
    if result.busiest_hours:
        lines.append(
            "busiest hours (UTC): " + " · ".join(f"{h.hour_utc:02d}h {h.sessions}" for h in result.busiest_hours)
        )
    if result.unread:
        lines.append(
            f"transcripts not read: {len(result.unread)} (" + ", ".join(f.session_id for f in result.unread[:10]) + ")"
        )
    return "\n".join(lines)


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


def fit_batch(
    sessions: list[SessionDetail],
    failures: list[Failure],
    *,
    requested: int,
    matched: int | None,
    max_message_chars: int,
    budget: int,
) -> BatchResult:
    """Compact transcripts sharing ``budget`` characters: no session crowds out the others."""
    shortened = 0
    blocks: list[tuple[SessionRow, list[Turn], int]] = []
    for session in sessions:
        origin = transcript_origin(session)
        turns = []
        for index, item in enumerate(session.turns):
            text = shorten_text(item.text, max_message_chars)
            shortened += text != item.text
            turns.append(make_turn(index, item, origin, text))
        blocks.append((session_row(session, len(turns)), turns, len(session.turns)))
    sizes = [len(batch_header(row, total)) + sum(len(turn_line(t)) + 1 for t in turns) for row, turns, total in blocks]
    overhead = BATCH_OVERHEAD + sum(len(f.reason) + len(f.session_id) + 4 for f in failures)
    overhead += sum(len(cut_note(row.id, total, total)) + 1 for row, _, total in blocks)  # room for any cut
    caps = share_budget(sizes, max(0, budget - overhead))
    transcripts = []
    for (row, turns, total), cap, size in zip(blocks, caps, sizes, strict=True):
        kept = turns
        if cap < size:
            room = cap - len(batch_header(row, total))
            kept = turns[: fit_lines((turn_line(t) for t in turns), room, at_least=0)]
        cut = len(kept) < len(turns)
        transcripts.append(
            BatchTranscript(session=row, turns=kept, total_turns=total, next_offset=len(kept) if cut else None)
        )
    return BatchResult(
        transcripts=transcripts,
        failures=failures,
        requested=requested,
        matched=matched,
        budget_chars=budget,
        shortened_messages=shortened,
        cut_sessions=sum(1 for t in transcripts if t.next_offset is not None),
    )


def share_budget(sizes: Sequence[int], budget: int) -> list[int]:
    """Per-item character caps whose sum fits ``budget``: small items keep all, large ones share the rest.

    Water-filling: the cap ``c`` is the largest with ``sum(min(size, c)) <= budget``.
    """
    if sum(sizes) <= budget:
        return list(sizes)
    remaining = budget
    caps = [0] * len(sizes)
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    for position, index in enumerate(order):
        fair = remaining // (len(sizes) - position)
        caps[index] = min(sizes[index], fair)
        remaining -= caps[index]
    return caps
