"""Time windows, client-side filters, cursors and the newest-first scan (sessions/: window, criteria, cursors, scan).

The scan runs against the real simulator app in process; expected sessions are computed from the
simulator's raw data, never from the code under test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.cli.sessions import export_summary
from session_mcp.companion.client import CompanionClient
from session_mcp.errors import InvalidInputError
from session_mcp.sessions.criteria import STATUSES, Criteria, Scan, ScanPosition
from session_mcp.sessions.cursors import CURSOR_PREFIX, CursorSigner, decode_cursor, encode_cursor, filters_fingerprint
from session_mcp.sessions.export import export_sessions
from session_mcp.sessions.scan import scan_sessions
from session_mcp.sessions.select import Selection
from session_mcp.sessions.window import Window, parse_window, window_of
from session_mcp.simulator import Simulator
from session_mcp.simulator.app import LIST_ORDERS
from tests.helpers import ANCHOR, simulator_of

NOW = datetime.fromtimestamp(ANCHOR, UTC)  # 2026-09-21T14:13:20Z, a Monday
TODAY = datetime(2026, 9, 21, tzinfo=UTC)
FAR_FUTURE = datetime(2101, 1, 1, tzinfo=UTC)
# The span of session times the server reads (models: EARLIEST_TIME, LATEST_TIME): windows stay in it.
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
ARABIC_INDIC_DATE = "\u0662\u0660\u0662\u0666-\u0660\u0669-\u0662\u0660"  # 2026-09-20 in other digits
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCANS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "until", "start", "end"),
    [
        ("yesterday", None, TODAY - timedelta(days=1), TODAY),  # a day word alone is that whole day
        ("yesterday", "now", TODAY - timedelta(days=1), NOW),
        ("today", None, TODAY, TODAY + timedelta(days=1)),
        (None, "today", None, TODAY),
        ("24h", None, NOW - timedelta(hours=24), None),
        ("90m", "30m", NOW - timedelta(minutes=90), NOW - timedelta(minutes=30)),
        ("7d", None, NOW - timedelta(days=7), None),
        ("2w", None, NOW - timedelta(weeks=2), None),
        (" 7D ", "", NOW - timedelta(days=7), None),
        ("2026-09-20", "2026-09-21", TODAY - timedelta(days=1), TODAY),
        ("2026-09-20T10:00", None, datetime(2026, 9, 20, 10, tzinfo=UTC), None),  # no offset: UTC
        ("2026-09-20T10:00:00+02:00", None, datetime(2026, 9, 20, 8, tzinfo=UTC), None),
        ("2026-09-20T10:00:00Z", None, datetime(2026, 9, 20, 10, tzinfo=UTC), None),
        ("2026-09-20 10:00", None, datetime(2026, 9, 20, 10, tzinfo=UTC), None),
        (None, None, None, None),
        ("", "", None, None),
    ],
)
def test_window_forms(since: str | None, until: str | None, start: datetime | None, end: datetime | None) -> None:
    window = parse_window(since, until, now=NOW)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    ("since", "until", "needle"),
    [
        ("last fortnight", None, "this/last week"),  # the error lists the forms
        ("yesterday-ish", None, "today, yesterday"),
        (None, "soon", "90m, 24h, 7d"),
        ("2026-09-21", "2026-09-20", "until is exclusive"),
        ("2026-09-20", "2026-09-20", "since='2026-09-20', until='2026-09-21'"),
        ("2027-01-01", None, "after now"),
        ("99999d", None, "ten years"),
        ("2026-02-30", None, "cannot read '2026-02-30' as a time"),
        ("9999-12-31", None, "after now"),
        ("9999-12-31T23:59:59-01:00", None, "after now"),  # after the calendar's end in UTC
        (None, "0001-01-01", "no session time before 2000-01-01T00:00:00Z"),
        (None, "0001-01-01T00:00:00+01:00", "no session time before 2000-01-01"),  # before its start in UTC
        ("0001-01-01", "0001-01-01", "since='0001-01-01', until='0001-01-02'"),
    ],
)
def test_window_errors_say_what_to_write(since: str | None, until: str | None, needle: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_window(since, until, now=NOW)
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("since", "until", "start", "end"),
    [
        ("0001-01-01", None, EARLIEST, None),
        ("0001-01-01T00:00:00+01:00", None, EARLIEST, None),  # before year 1 in UTC
        ("1999-12-31T23:59:59", "2000-01-02", EARLIEST, EARLIEST + timedelta(days=1)),
        (None, "9999-12-31", None, LATEST),
        ("7d", "9999-12-31T23:59:59-01:00", NOW - timedelta(days=7), LATEST),  # after year 9999 in UTC
    ],
)
def test_a_window_reaches_no_further_than_the_times_a_session_can_have(
    since: str | None, until: str | None, start: datetime | None, end: datetime | None
) -> None:
    """Session times outside 2000-2099 read as unknown: a bound beyond is at that edge, and no
    later step (the scan's grace hour, a cursor, the days of session_stats) overflows."""
    assert (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)) == (EARLIEST, LATEST)
    window = parse_window(since, until, now=NOW)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize(
    ("since", "until", "start", "end"),
    [
        (None, "9999-12-31", None, NOW),  # no session starts after now: no empty day is counted up to 2099
        ("today", None, TODAY, NOW),
        ("0001-01-01", "", EARLIEST, NOW),
        ("2026-09-20", "2026-09-21", TODAY - timedelta(days=1), TODAY),
        ("", "", None, None),
    ],
)
def test_window_of_closes_an_open_end_or_one_after_now_at_now(
    since: str | None, until: str | None, start: datetime | None, end: datetime | None
) -> None:
    window = window_of(since, until, now=NOW)
    assert (window.start, window.end) == (start, end)


offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
moments = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.none() | offsets)


@QUICK
@given(moment=moments, seconds=st.booleans())
def test_any_iso_moment_reads_back_as_the_same_instant(moment: datetime, seconds: bool) -> None:
    moment = moment.replace(microsecond=0) if seconds else moment
    text = moment.isoformat(timespec="seconds" if seconds else "microseconds")
    window = parse_window(text, None, now=FAR_FUTURE)
    expected = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    assert window.start == expected
    assert window.start is not None and window.start.tzinfo is not None


@QUICK
@given(amount=st.integers(0, 3_650), unit=st.sampled_from(["m", "h", "d", "w"]))
def test_durations_count_back_from_now(amount: int, unit: str) -> None:
    span = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}[unit]
    if amount * span > timedelta(days=3_660) or amount == 0:  # too far back, or an empty window
        with pytest.raises(InvalidInputError):
            parse_window(f"{amount}{unit}", None, now=NOW)
        return
    assert parse_window(f"{amount}{unit}", None, now=NOW).start == NOW - amount * span


@QUICK
@given(since=st.text(max_size=40), until=st.text(max_size=40))
def test_any_text_is_a_window_or_a_clear_error(since: str, until: str) -> None:
    try:
        window = parse_window(since, until, now=NOW)
    except InvalidInputError as exc:
        message = str(exc)
        assert len(message) < 600
        assert "\n" not in message
        assert since[:50] not in message or len(since) <= 40  # quoted shortened
        return
    if window.start is not None and window.end is not None:
        assert window.start < window.end
    if window.start is not None:
        assert window.start <= NOW


@pytest.mark.parametrize(
    ("words", "start", "end"),
    [
        ("yesterday", TODAY - timedelta(days=1), TODAY),
        ("Yesterday", TODAY - timedelta(days=1), TODAY),
        ("today", TODAY, TODAY + timedelta(days=1)),
        ("last 7 days", NOW - timedelta(days=7), None),
        ("past 24 hours", NOW - timedelta(hours=24), None),
        ("the last hour", NOW - timedelta(hours=1), None),
        ("this week", TODAY, TODAY + timedelta(weeks=1)),  # the anchor is a Monday; a week is 7 days
        ("last week", TODAY - timedelta(weeks=1), TODAY),
        ("7d", NOW - timedelta(days=7), None),
        ("2026-09-19", TODAY - timedelta(days=2), TODAY - timedelta(days=1)),  # a bare date: that day
        ("since 2026-09-15", TODAY - timedelta(days=6), None),
        ("before 2026-09-15", None, TODAY - timedelta(days=6)),
        ("2026-09-01 to 2026-09-15", datetime(2026, 9, 1, tzinfo=UTC), TODAY - timedelta(days=5)),  # the 15th included
        (
            "from 2026-09-01 to 2026-09-15",
            datetime(2026, 9, 1, tzinfo=UTC),
            TODAY - timedelta(days=5),
        ),  # the 15th included
        (
            "between 2026-09-01 and 2026-09-15",
            datetime(2026, 9, 1, tzinfo=UTC),
            TODAY - timedelta(days=5),
        ),  # the 15th included
        ("2026-09-01..2026-09-15", datetime(2026, 9, 1, tzinfo=UTC), TODAY - timedelta(days=5)),  # the 15th included
        ("", None, None),
        ("since 0001-01-01", EARLIEST, None),
        ("0001-01-01 to 9999-12-31", EARLIEST, LATEST),  # the day after the calendar's last
        ("before 9999-12-31", None, LATEST),
    ],
)
def test_windows_in_words(words: str, start: datetime | None, end: datetime | None) -> None:
    window = parse_window(words, None, dates_whole=True, now=NOW)
    assert (window.start, window.end) == (start, end)


CLOCKS = [
    NOW,
    datetime(2026, 9, 21, 0, 0, 0, tzinfo=UTC),  # the first second of a day
    datetime(2026, 9, 21, 23, 59, 59, tzinfo=UTC),  # its last
    datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC),  # a month starts: last month is February
    datetime(2027, 1, 1, 23, 59, 59, tzinfo=UTC),  # a year starts: last month is last year's December
]


def day_forms(now: datetime) -> list[tuple[str, datetime | None, datetime | None]]:
    """Each form and its window at ``now``, worked out by hand from the calendar."""
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    day = timedelta(days=1)
    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    last_month = datetime(now.year - (now.month == 1), (now.month - 2) % 12 + 1, 1, tzinfo=UTC)
    return [
        ("since yesterday", today - day, None),  # from its start to now
        ("after yesterday", today, None),  # from its end to now
        ("since today", today, None),
        ("yesterday and today", today - day, today + day),  # the end day included
        ("yesterday to today", today - day, today + day),
        ("2026-02-01 to 2026-02-15", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 16, tzinfo=UTC)),
        ("2026-02-01 to 2026-02-15T12:00", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 15, 12, tzinfo=UTC)),
        ("this month", month, datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)),
        ("last month", last_month, month),
    ]


@pytest.mark.parametrize(
    ("now", "words", "start", "end"),
    [(now, *form) for now in CLOCKS for form in day_forms(now)],
    ids=lambda value: value.isoformat() if isinstance(value, datetime) else None,
)
def test_days_in_words_are_whole_days_at_any_clock(
    now: datetime, words: str, start: datetime | None, end: datetime | None
) -> None:
    window = parse_window(words, None, dates_whole=True, now=now)
    assert (window.start, window.end) == (start, end)


@pytest.mark.parametrize("now", CLOCKS)
def test_after_today_is_refused_as_after_now(now: datetime) -> None:
    with pytest.raises(InvalidInputError, match="after now"):
        parse_window("after today", None, now=now)


@pytest.mark.parametrize(
    ("words", "needle"),
    [
        ("9999-12-31", "after now"),
        ("after 9999-12-31", "after now"),
        ("0001-01-01", "no session time before 2000-01-01"),
        ("2026-13-45", "cannot read"),  # no such month: not date()'s ValueError
        (ARABIC_INDIC_DATE, "cannot read"),
    ],
)
def test_odd_dates_in_words_are_one_clear_error(words: str, needle: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_window(words, None, dates_whole=True, now=NOW)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


# Times as a hostile tester writes them: any date from year 1 to 9999, any offset, durations of
# any size and unit, words around them, and plain text.
_any_date = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999_999))
_offset_text = st.sampled_from(["", "Z"]) | offsets.map(lambda zone: datetime(2026, 1, 1, tzinfo=zone).isoformat()[19:])
ODD_TIMES = ["today", "yesterday", "now", "0m", "2026-13-45", "2026-02-30", ARABIC_INDIC_DATE]
_time_text = st.one_of(
    st.builds(lambda moment, offset: moment.isoformat() + offset, _any_date, _offset_text),
    _any_date.map(lambda moment: moment.date().isoformat()),
    st.builds("{}{}{}".format, st.integers(0, 10**7), st.sampled_from(["", " "]), st.sampled_from([*"mhdwsy", "min"])),
    st.sampled_from(ODD_TIMES),
    st.text(alphabet="0123456789-:T+Z. dhmw", max_size=30),
    st.text(max_size=30),
)
_words = st.one_of(
    _time_text,
    st.builds("{} {}".format, st.sampled_from(["since", "after", "until", "before", "last", "the past"]), _time_text),
    st.builds("{} {} {}".format, _time_text, st.sampled_from(["to", "and", "until", ".."]), _time_text),
    st.builds("last {} {}".format, st.integers(0, 10**6), st.sampled_from(["minutes", "hours", "days", "weeks"])),
)
CLOCKS_NOW = st.sampled_from([NOW, datetime(2026, 9, 21, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, tzinfo=UTC)])


def _window_or_one_line(read: Callable[[], Window]) -> None:
    """``read()`` gives a window inside the times a session can have, or one clear line."""
    try:
        window = read()
    except InvalidInputError as exc:  # the only exception: OverflowError and date()'s ValueError were bugs
        assert str(exc) and len(str(exc).splitlines()) == 1 and len(str(exc)) < 600, str(exc)
        return
    for bound in (window.start, window.end):
        assert bound is None or EARLIEST <= bound <= LATEST, window
    if window.start is not None and window.end is not None:
        assert window.start <= window.end
    window.describe()
    window.arguments()


@settings(QUICK, max_examples=300)
@given(since=st.none() | _time_text, until=st.none() | _time_text, now=CLOCKS_NOW)
def test_generated_times_are_a_window_or_one_clear_line(since: str | None, until: str | None, now: datetime) -> None:
    _window_or_one_line(lambda: parse_window(since, until, now=now))
    _window_or_one_line(lambda: window_of(since, until, now=now))


@settings(QUICK, max_examples=300)
@given(words=_words, now=CLOCKS_NOW)
def test_generated_windows_in_words_are_a_window_or_one_clear_line(words: str, now: datetime) -> None:
    _window_or_one_line(lambda: parse_window(words, None, dates_whole=True, now=now))


@QUICK
@given(words=st.text(max_size=60))
def test_any_words_are_a_window_or_an_error_listing_the_forms(words: str) -> None:
    try:
        parse_window(words, None, dates_whole=True, now=NOW)
    except InvalidInputError as exc:
        assert "yesterday" in str(exc) or "until" in str(exc) or "now" in str(exc) or "ten years" in str(exc)


def test_window_contains_by_start_else_creation() -> None:
    window = Window(TODAY - timedelta(days=1), TODAY)

    class Session:
        def __init__(self, started: datetime | None, created: datetime | None) -> None:
            self.started, self.created = started, created

    inside, before = TODAY - timedelta(hours=1), TODAY - timedelta(days=2)
    assert window.contains(Session(inside, before))  # started inside, created before: in
    assert not window.contains(Session(before, inside))
    assert window.contains(Session(None, inside))  # never started: by creation
    assert not window.contains(Session(TODAY, None))  # the end is exclusive
    assert not window.contains(Session(None, None))
    assert Window().contains(Session(None, None))


# -- criteria ---------------------------------------------------------------------------------


def test_criteria_match_values_without_case() -> None:
    from session_mcp.companion.models import SessionSummary

    session = SessionSummary.model_validate(
        {"id": "s", "status": "failed", "closeReason": "no_credits_left", "sessionType": "SIP", "modality": "audio"}
    )
    assert Criteria.of(status=["failed", "closed"], session_type=["sip"]).matches(session)
    assert not Criteria.of(modality=["text"]).matches(session)
    assert Criteria.of(close_reason=[" No_Credits_Left "]).matches(session)
    assert not Criteria()
    assert Criteria.of(status=[""], modality=[]) == Criteria()
    derived = SessionSummary.model_validate({"id": "s", "startedAt": ANCHOR})  # no status sent: derived
    assert Criteria.of(status=["started"]).matches(derived)
    with pytest.raises(InvalidInputError, match="pending, started, closed, failed"):
        Criteria.of(status=["open"])


# -- cursors ----------------------------------------------------------------------------------


SIGNER = CursorSigner(b"a secret of the tests")


def test_a_cursor_carries_position_window_and_filters() -> None:
    position = ScanPosition(3, 17, 1_789_900_000.0, "sess_x", False, 317, 21)
    window = Window(TODAY - timedelta(days=1), NOW)
    fingerprint = filters_fingerprint({"companion_id": "comp_a"}, Criteria.of(status=["failed"]))
    cursor = encode_cursor(position, window, fingerprint, SIGNER, "tenant")
    assert decode_cursor(cursor, fingerprint, SIGNER, "tenant") == (position, window)
    other = filters_fingerprint({"companion_id": "comp_b"}, Criteria.of(status=["failed"]))
    with pytest.raises(InvalidInputError, match="other filters"):
        decode_cursor(cursor, other, SIGNER, "tenant")
    assert filters_fingerprint({"tags": {"a": "1", "b": "2"}}, Criteria()) == filters_fingerprint(
        {"tags": {"b": "2", "a": "1"}}, Criteria()
    )


@QUICK
@given(text=st.text(max_size=120) | st.text(max_size=120).map(lambda t: CURSOR_PREFIX + t))
def test_any_other_cursor_is_refused_clearly(text: str) -> None:
    fingerprint = filters_fingerprint({}, Criteria())
    try:
        decode_cursor(text, fingerprint, SIGNER, "tenant")
    except InvalidInputError as exc:
        assert "cursor" in str(exc)
    else:
        pytest.fail("a made-up cursor was accepted")


# -- the scan ---------------------------------------------------------------------------------


def moment_of(session: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(session.get("startedAt") or session["createdAt"], UTC)


def truth(simulator: Simulator, window: Window, statuses: frozenset[str]) -> list[str]:
    """The matching ids, newest first, from the raw data."""
    return [
        s["id"]
        for s in simulator.sessions_of("demo")
        if window.holds(moment_of(s)) and (not statuses or s["status"] in statuses)
    ]


def run_scan(simulator: Simulator, window: Window, criteria: Criteria, **options: Any) -> Scan:
    async def scan() -> Scan:
        transport = httpx2.ASGITransport(app=simulator.app)
        async with CompanionClient("demo", "http://simulator.local", transport=transport) as client:
            return await scan_sessions(client, {}, window, criteria=criteria, **options)

    return anyio.run(scan)


@SCANS
@given(
    order=st.sampled_from(LIST_ORDERS),
    seed=st.integers(0, 10_000),
    page_size=st.sampled_from([5, 10, 25, 100]),
    back_hours=st.integers(0, 24 * 40),
    length_hours=st.none() | st.integers(1, 24 * 10),
    statuses=st.frozensets(st.sampled_from(STATUSES), max_size=2),
)
def test_the_scan_guard_under_any_page_order(
    order: str, seed: int, page_size: int, back_hours: int, length_hours: int | None, statuses: frozenset[str]
) -> None:
    simulator = simulator_of(session_count=160, list_order=order, order_seed=seed)
    start = NOW - timedelta(hours=back_hours)
    window = Window(start, start + timedelta(hours=length_hours) if length_hours else None)
    scan = run_scan(simulator, window, Criteria.of(status=statuses), page_size=page_size)
    expected = truth(simulator, window, statuses)
    found = [s.id for s in scan.sessions]
    assert len(found) == len(set(found))
    assert set(found) <= set(expected)  # sound whatever the order
    assert scan.reached_end and not scan.bound_hit and scan.resume is None
    if order == "newest_first":
        assert found == expected and scan.in_order
        # It stops after the second page in a row created wholly an hour before the window, reading no more.
        raw = simulator.sessions_of("demo")
        pages = [raw[i : i + page_size] for i in range(0, len(raw), page_size)]
        limit = (start - timedelta(hours=1)).timestamp()
        older = [all(s["createdAt"] < limit for s in page) for page in pages]
        stop = next((n for n in range(1, len(pages)) if older[n - 1] and older[n]), None)
        assert scan.stopped_early == (stop is not None)
        assert scan.scanned == (len(raw) if stop is None else min(len(raw), (stop + 1) * page_size))
    if order in ("oldest_first", "shuffled"):  # visible in the first page: read to the end, exact
        assert not scan.in_order and not scan.stopped_early
        assert sorted(found) == sorted(expected)
    if set(found) != set(expected):  # only sorted pages served out of place that look in order can fool it
        assert order == "pages_shuffled" and scan.stopped_early and scan.in_order


@SCANS
@given(
    order=st.sampled_from(LIST_ORDERS),
    seed=st.integers(0, 1_000),
    page_size=st.sampled_from([7, 30, 100]),
    limit=st.integers(1, 25),
    statuses=st.frozensets(st.sampled_from(STATUSES), max_size=2),
)
def test_a_cursor_chain_reads_each_match_once(
    order: str, seed: int, page_size: int, limit: int, statuses: frozenset[str]
) -> None:
    simulator = simulator_of(session_count=120, list_order=order, order_seed=seed)
    window = Window(NOW - timedelta(days=20), NOW)
    criteria = Criteria.of(status=statuses)
    one_go = [s.id for s in run_scan(simulator, window, criteria, page_size=page_size).sessions]
    chained: list[str] = []
    start = None
    for _ in range(200):
        scan = run_scan(simulator, window, criteria, page_size=page_size, limit=limit, start=start)
        assert len(scan.sessions) <= limit
        if scan.resume is not None:
            assert len(scan.sessions) == limit and scan.more_match  # stopped at a known next match
        chained += [s.id for s in scan.sessions]
        if scan.resume is None:
            break
        start = scan.resume
    assert len(chained) == len(set(chained)) and set(chained) == set(one_go)  # each match once
    if order != "pages_shuffled":  # sorted pages out of place can show the broken order only on a later call
        assert chained == one_go
    assert scan.reached_end


def test_sessions_created_between_pages_shift_the_list_but_nothing_repeats() -> None:
    simulator = simulator_of(session_count=120)
    window = Window(NOW - timedelta(days=20), NOW)
    expected = truth(simulator, window, frozenset())
    newest = simulator.sessions_of("demo")[0]
    chained: list[str] = []
    start = None
    for step in range(100):
        scan = run_scan(simulator, window, Criteria(), page_size=10, limit=4, start=start)
        assert scan.in_order, "a shifted list must not read as out of order"
        chained += [s.id for s in scan.sessions]
        for n in range(3):  # three new sessions before each next page
            new = dict(newest, id=f"sess_new_{step}_{n}", createdAt=ANCHOR + 10 * step + n, startedAt=ANCHOR + 1)
            simulator.projects["demo"].sessions[new["id"]] = new
        if scan.resume is None:
            break
        start = scan.resume
    assert chained == expected


def test_the_scan_bound_cuts_and_says_so_and_the_rest_follows() -> None:
    simulator = simulator_of(session_count=120, list_order="shuffled", order_seed=1)
    window = Window(NOW - timedelta(days=3), NOW)
    scan = run_scan(simulator, window, Criteria(), page_size=10, max_scan=30)
    assert scan.bound_hit and not scan.reached_end and scan.scanned == 30 and not scan.more_match
    assert scan.resume is not None
    rest = run_scan(simulator, window, Criteria(), page_size=10, start=scan.resume)
    assert rest.scanned == 120 and rest.reached_end
    assert sorted(s.id for s in scan.sessions + rest.sessions) == sorted(truth(simulator, window, frozenset()))


def test_the_early_stop_reads_only_the_pages_it_needs() -> None:
    simulator = simulator_of()
    window = parse_window("yesterday", None, now=NOW)
    scan = run_scan(simulator, window, Criteria())
    assert [s.id for s in scan.sessions] == truth(simulator, window, frozenset())
    assert scan.stopped_early and scan.in_order
    pages = [r for r in simulator.requests if r.raw_path == "/public/sessions"]
    assert len(pages) == scan.scanned // 100 <= 3 < len(simulator.sessions_of("demo")) // 100


@pytest.mark.parametrize("order", LIST_ORDERS)
def test_an_export_with_a_window_and_a_limit_writes_the_newest(order: str, tmp_path: Any) -> None:
    simulator = simulator_of(list_order=order)
    window = Window(NOW - timedelta(days=30), NOW)
    inside = [s for s in simulator.sessions_of("demo") if window.holds(moment_of(s))]
    expected = [s["id"] for s in sorted(inside, key=moment_of, reverse=True)[:12]]
    out = tmp_path / "newest.jsonl"

    async def export() -> dict[str, Any]:
        transport = httpx2.ASGITransport(app=simulator.app)
        selection = Selection(window=window, limit=12, max_scan=None)
        async with CompanionClient("demo", "http://simulator.local", transport=transport) as client:
            return export_summary(await export_sessions(client, out, selection, lambda s: s, 4), selection)

    summary = anyio.run(export)
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == expected
    assert summary["written"] == 12 and summary["scan"]["in_order"] is (order == "newest_first")
