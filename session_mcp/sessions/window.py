"""Time windows: ``since``/``until`` as tools and commands take them, and windows in words.

``parse_window`` reads ISO 8601 dates and date-times (UTC without an offset), durations back from
now (``90m``, ``24h``, ``7d``, ``2w``) and ``today``/``yesterday`` (UTC days); ``window_of``
closes an open end (or one after now) at now, so the pages of one window agree;
``parse_window_words`` reads a window as a person asks for it ("last week", "since yesterday",
"2026-09-01 to 2026-09-15").
Every bad value is an ``InvalidInputError`` that says what to write. A window reaches no further
than the times a session can have (``models`` reads any other as unknown): ``since='0001-01-01'``
starts at ``EARLIEST``, ``until='9999-12-31'`` ends at ``LATEST``, so the scan, the cursors and the
day counts only ever see plausible times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from session_mcp.companion.models import EARLIEST_TIME, LATEST_TIME
from session_mcp.companion.sanitize import shorten
from session_mcp.errors import InvalidInputError

DAY_WORDS = ("today", "yesterday")
_DURATION = re.compile(r"(\d{1,6})\s*(m|min|h|d|w)", re.IGNORECASE)
_UNIT = {"m": timedelta(minutes=1), "min": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}
_UNIT["w"] = timedelta(weeks=1)
MAX_LOOKBACK = timedelta(days=3_660)
EARLIEST = datetime.fromtimestamp(EARLIEST_TIME, UTC)
LATEST = datetime.fromtimestamp(LATEST_TIME, UTC)
TIME_FORMS = (
    "an ISO 8601 date or date-time (2026-09-20, 2026-09-20T14:00, 2026-09-20T14:00:00+02:00; UTC when it has "
    "no offset), a duration back from now (90m, 24h, 7d, 2w), or today / yesterday (UTC days)"
)


def iso(moment: datetime) -> str:
    """``2026-09-20T14:00:00Z``: how windows are written in answers and in the calls they suggest."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"  # years < 1000 too


class Timed(Protocol):
    """What a window looks at: a session's start and creation times."""

    @property
    def started(self) -> datetime | None: ...

    @property
    def created(self) -> datetime | None: ...


@dataclass(frozen=True)
class Window:
    """The half-open interval ``[start, end)`` in UTC; ``None`` leaves that side open."""

    start: datetime | None = None
    end: datetime | None = None

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def contains(self, session: Timed) -> bool:
        """Whether the session started (was created, if it never started) in the window."""
        if not self.bounded:
            return True
        moment = session.started or session.created
        return self.holds(moment)

    def holds(self, moment: datetime | None) -> bool:
        """Whether ``moment`` is in the window; an unknown time is in no bounded window."""
        if moment is None:
            return not self.bounded
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def describe(self) -> str:
        """The window as UTC times, for answers."""
        if self.start and self.end:
            return f"{iso(self.start)} to {iso(self.end)}"
        if self.start:
            return f"since {iso(self.start)}"
        if self.end:
            return f"before {iso(self.end)}"
        return "all time"

    def arguments(self) -> dict[str, str]:
        """``since``/``until`` that select exactly this window, whenever they are used."""
        bounds = {"since": self.start, "until": self.end}
        return {name: iso(moment) for name, moment in bounds.items() if moment is not None}


def window_of(since: str | None, until: str | None, *, now: datetime) -> Window:
    """``parse_window``, with an end that is open or after ``now`` closed at ``now``: pages of one window
    then agree, and no day after now is counted (``until='9999-12-31'``)."""
    window = parse_window(since, until, now=now)
    now = now.astimezone(UTC)
    if not window.bounded or (window.end is not None and window.end <= now):
        return window
    return Window(window.start, now)


class UnreadableTimeError(InvalidInputError):
    """A ``since`` or ``until`` that is no time this server can read."""


def parse_window(since: str | None, until: str | None, *, now: datetime) -> Window:
    """The window of the ``since`` and ``until`` arguments; empty or ``None`` leaves a side open.

    Each is an ISO 8601 date or date-time (UTC when it has no offset), a duration back from
    ``now`` (``90m``, ``24h``, ``7d``, ``2w``), ``today`` or ``yesterday`` (UTC days), or ``now``.
    ``since`` given as a day word alone covers that whole day: ``since="yesterday"`` is
    yesterday from 00:00 to 24:00 UTC. Raises ``InvalidInputError`` saying what to write.
    """
    now = now.astimezone(UTC)
    since = (since or "").strip()
    until = (until or "").strip()
    start = _moment(since, "since", now) if since else None
    end = _moment(until, "until", now) if until else None
    if start is not None and end is None and since.casefold() in DAY_WORDS:
        end = start + timedelta(days=1)
    if start is not None and start > now:
        raise InvalidInputError(
            f"since={shorten(since, 40)!r} is {iso(start)}, after now ({iso(now)}, UTC): no session can be in that "
            "window. Write a time in the past, e.g. since='24h' or since='yesterday'."
        )
    if start == now and end is None:  # since='now' or '0m': [now, now) holds no session
        raise InvalidInputError(
            f"since={shorten(since, 40)!r} is now ({iso(now)}, UTC), so the window [since, now) is empty. Pass a "
            "time in the past: since='1h', since='today' or since='2026-09-20', or leave since out."
        )
    if start is not None and end is not None and end <= start:
        day = start.date().isoformat()
        raise InvalidInputError(
            f"until ({iso(end)}) is not after since ({iso(start)}): the window [since, until) is empty. until is "
            f"exclusive: for the whole of {day} write since='{day}', until='{_next_day(start).date().isoformat()}'."
        )
    if end is not None and end <= EARLIEST:
        raise InvalidInputError(
            f"until={shorten(until, 40)!r} is {iso(end)}: no session can be in that window, as this server reads "
            f"no session time before {iso(EARLIEST)}. Write a later time, e.g. until='today', or leave until out."
        )
    return _reachable(start, end)


def _reachable(start: datetime | None, end: datetime | None) -> Window:
    """The window from ``start`` to ``end``, clamped to the times a session can have."""
    return Window(None if start is None else max(start, EARLIEST), None if end is None else min(end, LATEST))


def _moment(text: str, name: str, now: datetime) -> datetime:
    word = text.casefold()
    today = datetime.combine(now.date(), datetime.min.time(), UTC)
    if word == "now":
        return now
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    duration = _DURATION.fullmatch(word)
    if duration:
        span = int(duration.group(1)) * _UNIT[duration.group(2)]
        if span > MAX_LOOKBACK:
            raise InvalidInputError(f"{name}={text!r} reaches back more than ten years: write a date instead.")
        return now - span
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UnreadableTimeError(f"{name}: cannot read {shorten(text, 40)!r} as a time. Write {TIME_FORMS}.") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # before year 1 or after 9999 in UTC: the calendar's edge is as far out of reach
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _next_day(day: datetime) -> datetime:
    """The start of the day after ``day``; the calendar's last moment when ``day`` is its last day."""
    try:
        return day + timedelta(days=1)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


# -- windows in words (the prompts) ----------------------------------------------------------

_LAST_N = re.compile(r"(?:the\s+)?(?:last|past)\s+(\d{1,4})?\s*(minute|hour|day|week)s?", re.IGNORECASE)
_RANGE = re.compile(r"(?:from\s+|between\s+)?(\S+)\s*(?:\.\.|\s+to\s+|\s+and\s+|\s+until\s+)\s*(\S+)", re.IGNORECASE)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
WORD_FORMS = (
    "'today', 'yesterday', 'this week', 'last week', 'this month', 'last month', 'last 7 days', 'past 24 hours', "
    "'7d', '2026-09-20' (that day), 'since 2026-09-01', 'after yesterday', '2026-09-01 to 2026-09-15' (both days "
    "included)"
)


def parse_window_words(text: str, *, now: datetime) -> Window:
    """A window written in words, as a person asks for it; raises ``InvalidInputError`` listing the forms.

    A day (a bare date, today, yesterday) means that whole day: alone, as the end of a range
    ("2026-09-01 to 2026-09-15" takes the 15th in), and "since X" runs from its start to now,
    "after X" from its end. Weeks start on Monday, months on the 1st (UTC); every other form is
    read as ``parse_window`` reads ``since`` and ``until``.
    """
    words = " ".join(text.split()).casefold()
    now = now.astimezone(UTC)
    today = datetime.combine(now.date(), datetime.min.time(), UTC)
    monday = today - timedelta(days=today.weekday())
    month = today.replace(day=1)
    try:
        if not words or words in ("all", "all time", "everything"):
            return Window()
        if words in ("this week", "last week"):
            start = monday if words == "this week" else monday - timedelta(weeks=1)
            return Window(start, None if words == "this week" else monday)
        if words in ("this month", "last month"):
            before = (month - timedelta(days=1)).replace(day=1)
            return Window(month, None) if words == "this month" else Window(before, month)
        last = _LAST_N.fullmatch(words)
        if last:
            unit = {"minute": "m", "hour": "h", "day": "d", "week": "w"}[last.group(2)]
            return parse_window(f"{last.group(1) or 1}{unit}", None, now=now)
        for prefix in ("since ", "after ", "until ", "before "):
            if words.startswith(prefix):
                value = words[len(prefix) :]
                if prefix in ("until ", "before "):
                    return parse_window(None, value, now=now)
                day = _day_of(value, now)
                begins = _next_day(day) if day is not None and prefix == "after " else day
                return _open_from(begins, value, now)
        span = _RANGE.fullmatch(words)
        if span:
            first, end = span.group(1), span.group(2)
            end_day = _day_of(end, now)
            return parse_window(first, iso(_next_day(end_day)) if end_day else end, now=now)
        day = _day_of(words, now)
        if day is not None:
            return parse_window(words, iso(_next_day(day)), now=now)
        return parse_window(words, None, now=now)
    except UnreadableTimeError:
        raise InvalidInputError(
            f"The window {shorten(text, 60)!r} is not one this server can read: write it like {WORD_FORMS}."
        ) from None


def _day_of(text: str, now: datetime) -> datetime | None:
    """00:00 UTC of the day ``text`` names (a date, today, yesterday); ``None`` for any other time."""
    if text in DAY_WORDS or _DATE.fullmatch(text):
        return _moment(text, "since", now)
    return None


def _open_from(start: datetime | None, value: str, now: datetime) -> Window:
    """From ``start`` (else the time ``value`` says) to now, the end left open as tools leave it."""
    if start is None:
        return parse_window(value, None, now=now)
    if start > now:
        raise InvalidInputError(
            f"after {shorten(value, 40)!r} begins after now ({iso(now)}, UTC): write an earlier day."
        )
    return _reachable(start, None)
