"""Windows in words in a time zone (sessions/window_words.py through window.parse_window): each form
at DST changes, month and year ends, 00:00 and 23:59:59 local, in zones with odd offsets.

Expected bounds are worked out from the local calendar (``zoneinfo`` and ``date`` arithmetic),
never from the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.errors import InvalidInputError
from session_mcp.sessions.window import Window, parse_window, window_of
from session_mcp.sessions.window_words import WEEKDAYS, is_utc, zone_named

ZONES = [
    UTC,
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Pacific/Chatham"),
]
HOUR = timedelta(hours=1)
CHECKS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Local moments that break naive arithmetic: DST changes (both directions, both zones with DST),
# month and year ends, the first and last second of a day.
EDGES = [
    datetime(2026, 3, 8, 1, 59, 59), datetime(2026, 3, 8, 3, 0), datetime(2026, 3, 9, 0, 0),  # New York springs
    datetime(2026, 11, 1, 1, 30), datetime(2026, 11, 1, 23, 59, 59), datetime(2026, 11, 2, 5, 59),  # ... falls back
    datetime(2026, 3, 29, 3, 30), datetime(2026, 3, 30, 0, 0), datetime(2026, 10, 25, 2, 30),  # Berlin
    datetime(2026, 10, 26, 0, 0), datetime(2026, 4, 5, 3, 45), datetime(2026, 9, 27, 3, 0),  # Chatham
    datetime(2026, 12, 31, 23, 59, 59), datetime(2027, 1, 1, 0, 0), datetime(2026, 2, 28, 23, 59, 59),
    datetime(2026, 3, 1, 0, 0), datetime(2026, 9, 21, 14, 13, 20), datetime(2026, 12, 6, 6, 0),
]  # fmt: skip
local_moments = st.sampled_from(EDGES) | st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31))


@st.composite
def clocks(draw: st.DrawFn) -> tuple[tzinfo, datetime]:
    """A zone and "now" in it, as an aware UTC instant (a local time in a DST gap moves on)."""
    zone = draw(st.sampled_from(ZONES))
    local = draw(local_moments).replace(tzinfo=zone)
    return zone, local.astimezone(UTC)


def local(moment: datetime | None, zone: tzinfo) -> datetime:
    assert moment is not None and moment.utcoffset() == timedelta(0), moment  # UTC out
    return moment.astimezone(zone)


def midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def assert_days(window: Window, first: date, days: int, zone: tzinfo) -> None:
    """``window`` is ``days`` whole local days from ``first``: local midnights, 24 h each but a DST day."""
    assert (window.start, window.end) == (midnight(first, zone), midnight(first + timedelta(days=days), zone))
    assert local(window.start, zone).time() == time() and local(window.end, zone).time() == time()
    assert window.start is not None and window.end is not None
    span = window.end - window.start
    assert abs(span - timedelta(days=days)) <= HOUR, span  # 23, 24 or 25 h a day
    assert window.holds(window.start) and not window.holds(window.end)  # until is exclusive


def read(text: str, zone: tzinfo, now: datetime) -> Window:
    return parse_window(text, None, now=now, zone=zone, dates_whole=True)


@CHECKS
@given(clock=clocks())
def test_day_week_month_forms_are_whole_local_spans(clock: tuple[tzinfo, datetime]) -> None:
    zone, now = clock
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    assert_days(read("today", zone, now), today, 1, zone)
    assert_days(read("Yesterday", zone, now), today - timedelta(days=1), 1, zone)
    assert_days(read("this week", zone, now), monday, 7, zone)
    assert_days(read("last  week", zone, now), monday - timedelta(weeks=1), 7, zone)
    assert_days(read(today.isoformat(), zone, now), today, 1, zone)
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    before = (first - timedelta(days=1)).replace(day=1)
    assert_days(read("this month", zone, now), first, (following - first).days, zone)
    assert_days(read("last month", zone, now), before, (first - before).days, zone)
    for index, name in enumerate(WEEKDAYS):  # the most recent one, today included
        day = today - timedelta(days=(today.weekday() - index) % 7)
        assert_days(read(name, zone, now), day, 1, zone)
        assert_days(read(name[:3], zone, now), day, 1, zone)
        since = read(f"since {name}", zone, now)
        assert (since.start, since.end) == (midnight(day, zone), None) and since.start is not None
        assert since.start <= now < since.start + timedelta(days=7, hours=1)


@CHECKS
@given(clock=clocks(), first=st.dates(date(2026, 1, 1), date(2026, 12, 31)), days=st.integers(0, 40))
def test_a_range_of_dates_takes_both_days_whole(clock: tuple[tzinfo, datetime], first: date, days: int) -> None:
    zone, now = clock
    last = first + timedelta(days=days)
    for text in (f"{first}..{last}", f"{first} to {last}", f"between {first} and {last}"):
        try:
            window = read(text, zone, now)
        except InvalidInputError as exc:  # only a window that begins after now
            assert midnight(first, zone) > now and "after now" in str(exc)
            continue
        assert_days(window, first, days + 1, zone)


@CHECKS
@given(clock=clocks())
def test_last_night_is_18_to_06_local_the_night_that_ended_this_morning(clock: tuple[tzinfo, datetime]) -> None:
    zone, now = clock
    today = now.astimezone(zone).date()
    window = read("last night", zone, now)
    start, end = local(window.start, zone), local(window.end, zone)
    assert (start.date(), start.time(), end.date(), end.time()) == (today - timedelta(days=1), time(18), today, time(6))
    assert abs((window.end - window.start) - timedelta(hours=12)) <= HOUR  # type: ignore[operator]
    # Before 06:00 it is the night so far: the tools close it at now.
    closed = window_of("last night", None, now=now, zone=zone)
    assert closed.end == min(window.end, now)  # type: ignore[type-var]


@CHECKS
@given(clock=clocks(), amount=st.integers(1, 400), unit=st.sampled_from(["hours", "days", "weeks", "h", "d", "w"]))
def test_last_n_units_go_back_in_real_hours_or_local_days(
    clock: tuple[tzinfo, datetime], amount: int, unit: str
) -> None:
    zone, now = clock
    text = f"last {amount} {unit}" if len(unit) > 1 else f"{amount}{unit}"
    window = read(text, zone, now)
    assert window.end is None and window.start is not None and window.start.utcoffset() == timedelta(0)
    if unit[0] == "h":
        assert window.start == now - amount * HOUR
        return
    span = timedelta(days=amount * (7 if unit[0] == "w" else 1))
    wall = now.astimezone(zone).replace(tzinfo=None) - span  # the same local clock time, that many days back
    assert abs(window.start - now + span) <= HOUR  # a DST change in between moves it by an hour at most
    assert local(window.start, zone).replace(tzinfo=None) in (wall, wall + HOUR)  # + an hour: a DST gap


@CHECKS
@given(clock=clocks(), offset_days=st.integers(1, 300), clock_time=st.times())
def test_a_date_time_without_an_offset_is_the_zones(
    clock: tuple[tzinfo, datetime], offset_days: int, clock_time: time
) -> None:
    zone, now = clock
    day = now.astimezone(zone).date() - timedelta(days=offset_days)
    # The text carries no fold: an hour a DST change repeats names its first occurrence (fold 0), as
    # ``datetime.fromisoformat`` reads it; a generated ``fold=1`` expected the second (2:00 on 26 Oct in Berlin).
    wall = datetime.combine(day, clock_time.replace(microsecond=0, fold=0))
    window = parse_window(wall.isoformat(), None, now=now, zone=zone)
    assert window.start == wall.replace(tzinfo=zone).astimezone(UTC)
    given_offset = parse_window(wall.isoformat() + "+05:30", None, now=now, zone=zone)  # an offset wins over the zone
    assert given_offset.start == wall.replace(tzinfo=ZoneInfo("Asia/Kolkata")).astimezone(UTC)


@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_since_alone_that_names_a_span_ends_with_it_and_until_ends_before_it(zone: tzinfo) -> None:
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)  # the Monday after New York fell back
    yesterday = read("yesterday", zone, now)
    assert parse_window("yesterday", None, now=now, zone=zone) == yesterday
    assert parse_window("last week", "yesterday", now=now, zone=zone).end == yesterday.start
    day = parse_window("2026-10-30", None, now=now, zone=zone)  # a date as since: from then on, as always
    assert (day.start, day.end) == (midnight(date(2026, 10, 30), zone), None)


@CHECKS
@given(text=st.text(max_size=40) | st.sampled_from(["last 0 days", "since", "tonight", "2026-02-29", "..", "to"]),
       clock=clocks())  # fmt: skip
def test_anything_else_is_a_window_or_one_line_listing_the_forms(text: str, clock: tuple[tzinfo, datetime]) -> None:
    zone, now = clock
    for dates_whole in (False, True):
        try:
            window = parse_window(text, None, now=now, zone=zone, dates_whole=dates_whole)
        except InvalidInputError as exc:
            message = str(exc)
            assert "\n" not in message and len(message) < 600
            continue
        if window.start is not None and window.end is not None:
            assert window.start < window.end
        window.describe()


@pytest.mark.parametrize(
    ("name", "key"),
    [("", "UTC"), ("utc", "UTC"), ("america/new_york", "America/New_York"), (" Europe/Berlin ", "Europe/Berlin")],
)
def test_zone_names_in_any_case(name: str, key: str) -> None:
    assert str(zone_named(name)) == key


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "America", "x" * 500, "a\0b"])
def test_an_unknown_zone_is_one_clear_line(name: str) -> None:
    with pytest.raises(InvalidInputError, match=r"unknown time zone .*America/New_York") as caught:
        zone_named(name)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_local_times_show_their_offset_and_the_zone() -> None:
    zone = ZoneInfo("America/New_York")
    window = window_of("yesterday", None, now=datetime(2026, 12, 7, 15, tzinfo=UTC), zone=zone)
    assert window.describe() == "2026-12-06 00:00 -05:00 to 2026-12-07 00:00 -05:00 (America/New_York)"
    assert window.arguments() == {"since": "2026-12-06T05:00:00Z", "until": "2026-12-07T05:00:00Z"}  # UTC for calls


def test_utc_under_its_other_names_is_shown_as_utc_and_no_other_zone_is() -> None:
    assert all(is_utc(zone_named(name)) for name in ("", "UTC", "Etc/UTC", "zulu", "Etc/Universal"))
    assert not is_utc(zone_named("Europe/London"))  # +00:00 in winter, but a zone of its own
    assert not is_utc(timezone(timedelta(hours=5)))  # a fixed offset is no UTC either
