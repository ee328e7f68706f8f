"""Windows in words and local time through real MCP calls: the simulator, the tests' fixed clock.

Each form in three zones through ``session_stats`` (its answer's window is the expected local
span, worked out here from the local calendar), local times in the text and UTC in the structured
output, prompts and tools accepting and refusing the same words, and ``--timezone`` on the CLI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from tests.helpers import (
    ANCHOR,
    assert_clear_tool_error,
    assert_one_clear_error,
    clean_environment,
    connect,
    ok,
    run_cli,
    run_main,
)

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR, UTC)  # 2026-09-21T14:13:20Z, a Monday in all three zones
ZONES = ["UTC", "America/New_York", "Asia/Kolkata"]
Bounds = Callable[[date, tzinfo], tuple[datetime, datetime]]


def at(day: date, clock: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def days(first: int, count: int) -> Bounds:
    """``count`` local days from ``first`` days after today (negative: before)."""
    return lambda today, zone: (
        at(today + timedelta(days=first), time(), zone),
        at(today + timedelta(days=first + count), time(), zone),
    )


# Each form, and its span from the local calendar (today is a Monday everywhere at NOW).
FORMS: dict[str, Bounds] = {
    "today": days(0, 1),
    "yesterday": days(-1, 1),
    "this week": days(0, 7),
    "last week": days(-7, 7),
    "since monday": lambda today, zone: (at(today, time(), zone), NOW),
    "friday": days(-3, 1),
    "this month": lambda today, zone: (at(today.replace(day=1), time(), zone), at(date(2026, 10, 1), time(), zone)),
    "last month": lambda today, zone: (at(date(2026, 8, 1), time(), zone), at(date(2026, 9, 1), time(), zone)),
    "last night": lambda today, zone: (at(today - timedelta(days=1), time(18), zone), at(today, time(6), zone)),
    "last 3 days": lambda today, zone: (NOW - timedelta(days=3), NOW),  # no DST change in between
    "24h": lambda today, zone: (NOW - timedelta(hours=24), NOW),
    "2026-09-01..2026-09-05": lambda today, zone: (
        at(date(2026, 9, 1), time(), zone),
        at(date(2026, 9, 6), time(), zone),
    ),
    "2026-09-20T10:00": lambda today, zone: (at(date(2026, 9, 20), time(10), zone), NOW),
}


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def applied(data: dict[str, Any]) -> dict[str, Any]:
    """Where an answer says the window it applied: its scan of the list, or the store it was read from."""
    window: dict[str, Any] = data.get("scan") or data["store"]
    return window


@pytest.mark.parametrize("zone_name", ZONES)
async def test_each_form_in_three_zones_is_the_local_span(client: CompanionClient, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    today = NOW.astimezone(zone).date()
    async with connect(client, clock=lambda: NOW) as mcp:
        for form, bounds in FORMS.items():
            start, end = bounds(today, zone)
            end = min(end, NOW)  # the tools close a window at now
            arguments = {"since": form, "timezone": zone_name, "read_transcripts": False, "limit": 5}
            text, data = ok(await mcp.call_tool("session_stats", arguments))
            scan = applied(data)
            assert (parsed(scan["window_start"]), parsed(scan["window_end"])) == (start, end), form
            assert data["timezone"] == zone_name
            if zone_name == "UTC":
                assert f"Window (UTC): {start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ}" in text, text
            else:
                local = start.astimezone(zone)
                offset = local.strftime("%z")
                shown = f"Window ({zone_name}): {local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]} to "
                assert shown in text, (form, text)


async def test_local_times_in_the_text_utc_in_the_structured_output(client: CompanionClient) -> None:
    async with connect(client, clock=lambda: NOW) as mcp:
        text, data = ok(await mcp.call_tool("list_sessions", {"since": "yesterday", "timezone": "America/New_York"}))
        assert "started (America/New_York)" in text
        assert " -04:00 |" in text  # each row's start, local with its offset
        assert data["sessions"], data
        for row in data["sessions"]:
            assert row["started_at"] is None or parsed(row["started_at"]).utcoffset() == timedelta(0), row
        # The next call without a zone is the server's (UTC): the zone of a call does not leak.
        text, _ = ok(await mcp.call_tool("list_sessions", {"since": "yesterday"}))
        assert "started (UTC)" in text and "-04:00" not in text
        assert "Window (UTC): 2026-09-20T00:00:00Z to 2026-09-21T00:00:00Z" in text


async def test_the_servers_zone_is_the_default_and_a_call_can_choose_another(client: CompanionClient) -> None:
    settings = Settings(timezone="Asia/Kolkata")
    async with connect(client, settings, clock=lambda: NOW) as mcp:
        _, data = ok(await mcp.call_tool("session_stats", {"since": "yesterday", "read_transcripts": False}))
        assert parsed(applied(data)["window_start"]) == datetime(2026, 9, 19, 18, 30, tzinfo=UTC)
        assert data["timezone"] == "Asia/Kolkata"
        _, data = ok(await mcp.call_tool("session_stats", {"since": "yesterday", "timezone": "UTC"}))
        assert parsed(applied(data)["window_start"]) == datetime(2026, 9, 20, tzinfo=UTC)


async def test_per_day_figures_are_the_zones_days(client: CompanionClient) -> None:
    async with connect(client, clock=lambda: NOW) as mcp:
        arguments = {"since": "last week", "read_transcripts": False, "limit": 2_000}
        text, utc = ok(await mcp.call_tool("session_stats", arguments))
        assert [d["day"] for d in utc["per_day"]] == [f"2026-09-{day:02d}" for day in range(14, 21)]
        text, kolkata = ok(await mcp.call_tool("session_stats", {**arguments, "timezone": "Asia/Kolkata"}))
    assert [d["day"] for d in kolkata["per_day"]] == [f"2026-09-{day:02d}" for day in range(14, 21)]
    assert "sessions per day (Asia/Kolkata)" in text and "busiest hours (Asia/Kolkata)" in text
    hours = {h["hour_utc"] for h in kolkata["busiest_hours"]}
    utc_hours = {h["hour_utc"] for h in utc["busiest_hours"]}
    assert hours != utc_hours or not hours  # 5 h 30 later: other hours of the day


WORDS = [
    "yesterday", "last week", "this month", "last night", "since friday", "last 2 days", "7d",
    "2026-09-01..2026-09-05", "2026-09-20", "before 2026-09-15",  # accepted by both
    "the other day", "last tuesday", "fortnight", "2026-13-01", "after today", "now",  # refused by both
]  # fmt: skip


@pytest.mark.parametrize("words", WORDS)
async def test_prompts_and_tools_accept_and_refuse_the_same_words(client: CompanionClient, words: str) -> None:
    async with connect(client, clock=lambda: NOW) as mcp:
        tool = await mcp.call_tool("list_sessions", {"since": words, "timezone": "America/New_York"})
        try:
            await mcp.get_prompt("summarize_sessions", {"window": words, "timezone": "America/New_York"})
            prompt_error = None
        except MCPError as exc:
            assert exc.error.code == INVALID_PARAMS
            prompt_error = exc.error.message
        try:
            await mcp.get_prompt("qa_triage", {"since": words, "timezone": "America/New_York"})
            triage_error = None
        except MCPError as exc:
            triage_error = exc.error.message
    assert tool.is_error == (prompt_error is not None) == (triage_error is not None), (tool, prompt_error)
    if tool.is_error:
        assert_clear_tool_error(tool, "list_sessions")


async def test_the_summary_prompt_asks_for_the_zone_it_was_given(client: CompanionClient) -> None:
    async with connect(client, clock=lambda: NOW) as mcp:
        result = await mcp.get_prompt("summarize_sessions", {"window": "yesterday", "timezone": "America/New_York"})
    text = result.messages[0].content.text  # type: ignore[union-attr]
    assert "2026-09-20 00:00 -04:00 to 2026-09-21 00:00 -04:00 (America/New_York)" in text
    assert "since='2026-09-20T04:00:00Z', until='2026-09-21T04:00:00Z'" in text  # exact UTC bounds in the calls
    assert "timezone='America/New_York'" in text
    assert "Now is 2026-09-21 10:13 -04:00 (America/New_York)" in text


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../etc/passwd", "x" * 64])
async def test_an_unknown_zone_is_a_clear_error_everywhere(client: CompanionClient, zone: str) -> None:
    async with connect(client, clock=lambda: NOW) as mcp:
        for tool in ("list_sessions", "session_stats", "get_session_transcripts", "review_sessions"):
            result = await mcp.call_tool(tool, {"since": "yesterday", "timezone": zone})
            assert_clear_tool_error(result, tool, "unknown time zone", "America/New_York")
        with pytest.raises(MCPError, match="unknown time zone") as caught:
            await mcp.get_prompt("summarize_sessions", {"window": "yesterday", "timezone": zone})
        assert caught.value.error.code == INVALID_PARAMS


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_an_unknown_zone_at_start_is_one_line_and_exit_2(how: str) -> None:
    flags = ["--timezone", "Mars/Olympus"] if how == "flag" else []
    env = {"SESSION_MCP_TIMEZONE": "Mars/Olympus"} if how == "environment" else {}
    done = run_main("--demo", *flags, "sessions", "list", env=clean_environment(**env))
    source = "--timezone" if how == "flag" else "SESSION_MCP_TIMEZONE"
    assert_one_clear_error(done, source, "unknown time zone 'Mars/Olympus'", "America/New_York")


def test_the_cli_reads_windows_in_its_zone(base_url: str) -> None:
    done = run_cli(
        "sessions", "list", "--since", "yesterday", "--timezone", "america/new_york", base_url=base_url, key="demo"
    )
    assert done.returncode == 0, done.stderr
    assert "Window (America/New_York): " in done.stdout and " -0" in done.stdout, done.stdout


def test_settings_keep_the_zone_as_the_database_spells_it() -> None:
    from session_mcp.config import load_settings

    settings = load_settings({"timezone": "europe/berlin", "demo": True}, {})
    assert settings.timezone == "Europe/Berlin"
    assert dataclasses.replace(settings).timezone == "Europe/Berlin"


async def test_the_next_page_of_a_window_shows_it_in_the_same_zone(client: CompanionClient) -> None:
    arguments = {"since": "last week", "timezone": "Asia/Kolkata", "page_size": 5}
    async with connect(client, clock=lambda: NOW) as mcp:
        first, data = ok(await mcp.call_tool("list_sessions", arguments))
        assert data["next_cursor"], first
        second, _ = ok(await mcp.call_tool("list_sessions", {**arguments, "cursor": data["next_cursor"]}))
    shown = "Window (Asia/Kolkata): 2026-09-14 00:00:00 +05:30 to 2026-09-21 00:00:00 +05:30"
    assert shown in first and shown in second, second


async def test_a_review_says_its_window_in_the_calls_zone(client: CompanionClient) -> None:
    arguments = {"since": "yesterday", "timezone": "America/New_York", "limit": 20}
    async with connect(client, clock=lambda: NOW) as mcp:
        text, data = ok(await mcp.call_tool("review_sessions", arguments))
    assert "(window 2026-09-20 00:00 -04:00 to 2026-09-21 00:00 -04:00 (America/New_York))" in text, text[:300]
    assert parsed(data["window_start"]) == datetime(2026, 9, 20, 4, tzinfo=UTC)  # structured: UTC


def test_the_cli_shows_a_transcript_in_its_zone(base_url: str, simulator: Simulator) -> None:
    session = next(s for s in simulator.sessions_of("demo") if s.get("startedAt"))
    done = run_cli("sessions", "show", session["id"], "--timezone", "Asia/Kolkata", base_url=base_url, key="demo")
    assert done.returncode == 0, done.stderr
    started = datetime.fromtimestamp(session["startedAt"], UTC).astimezone(ZoneInfo("Asia/Kolkata"))
    assert f"started {started:%Y-%m-%d %H:%M:%S} +05:30" in done.stdout, done.stdout[:400]
