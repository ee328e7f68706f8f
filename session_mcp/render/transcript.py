"""One session with a window of its transcript: the result model, the window fitted to a budget, its text.

Message text goes through ``message_text`` (``session_mcp.render.lines``), so a message's second
and later lines are indented by four spaces and never read as a turn (``[mm:ss] Agent:``), a
header or a table row. Every line of a transcript is therefore a header line, a turn line whose
``[mm:ss] Role:`` prefix comes from a real turn, or an indented continuation of the message above it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from session_mcp.companion.models import ConversationItem, SessionDetail, from_unix
from session_mcp.render.common import format_offset, plural
from session_mcp.render.lines import message_text, one_line, shorten_text
from session_mcp.render.session_info import SessionInfo, render_session_header, session_info

ROLE_CHARS = 40
TRANSCRIPT_FRAME = 200  # the "Transcript turns a-b of n:" line and the cut note under the turns


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


def make_turn(index: int, item: ConversationItem, origin: float | None, text: str | None = None) -> Turn:
    offset = None if origin is None or item.timestamp is None else max(0.0, item.timestamp - origin)
    return Turn(
        index=index,
        role=shorten_text(item.role, ROLE_CHARS),
        text=item.text if text is None else text,
        timestamp=from_unix(item.timestamp),
        offset_seconds=offset,
    )


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


def transcript_window(session: SessionDetail, offset: int, limit: int, budget: int) -> TranscriptResult:
    """The turns from ``offset`` that fit both ``limit`` and ``budget`` characters of turn lines.

    At least one turn is returned (shortened if it alone is over budget), so paging always
    moves forward.
    """
    origin = session.turn_origin
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
