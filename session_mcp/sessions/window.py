"""Time windows: ``since``/``until`` as tools, prompts and commands take them, in a time zone.

``parse_window`` reads each side with the one vocabulary of ``window_words.py`` (a day, a week, a
month, last night, a duration back from now, a weekday, a date, a date-time, a range of dates)
in the caller's time zone; ``since`` alone that names a span ("yesterday", "last week",
"2026-12-01..2026-12-05") ends where the span ends. ``window_of`` closes an open end (or one after
now) at now, so the pages of one window agree. Every bad value is an ``InvalidInputError`` that
says what to write. A window reaches no further than the times a session can have (``models``
reads any other as unknown): ``since='0001-01-01'`` starts at ``EARLIEST``, ``until='9999-12-31'``
ends at ``LATEST``, so the scan, the cursors and the day counts only ever see plausible times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from session_mcp.companion.models import EARLIEST_TIME, LATEST_TIME
from session_mcp.companion.sanitize import shorten
from session_mcp.errors import InvalidInputError
from session_mcp.sessions.window_words import is_utc, read_span, zone_name

EARLIEST = datetime.fromtimestamp(EARLIEST_TIME, UTC)
LATEST = datetime.fromtimestamp(LATEST_TIME, UTC)


def iso(moment: datetime) -> str:
    """``2026-09-20T14:00:00Z``: how windows are written in answers and in the calls they suggest."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"  # years < 1000 too


def local_time(moment: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """``2026-12-06 09:14 -05:00`` in ``zone``; ISO 8601 UTC (``iso``) when the zone is UTC."""
    if is_utc(zone):
        return iso(moment)
    try:
        local = moment.astimezone(zone)
    except (OverflowError, ValueError):  # the calendar's edge: no local time to show
        return iso(moment)
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + f" {offset[:3]}:{offset[3:]}"


class Timed(Protocol):
    """What a window looks at: a session's start and creation times."""

    @property
    def started(self) -> datetime | None: ...

    @property
    def created(self) -> datetime | None: ...


@dataclass(frozen=True)
class Window:
    """The half-open interval ``[start, end)`` in UTC; ``None`` leaves that side open.

    ``zone`` is the time zone it was asked in: answers show its bounds there (it never changes
    which sessions are in it).
    """

    start: datetime | None = None
    end: datetime | None = None
    zone: tzinfo = field(default=UTC, compare=False)

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
        """The window for answers: UTC times, or local ones with their offset and the zone's name."""
        shown = f" ({zone_name(self.zone)})" if not is_utc(self.zone) and self.bounded else ""
        if self.start and self.end:
            return f"{local_time(self.start, self.zone)} to {local_time(self.end, self.zone)}{shown}"
        if self.start:
            return f"since {local_time(self.start, self.zone)}{shown}"
        if self.end:
            return f"before {local_time(self.end, self.zone)}{shown}"
        return "all time"

    def arguments(self) -> dict[str, str]:
        """``since``/``until`` that select exactly this window, whenever they are used."""
        bounds = {"since": self.start, "until": self.end}
        return {name: iso(moment) for name, moment in bounds.items() if moment is not None}


def window_of(since: str | None, until: str | None, *, now: datetime, zone: tzinfo = UTC) -> Window:
    """``parse_window``, with an end that is open or after ``now`` closed at ``now``: pages of one window
    then agree, and no day after now is counted (``until='9999-12-31'``)."""
    window = parse_window(since, until, now=now, zone=zone)
    now = now.astimezone(UTC)
    if not window.bounded or (window.end is not None and window.end <= now):
        return window
    return Window(window.start, now, zone)


def parse_window(
    since: str | None, until: str | None, *, now: datetime, zone: tzinfo = UTC, dates_whole: bool = False
) -> Window:
    """The window of the ``since`` and ``until`` arguments in ``zone``; empty or ``None`` leaves a side open.

    Each side is written in the one vocabulary (``window_words.WINDOW_FORMS``); a date-time without an offset
    is the zone's. ``since`` alone that names a span covers it whole: ``since="yesterday"`` is
    yesterday from 00:00 to 24:00 local; a bare date too with ``dates_whole`` (a window in words:
    "2026-09-20" is that day), else it starts an open window. ``until`` ends where the span it
    names begins (``until='today'``: before today). Raises ``InvalidInputError`` saying what to write.
    """
    now = now.astimezone(UTC)
    since = (since or "").strip()
    until = (until or "").strip()
    named = read_span(since, now=now, zone=zone, name="since") if since else None
    start = named.start if named else None
    alone = named.end if named and (dates_whole or not named.a_date) else None
    end = read_span(until, now=now, zone=zone, name="until").point if until else alone
    if start is not None and start > now:
        raise InvalidInputError(
            f"since={shorten(since, 40)!r} is {iso(start)}, after now ({iso(now)}, UTC): no session can be in that "
            "window. Write a time in the past, e.g. since='24h' or since='yesterday'."
        )
    opened = since.casefold().startswith(("since ", "after "))  # "since today" at 00:00: now on, as asked
    if start == now and end is None and not opened:  # since='now' or '0m': [now, now) holds no session
        raise InvalidInputError(
            f"since={shorten(since, 40)!r} is now ({iso(now)}, UTC), so the window [since, now) is empty. Pass a "
            "time in the past: since='1h', since='today' or since='2026-09-20', or leave since out."
        )
    if start is not None and end is not None and end <= start:
        day = _local_day(start, zone)
        raise InvalidInputError(
            f"until ({iso(end)}) is not after since ({iso(start)}): the window [since, until) is empty. until is "
            f"exclusive: for the whole of {day} write since='{day}', until='{_local_day(start, zone, 1)}'."
        )
    if end is not None and end <= EARLIEST:
        raise InvalidInputError(
            f"until={shorten(until, 40)!r} is {iso(end)}: no session can be in that window, as this server reads "
            f"no session time before {iso(EARLIEST)}. Write a later time, e.g. until='today', or leave until out."
        )
    return Window(None if start is None else max(start, EARLIEST), None if end is None else min(end, LATEST), zone)


def _local_day(moment: datetime, zone: tzinfo, later: int = 0) -> str:
    """The date of ``moment`` in ``zone`` (``later`` days on), for an example in an error."""
    try:
        return (moment.astimezone(zone).date() + timedelta(days=later)).isoformat()
    except (OverflowError, ValueError):
        return moment.date().isoformat()
