"""What every answer's text shares: times, durations and counts in words, and the last bound.

Times are ISO 8601 UTC (to the minute in lists), or local with their offset (``2026-12-06 09:14
-05:00``) when a call asked for another time zone (``show_times_in``); durations like ``4m 55s``,
offsets ``mm:ss``; ``fit_text`` is the bound every tool answer passes last. Structured output keeps UTC.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from session_mcp.render.lines import ID_CHARS, one_line, shorten_text
from session_mcp.sessions.window import local_time
from session_mcp.sessions.window_words import is_utc, zone_name

# The zone the text of this call's answer shows times in: a context variable, so each request (its
# own task) has its own, and the renderers need no argument threaded through every line they write.
_SHOWN_ZONE: ContextVar[tzinfo] = ContextVar("shown_zone", default=UTC)


def show_times_in(zone: tzinfo) -> None:
    """Show the times of this call's (this task's) answer text in ``zone``."""
    _SHOWN_ZONE.set(zone)


def shown_zone() -> tzinfo:
    return _SHOWN_ZONE.get()


def zone_label() -> str:
    """``UTC`` or ``America/New_York``: what a column header or a figure says its times are in."""
    return zone_name(_SHOWN_ZONE.get())


def shown_columns(header: str) -> str:
    """A column header whose ``(UTC)`` says the zone this call's times are shown in."""
    return header.replace("(UTC)", f"({zone_label()})")


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
    """ISO 8601 UTC, to the minute unless ``seconds``; local with its offset in another zone; ``-`` when unknown."""
    if moment is None:
        return "-"
    zone = _SHOWN_ZONE.get()
    if is_utc(zone):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ" if seconds else "%Y-%m-%dT%H:%MZ")
    return local_time(moment, zone, seconds=seconds)


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


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def show_id(session_id: str) -> str:
    return one_line(session_id, ID_CHARS)


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
