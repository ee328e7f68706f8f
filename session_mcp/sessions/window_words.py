"""Times and windows in words, in a time zone: the one vocabulary of tools, prompts and the CLI.

``read_span`` turns one text (a ``since``, an ``until``, a prompt's window) into the span it
names: a day, a week, a month, a night, a range of dates, or an instant with no end of its own.
Days, weeks (from Monday) and months are the zone's own, so a DST day is 23 or 25 hours; a
duration in days or weeks goes back in local wall time, one in hours or minutes in real time.
Everything comes out in UTC. ``zone_named`` reads an IANA name; an unknown one is a clear error.
A time past the calendar's edge in UTC comes out as ``datetime.min``/``max`` (UTC), which
``window.py`` clamps to the times a session can have.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from session_mcp.companion.sanitize import shorten
from session_mcp.errors import InvalidInputError

MAX_ZONE_NAME = 64
MAX_LOOKBACK = timedelta(days=3_660)
NIGHT_STARTS, NIGHT_ENDS = time(18), time(6)
WINDOW_FORMS = (
    "today, yesterday, this/last week|month, last night, last 3 days, 90m, 24h, 7d, since monday, before "
    "2026-12-01, an ISO 8601 date or time (2026-12-06T14:00, local), 2026-12-01..2026-12-05, now"
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = {name[:3]: index for index, name in enumerate(WEEKDAYS)} | {n: i for i, n in enumerate(WEEKDAYS)}
_DURATION = re.compile(r"([0-9]{1,7})\s*(m|min|h|d|w)")
_LAST_N = re.compile(r"(?:the\s+)?(?:last|past)\s+([0-9]{1,7})?\s*(minute|min|hour|day|week)s?")
_UNIT = {"minute": "m", "min": "m", "hour": "h", "day": "d", "week": "w"}
_RANGE = re.compile(r"(?:from\s+|between\s+)?(.+?)\s*(?:\.\.|\s+to\s+|\s+and\s+|\s+until\s+)\s*(.+)")
_UNIT_SPAN = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_ALL = ("all", "all time", "everything")


class UnreadableTimeError(InvalidInputError):
    """A ``since``, ``until`` or window that is no time this server can read."""


@dataclass(frozen=True)
class Span:
    """What one text names, in UTC: ``[start, end)``; ``None`` leaves a side open (an instant has no end).

    ``a_date`` marks a bare date: a whole day in a range or a window, but as ``since`` the start of
    an open window, as it has always been (``since='2026-09-01'``: from then on).
    """

    start: datetime | None
    end: datetime | None
    a_date: bool = False

    @property
    def point(self) -> datetime | None:
        """The instant the text names as an ``until``: where the span begins (or, open before, ends)."""
        return self.start if self.start is not None else self.end


# -- time zones ------------------------------------------------------------------------------


def zone_named(name: str | None) -> tzinfo:
    """The IANA time zone ``name`` (any letter case); ``""``/``None``/``UTC`` is UTC.

    Raises ``InvalidInputError`` naming the zone and giving examples: a name is never a path.
    """
    text = (name or "").strip()
    if not text or text.upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    if len(text) <= MAX_ZONE_NAME:
        key = _zone_keys().get(text.casefold())
        if key is not None:
            try:
                return ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError, OSError):  # removed or unreadable since the list was made
                pass
    raise InvalidInputError(
        f"unknown time zone {shorten(text, 40)!r}: give an IANA name such as America/New_York, Europe/Berlin, "
        "Asia/Kolkata or UTC."
    )


@functools.cache
def _zone_keys() -> dict[str, str]:
    """The zones this machine knows, by their case-folded name: looked up, never opened as a path."""
    return {key.casefold(): key for key in available_timezones()}


def zone_name(zone: tzinfo) -> str:
    """``America/New_York``, or ``UTC``."""
    return getattr(zone, "key", None) or str(zone)


def is_utc(zone: tzinfo) -> bool:
    """UTC under any of its names: its times are shown as ISO 8601 with ``Z``."""
    return zone_name(zone) in ("UTC", "Etc/UTC", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "UCT", "Universal", "Zulu")


# -- spans -----------------------------------------------------------------------------------


def read_span(text: str, *, now: datetime, zone: tzinfo, name: str) -> Span:
    """The span ``text`` names as of ``now`` in ``zone``; raises ``InvalidInputError`` saying what to write.

    "since X" runs from X's start with no end, "after X" from X's end (its start for an instant),
    "before X"/"until X" ends where X begins; a range "X..Y" (or "X to Y", "between X and Y")
    takes Y whole when Y is a day, a week or a month.
    """
    words = " ".join(text.split()).casefold()
    now = now.astimezone(UTC)
    if words in _ALL:
        return Span(None, None)
    for prefix in ("since ", "after ", "until ", "before "):
        if words.startswith(prefix):
            inner = _simple(words[len(prefix) :], now, zone, text, name)
            if prefix in ("until ", "before "):
                return Span(None, inner.point)
            start = inner.end if prefix == "after " and inner.end is not None else inner.start
            return Span(start, None)
    try:
        return _simple(words, now, zone, text, name)
    except UnreadableTimeError:
        span = _RANGE.fullmatch(words)
        if span is None:
            raise
    first = _simple(span.group(1), now, zone, text, name)
    last = _simple(span.group(2), now, zone, text, name)
    return Span(first.start, last.end if last.end is not None else last.point)


def _simple(words: str, now: datetime, zone: tzinfo, text: str, name: str) -> Span:
    """One time or named span, without a prefix or a range."""
    local = now.astimezone(zone)
    today = local.date()
    if words == "now":
        return Span(now, None)
    if words in ("today", "yesterday"):
        return _days(today - timedelta(days=words == "yesterday"), 1, zone)
    if words in ("this week", "last week"):
        monday = today - timedelta(days=today.weekday() + 7 * (words == "last week"))
        return _days(monday, 7, zone)
    if words in ("this month", "last month"):
        first = today.replace(day=1)
        if words == "last month":
            first = (first - timedelta(days=1)).replace(day=1)
        return Span(_at(first, time(), zone), _at(_next_month(first), time(), zone))
    if words == "last night":
        return Span(_at(today - timedelta(days=1), NIGHT_STARTS, zone), _at(today, NIGHT_ENDS, zone))
    if words in _WEEKDAY:  # the most recent one, today included
        return _days(today - timedelta(days=(today.weekday() - _WEEKDAY[words]) % 7), 1, zone)
    last = _LAST_N.fullmatch(words)
    if last:
        return Span(_back(now, int(last.group(1) or 1), _UNIT[last.group(2)], zone, text, name), None)
    duration = _DURATION.fullmatch(words)
    if duration:
        return Span(_back(now, int(duration.group(1)), duration.group(2)[0], zone, text, name), None)
    return _iso(words, zone, text, name)


def _iso(words: str, zone: tzinfo, text: str, name: str) -> Span:
    """An ISO 8601 date (that whole local day) or date-time (an instant; the zone's when it has no offset)."""
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", words):
        try:
            day = _days(date.fromisoformat(words), 1, zone)
            return Span(day.start, day.end, a_date=True)
        except ValueError:
            pass
    else:
        try:
            moment = datetime.fromisoformat(words.upper())
        except ValueError:
            pass
        else:
            return Span(_utc(moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)), None)
    raise UnreadableTimeError(f"{name}: cannot read {shorten(text, 40)!r} as a time. Write {WINDOW_FORMS}.")


def _back(now: datetime, amount: int, unit: str, zone: tzinfo, text: str, name: str) -> datetime:
    """``amount`` units before ``now``: minutes and hours in real time, days and weeks in local wall time."""
    span = amount * _UNIT_SPAN[unit]
    if span > MAX_LOOKBACK:
        raise InvalidInputError(f"{name}={shorten(text, 40)!r} reaches back more than ten years: write a date instead.")
    if unit in "mh":
        return now - span
    wall = now.astimezone(zone).replace(tzinfo=None) - span
    return _utc(wall.replace(tzinfo=zone))


def _days(first: date, count: int, zone: tzinfo) -> Span:
    """``count`` whole local days from ``first``, from midnight to midnight."""
    return Span(_at(first, time(), zone), _at(_shift(first, count), time(), zone))


def _at(day: date | None, clock: time, zone: tzinfo) -> datetime:
    """``clock`` on ``day`` in ``zone``, in UTC; past the calendar's edge, its first or last moment."""
    if day is None:
        return datetime.max.replace(tzinfo=UTC)
    return _utc(datetime.combine(day, clock, tzinfo=zone))


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # before year 1 or after 9999 in UTC
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _shift(day: date, days: int) -> date | None:
    """``day`` moved by ``days``; ``None`` past the calendar's last day."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def _next_month(first: date) -> date | None:
    if first.month < 12:
        return first.replace(month=first.month + 1)
    return None if first.year == 9999 else first.replace(year=first.year + 1, month=1)
