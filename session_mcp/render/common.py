"""What every answer's text shares: times, durations and counts in words, and the last bound.

Times are ISO 8601 UTC (to the minute in lists), durations like ``4m 55s``, offsets ``mm:ss``;
``fit_text`` is the bound every tool answer passes last.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

from session_mcp.render.lines import ID_CHARS, one_line, shorten_text


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
