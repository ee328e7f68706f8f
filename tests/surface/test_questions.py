"""The questions people ask, through the MCP protocol: time windows, client-side filters, digests, cost.

The server's clock is fixed ("now" for since/until); every expected figure is computed directly
from the simulator's raw data (``simulator.sessions_of``), never from the code under test.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR, connect, ok

pytestmark = pytest.mark.anyio

Wire = dict[str, Any]
NOW = datetime.fromtimestamp(ANCHOR, UTC)


@asynccontextmanager
async def server_at(
    client: CompanionClient, now: datetime = NOW, mode: str = "auto", **settings: Any
) -> AsyncIterator[Client]:
    async with connect(client, Settings(demo=True, **settings), mode=mode, clock=lambda: now) as connected:
        yield connected


@pytest.fixture
async def mcp(client: CompanionClient) -> AsyncIterator[Client]:
    """The server at the demo data's anchor; the two protocol eras are both run where it matters."""
    async with server_at(client) as connected:
        yield connected


def moment_of(session: Wire) -> datetime:
    return datetime.fromtimestamp(session.get("startedAt") or session["createdAt"], UTC)


def in_day(sessions: list[Wire], day: datetime) -> list[Wire]:
    return [s for s in sessions if day <= moment_of(s) < day + timedelta(days=1)]


def tools_of(session: Wire) -> list[Wire]:
    return list(session.get("functionMetrics") or session.get("functionStates") or [])


def money(value: float) -> float:
    return round(math.fsum([value]), 6)


# -- "how many sessions did each companion have yesterday, how many failed and why, what did they cost"


def busiest_failure_day(sessions: list[Wire]) -> datetime:
    """The UTC day with the most failed sessions (and tool failures), to make 'yesterday' telling."""
    days: Counter[datetime] = Counter()
    for s in sessions:
        day = datetime.combine(moment_of(s).date(), datetime.min.time(), UTC)
        days[day] += 10 * (s["status"] == "failed") + sum(m.get("state") == "failed" for m in tools_of(s))
    return days.most_common(1)[0][0]


@pytest.mark.parametrize("which", ["the anchor's yesterday", "a day with failures"])
async def test_one_stats_call_answers_yesterday_per_companion(
    client: CompanionClient, simulator: Simulator, mode: str, which: str
) -> None:
    raw = simulator.sessions_of("demo")
    day = NOW.replace(hour=0, minute=0, second=0) - timedelta(days=1)
    if which == "a day with failures":
        day = busiest_failure_day(raw)
    expected = in_day(raw, day)
    assert expected
    async with server_at(client, now=day + timedelta(days=1, hours=9), mode=mode) as mcp:
        text, data = ok(await mcp.call_tool("session_stats", {"since": "yesterday"}))
    # how many sessions each companion had, how many failed, what they cost
    companions: dict[str, list[Wire]] = defaultdict(list)
    for s in expected:
        companions[s["companionId"]].append(s)
    figures = {f["companion_id"]: f for f in data["companions"]}
    assert set(figures) == set(companions)
    for companion, sessions in companions.items():
        failed = sum(1 for s in sessions if s["status"] == "failed")
        cost = money(math.fsum(s["cost"] for s in sessions if s.get("cost") is not None))
        assert (figures[companion]["sessions"], figures[companion]["failed"]) == (len(sessions), failed)
        assert figures[companion]["cost"] == pytest.approx(cost, abs=1e-6)
        assert re.search(rf"^{companion} \| {len(sessions)} \| {failed} \| \$", text, re.MULTILINE), text
    # why they failed
    reasons = Counter(s.get("closeReason") for s in expected if s["status"] == "failed")
    assert data["failed_reasons"] == dict(reasons)
    if which == "a day with failures":
        assert reasons and all(f"{reason} {n}" in text for reason, n in reasons.items())
    tool_failed = Counter(m["name"] for s in expected for m in tools_of(s) if m.get("state") == "failed")
    assert {t["name"]: t["failed"] for t in data["tools"] if t["failed"]} == dict(tool_failed)
    codes = Counter(
        (m["name"], m["error"]["code"]) for s in expected for m in tools_of(s) if m.get("state") == "failed"
    )
    for tool in data["tools"]:
        assert tool["errors"] == {code: n for (name, code), n in codes.items() if name == tool["name"]}
    # and what they cost in all
    costed = [s["cost"] for s in expected if s.get("cost") is not None]
    assert data["cost"]["total"] == pytest.approx(math.fsum(costed), abs=1e-6)
    assert data["cost"]["with_cost"] == len(costed)
    assert data["cost"]["without_cost"] == len(expected) - len(costed)
    # the answer says the window and that it is complete
    assert data["examined"] == data["matched"] == len(expected)
    assert data["scan"]["window_start"].startswith(day.date().isoformat())
    assert data["scan"]["complete"] and data["scan"]["stopped_early"]
    window = f"{day:%Y-%m-%d}T00:00:00Z to {day + timedelta(days=1):%Y-%m-%d}T00:00:00Z"
    assert f"Window (UTC): {window}" in text
    statuses = dict(Counter(s["status"] for s in expected))
    [one_day] = data["per_day"]
    assert sum(one_day.pop("by_outcome").values()) == len(expected)  # how they ended (issue 18): each counted once
    assert one_day == {"day": day.date().isoformat(), "sessions": len(expected), "by_status": statuses}


async def test_stats_over_a_month_count_types_days_and_clients(mcp: Client, simulator: Simulator) -> None:
    raw = simulator.sessions_of("demo")
    since = NOW - timedelta(days=30)
    expected = [s for s in raw if since <= moment_of(s) < NOW]
    text, data = ok(await mcp.call_tool("session_stats", {"since": "30d", "read_transcripts": False}))
    assert data["examined"] == len(expected)
    assert data["by_session_type"] == dict(Counter(s["sessionType"] for s in expected))
    assert data["by_modality"] == dict(Counter(s["modality"] for s in expected))
    days = Counter(moment_of(s).date().isoformat() for s in expected)
    assert {d["day"]: d["sessions"] for d in data["per_day"] if d["sessions"]} == dict(days)
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for s in expected:
        statuses[moment_of(s).date().isoformat()][s["status"]] += 1
    assert {d["day"]: d["by_status"] for d in data["per_day"] if d["sessions"]} == statuses
    assert len(data["per_day"]) == 31  # every day of the window, the quiet ones too
    spend: dict[str, float] = defaultdict(float)
    for s in expected:
        if s.get("externalClientId") and s.get("cost") is not None:
            spend[s["externalClientId"]] += s["cost"]
    top = sorted(spend.items(), key=lambda kv: (-round(kv[1], 6), kv[0]))[:5]
    assert [(a["key"], a["cost"]) for a in data["cost"]["top_clients"]] == [(k, pytest.approx(v)) for k, v in top]
    assert data["cost"]["other_clients"] == len(spend) - 5
    assert "tool connections: not counted" in text  # they come with the transcripts


async def test_stats_with_a_status_filter(mcp: Client, simulator: Simulator) -> None:
    failed = [s for s in simulator.sessions_of("demo") if s["status"] == "failed"]
    text, data = ok(await mcp.call_tool("session_stats", {"status": "failed", "read_transcripts": False}))
    assert data["examined"] == len(failed)
    assert data["by_status"] == {"failed": len(failed)}
    assert data["failed_reasons"] == dict(Counter(s["closeReason"] for s in failed))
    assert data["cost"]["total"] == pytest.approx(math.fsum(s.get("cost") or 0 for s in failed), abs=1e-6)
    assert "filters: status failed" in text


# -- "summarize the last 300 sessions" ----------------------------------------------------------------


async def test_one_digest_call_covers_300_sessions_within_the_budget(
    client: CompanionClient, simulator: Simulator, mode: str
) -> None:
    newest = [s["id"] for s in simulator.sessions_of("demo")[:300]]
    async with server_at(client, mode=mode) as mcp:
        text, data = ok(await mcp.call_tool("get_session_transcripts", {"limit": 300, "detail": "digest"}))
    assert len(text) <= Settings().max_chars
    assert [d["session"]["id"] for d in data["digests"]] == newest
    assert data["transcripts"] == [] and data["left_out"] == []
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("sess_")}
    assert list(lines) == newest  # every session named, one line each, in order
    said = [d for d in data["digests"] if d.get("first_request")]
    assert len(said) > 250 and all(len(d["first_request"]) >= 10 for d in said)  # real text, not just ids
    assert all("\n" not in line for line in lines.values())


@pytest.mark.parametrize("count", [480, 500])
async def test_500_digests_fit_one_answer_and_still_quote_the_first_request(
    mcp: Client, simulator: Simulator, count: int
) -> None:
    text, data = ok(await mcp.call_tool("get_session_transcripts", {"limit": count, "detail": "digest"}))
    assert len(text) <= Settings().max_chars
    assert len(data["digests"]) == count and data["left_out"] == []
    spoke = {
        s["id"]
        for s in simulator.sessions_of("demo")[:count]
        if any(t["role"] == "user" for t in (s.get("conversation") or {}).get("items", []))
    }
    quoted = [d for d in data["digests"] if d.get("first_request")]
    assert len(quoted) > 0.8 * len(spoke) and all(len(d["first_request"]) >= 10 for d in quoted)
    assert all(d["session"]["id"] in spoke for d in quoted)
    lines = [line for line in text.splitlines() if line.startswith("sess_")]
    assert len(lines) == count and not any(line.endswith("|…") or line.endswith("| …") for line in lines)
    assert all(turn["text"] != "…" for d in data["digests"] for turn in d["last_exchange"])


async def test_a_digest_line_carries_status_duration_turns_first_request_and_the_end(
    mcp: Client, simulator: Simulator
) -> None:
    session = next(
        s for s in simulator.sessions_of("demo") if s["status"] == "closed" and len(s["conversation"]["items"]) >= 6
    )
    items = session["conversation"]["items"]
    text, data = ok(
        await mcp.call_tool("get_session_transcripts", {"session_ids": [session["id"]], "detail": "digest"})
    )
    [digest] = data["digests"]
    first = next(i["text"] for i in items if i["role"] == "user")
    assert digest["first_request"] == first
    last_user = max(n for n, i in enumerate(items) if i["role"] == "user")
    assert [t["text"] for t in digest["last_exchange"]] == [i["text"] for i in items[last_user : last_user + 2]]
    line = next(line for line in text.splitlines() if line.startswith(session["id"]))
    assert f"| {len(items)} |" in line and first in line
    assert f" | {session['status']}" in line


async def test_a_wide_full_batch_keeps_whole_sessions_and_digests_the_rest(
    client: CompanionClient, simulator: Simulator
) -> None:
    newest = [s["id"] for s in simulator.sessions_of("demo")[:100]]
    raw = {s["id"]: s for s in simulator.sessions_of("demo")}
    async with server_at(client) as mcp:
        text, data = ok(await mcp.call_tool("get_session_transcripts", {"limit": 100}))
        assert len(text) <= Settings().max_chars
        whole = [t["session"]["id"] for t in data["transcripts"]]
        digested = [d["session"]["id"] for d in data["digests"]]
        assert sorted(whole + digested) == sorted(newest)
        assert len(whole) >= 40 and digested  # many whole, the rest named: no 1-turn stubs
        for item in data["transcripts"]:
            assert len(item["turns"]) == len((raw[item["session"]["id"]].get("conversation") or {}).get("items", []))
        assert f"{len(whole)} whole, {len(digested)} as one digest line each" in text
        # The calls it names read exactly the digested sessions, each whole within the budget.
        named = [i for call in data["read_calls"] for i in re.findall(r"'(sess_[0-9a-f]+)'", call)]
        assert named == digested
        for call in data["read_calls"]:
            assert call in text
            ids = re.findall(r"'(sess_[0-9a-f]+)'", call)
            if call.startswith("get_session_transcripts("):
                _, again = ok(await mcp.call_tool("get_session_transcripts", {"session_ids": ids}))
                assert [t["session"]["id"] for t in again["transcripts"]] == ids and not again["digests"]


async def test_full_detail_refuses_more_than_100_and_says_to_use_digests(mcp: Client) -> None:
    result = await mcp.call_tool("get_session_transcripts", {"limit": 150})
    assert result.is_error
    assert "detail='digest'" in result.content[0].text  # type: ignore[union-attr]


async def test_yesterdays_transcripts_in_one_call(mcp: Client, simulator: Simulator) -> None:
    day = NOW.replace(hour=0, minute=0, second=0) - timedelta(days=1)
    expected = [s["id"] for s in in_day(simulator.sessions_of("demo"), day)]
    text, data = ok(await mcp.call_tool("get_session_transcripts", {"since": "yesterday"}))
    assert [t["session"]["id"] for t in data["transcripts"]] + [d["session"]["id"] for d in data["digests"]] == expected
    assert data["matched"] == len(expected)
    assert data["scan"]["complete"]
    assert "Window (UTC): " in text.splitlines()[1]


# -- list_sessions with a window or a client-side filter ------------------------------------------


async def test_a_filtered_list_pages_with_a_cursor_and_counts_only_what_it_knows(
    mcp: Client, simulator: Simulator
) -> None:
    expected = [s["id"] for s in simulator.sessions_of("demo") if s["status"] in ("failed", "pending")]
    seen: list[str] = []
    arguments: dict[str, Any] = {"status": ["failed", "pending"], "page_size": 7}
    pages = 0
    while True:
        text, data = ok(await mcp.call_tool("list_sessions", arguments))
        pages += 1
        rows = [row["id"] for row in data["sessions"]]
        assert data["first_number"] == len(seen) + 1
        seen += rows
        first_line = text.splitlines()[0]
        if data.get("next_cursor"):
            assert "filtered_count" not in data  # not known until the scan ends
            assert f"of at least {len(seen) + 1} matching" in first_line
            assert f"cursor={data['next_cursor']!r}" in text
            arguments = {"status": ["failed", "pending"], "page_size": 7, "cursor": data["next_cursor"]}
        else:
            assert data["filtered_count"] == len(expected)  # known exactly at the end
            assert f"of {len(expected)} matching" in first_line
            break
    assert seen == expected
    assert pages == math.ceil(len(expected) / 7)


async def test_a_windowed_list_keeps_the_window_of_its_first_page(
    client: CompanionClient, simulator: Simulator
) -> None:
    expected = [s["id"] for s in simulator.sessions_of("demo") if NOW - timedelta(hours=48) <= moment_of(s) < NOW]
    async with server_at(client) as first:
        _, data = ok(await first.call_tool("list_sessions", {"since": "48h", "page_size": 10}))
    cursor = data["next_cursor"]
    async with server_at(client, now=NOW + timedelta(hours=5)) as later:  # "48h" would now mean another window
        _, more = ok(await later.call_tool("list_sessions", {"since": "48h", "page_size": 100, "cursor": cursor}))
    assert [r["id"] for r in data["sessions"] + more["sessions"]] == expected
    assert more["scan"]["window_start"] == data["scan"]["window_start"]


async def test_list_cursor_errors_are_clear(mcp: Client) -> None:
    _, data = ok(await mcp.call_tool("list_sessions", {"status": "closed", "page_size": 5}))
    result = await mcp.call_tool("list_sessions", {"status": "failed", "cursor": data["next_cursor"]})
    assert result.is_error and "other filters" in result.content[0].text  # type: ignore[union-attr]
    result = await mcp.call_tool("list_sessions", {"status": "closed", "cursor": "w1.bm9wZQ"})
    assert result.is_error and "next_cursor exactly" in result.content[0].text  # type: ignore[union-attr]
    result = await mcp.call_tool("list_sessions", {"status": "closed", "page_index": 2})
    assert result.is_error and "cursor" in result.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({"since": "last tuesday"}, "ISO 8601"),
        ({"since": "now"}, "is empty. Pass a time in the past"),
        ({"since": "0m"}, "is empty. Pass a time in the past"),
        ({"since": "2026-09-21", "until": "2026-09-20"}, "until is exclusive"),
        ({"status": "open"}, "status"),
        ({"status": ["closed", "done"]}, "status"),
        ({"since": "x" * 65}, "since"),
    ],
)
async def test_bad_windows_and_filters_are_clear_tool_errors(
    mcp: Client, simulator: Simulator, arguments: dict[str, Any], needle: str
) -> None:
    for tool in ("list_sessions", "get_session_transcripts", "session_stats"):
        result = await mcp.call_tool(tool, arguments)
        assert result.is_error, tool
        assert needle in result.content[0].text, (tool, result.content[0].text)  # type: ignore[union-attr]
    assert not simulator.requests


async def test_a_list_served_out_of_order_is_read_to_the_end_and_says_so(mcp: Client, simulator: Simulator) -> None:
    simulator.list_order = "oldest_first"
    expected = [s["id"] for s in simulator.sessions_of("demo") if NOW - timedelta(days=2) <= moment_of(s) < NOW]
    text, data = ok(await mcp.call_tool("list_sessions", {"since": "2d", "page_size": 100}))
    assert sorted(r["id"] for r in data["sessions"]) == sorted(expected)
    assert data["scan"]["in_order"] is False and data["scan"]["scanned"] == len(simulator.sessions_of("demo"))
    assert "did not come newest first" in text


async def test_the_scan_bound_is_said_with_what_to_do(client: CompanionClient, simulator: Simulator) -> None:
    async with server_at(client, max_scan=200) as mcp:
        text, data = ok(await mcp.call_tool("session_stats", {"since": "2026-08-20", "read_transcripts": False}))
    assert data["scan"]["bound_hit"] and not data["scan"]["complete"]
    assert data["examined"] < len(
        [s for s in simulator.sessions_of("demo") if moment_of(s) >= NOW - timedelta(days=32)]
    )
    assert "INCOMPLETE" in text and "200 sessions per answer" in text


# -- newer session fields --------------------------------------------------------------------------


async def test_the_transcript_header_names_the_tools_that_failed(mcp: Client, simulator: Simulator) -> None:
    session = next(s for s in simulator.sessions_of("demo") if any(m["state"] == "failed" for m in tools_of(s)))
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
    failed = next(m for m in tools_of(session) if m["state"] == "failed")
    line = next(line for line in text.splitlines() if line.startswith("tools: "))
    assert f"{failed['name']} failed ({failed['error']['code']}: {failed['error']['message']})" in line
    assert {t["name"]: t["state"] for t in data["session"]["tools"]} == {
        m["name"]: m["state"] for m in tools_of(session)
    }


async def test_companion_and_agent_objects_reach_the_header(mcp: Client, simulator: Simulator) -> None:
    session = simulator.sessions_of("demo")[12]
    session["companion"] = {"id": session["companionId"], "name": "Ava"}
    session["agent"] = {"id": "agent_7", "name": "Support agent"}
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
    assert f"companion {session['companionId']} (Ava) · agent agent_7 (Support agent)" in text
    assert (data["session"]["companion_name"], data["session"]["agent_id"]) == ("Ava", "agent_7")


# -- a list served out of order ---------------------------------------------------------------------


def newest_in_window(simulator: Simulator, since: datetime, count: int) -> list[str]:
    """The ``count`` sessions that started last in ``[since, NOW)``, by the simulator's own data."""
    inside = [s for s in simulator.sessions_of("demo") if since <= moment_of(s) < NOW]
    return [s["id"] for s in sorted(inside, key=moment_of, reverse=True)[:count]]


@pytest.mark.parametrize("order", ["newest_first", "oldest_first", "shuffled", "pages_shuffled"])
async def test_the_newest_n_are_the_newest_whatever_order_the_list_comes_in(
    mcp: Client, simulator: Simulator, order: str
) -> None:
    simulator.list_order = order  # type: ignore[assignment]
    expected = newest_in_window(simulator, NOW - timedelta(days=30), 100)
    calls = {
        "get_session_transcripts": {"since": "30d", "limit": 50, "detail": "digest"},
        "session_stats": {"since": "30d", "limit": 50, "read_transcripts": False},
        "list_sessions": {"since": "30d", "page_size": 50},
    }
    for tool, arguments in calls.items():
        text, data = ok(await mcp.call_tool(tool, arguments))
        if tool == "get_session_transcripts":
            got = [d["session"]["id"] for d in data["digests"]]
        elif tool == "list_sessions":
            got = [r["id"] for r in data["sessions"]]
            second = ok(await mcp.call_tool(tool, {**arguments, "cursor": data["next_cursor"]}))[1]
            assert [r["id"] for r in second["sessions"]] == expected[50:100], (order, "second page")
        else:  # the figures count the newest 50: their days are those of the expected sessions
            by_id = {s["id"]: s for s in simulator.sessions_of("demo")}
            days = Counter(moment_of(by_id[i]).strftime("%Y-%m-%d") for i in expected[:50])
            assert data["examined"] == 50 and data["limit_hit"], (order, data["examined"])
            assert {d["day"]: d["sessions"] for d in data["per_day"] if d["sessions"]} == dict(days), order
            got = expected[:50]
        assert sorted(got) == sorted(expected[:50]), (order, tool)
        if order != "newest_first":
            assert "did not come newest first" in text and "kept the newest" in text, (order, tool, text[:400])


@pytest.mark.parametrize("order", ["oldest_first", "shuffled"])
async def test_an_unordered_scan_cut_by_the_limit_says_more_match(
    mcp: Client, simulator: Simulator, order: str
) -> None:
    simulator.list_order = order  # type: ignore[assignment]
    closed = [s for s in simulator.sessions_of("demo") if s["status"] == "closed"]
    expected = [s["id"] for s in sorted(closed, key=moment_of, reverse=True)[:5]]
    text, data = ok(await mcp.call_tool("list_sessions", {"status": "closed", "page_size": 5}))
    assert [r["id"] for r in data["sessions"]] == expected
    assert data["scan"]["complete"] is False and data["next_cursor"]
    assert "more sessions match" in text and "could not stop early and read every session" not in text


async def test_more_matching_in_full_detail_points_to_digests_not_to_a_refused_limit(mcp: Client) -> None:
    text, data = ok(await mcp.call_tool("get_session_transcripts", {"since": "30d", "limit": 100}))
    assert data["more_matching"] and "detail='digest'" in text.splitlines()[0]
    assert "raise limit" not in text.splitlines()[0]  # 101 and more are refused in full detail
    assert (
        "raise limit (up to 100" in ok(await mcp.call_tool("get_session_transcripts", {"since": "30d", "limit": 5}))[0]
    )
    text, data = ok(await mcp.call_tool("get_session_transcripts", {"since": "30d", "limit": 100, "detail": "digest"}))
    assert data["more_matching"] and "raise limit" in text.splitlines()[0]


# -- the client-side filters, each against the simulator's own data --------------------------------

FILTERS = [
    ("close_reason", "idle_timeout", "closeReason"),
    ("close_reason", ["no_credits_left", "connection_aborted"], "closeReason"),
    ("session_type", "KIOSK", "sessionType"),  # values compare without regard to case
    ("modality", "video", "modality"),
    ("modality", "text,video", "modality"),  # one value may list several
]
FILTER_IDS = ["close_reason", "close_reasons", "session_type", "modality", "modalities"]


def matching(simulator: Simulator, field: str, value: str | list[str], since: datetime) -> list[str]:
    """Ids in the window whose ``field`` is one of ``value``, newest first, from the raw data."""
    wanted = {v.strip().casefold() for part in ([value] if isinstance(value, str) else value) for v in part.split(",")}
    return [
        s["id"]
        for s in simulator.sessions_of("demo")
        if since <= moment_of(s) < NOW and (s.get(field) or "").casefold() in wanted
    ]


@pytest.mark.parametrize(("argument", "value", "field"), FILTERS, ids=FILTER_IDS)
async def test_list_sessions_applies_each_client_side_filter(
    mcp: Client, simulator: Simulator, argument: str, value: Any, field: str
) -> None:
    expected = matching(simulator, field, value, NOW - timedelta(days=10))
    assert expected
    arguments: dict[str, Any] = {"since": "10d", argument: value, "page_size": 7}
    listed: list[str] = []
    while True:
        data = ok(await mcp.call_tool("list_sessions", arguments))[1]
        listed += [r["id"] for r in data["sessions"]]
        if not data.get("next_cursor"):
            break
        arguments["cursor"] = data["next_cursor"]
    assert listed == expected and data["filtered_count"] == len(expected)


@pytest.mark.parametrize(("argument", "value", "field"), FILTERS, ids=FILTER_IDS)
async def test_transcripts_apply_each_client_side_filter(
    mcp: Client, simulator: Simulator, argument: str, value: Any, field: str
) -> None:
    expected = matching(simulator, field, value, NOW - timedelta(days=10))
    text, data = ok(
        await mcp.call_tool("get_session_transcripts", {"since": "10d", argument: value, "detail": "digest"})
    )
    assert [d["session"]["id"] for d in data["digests"]] == expected and data["matched"] == len(expected)
    assert f"filters: {data['scan']['filters']}" in text and argument.replace("_", " ") in text  # the answer says them


@pytest.mark.parametrize(("argument", "value", "field"), FILTERS, ids=FILTER_IDS)
async def test_stats_apply_each_client_side_filter(
    mcp: Client, simulator: Simulator, argument: str, value: Any, field: str
) -> None:
    ids = set(matching(simulator, field, value, NOW - timedelta(days=10)))
    sessions = [s for s in simulator.sessions_of("demo") if s["id"] in ids]
    data = ok(await mcp.call_tool("session_stats", {"since": "10d", argument: value, "read_transcripts": False}))[1]
    assert data["examined"] == len(sessions) and not data["limit_hit"]
    assert data["by_status"] == dict(Counter(s["status"] for s in sessions))
    by_field = {"closeReason": "by_close_reason", "sessionType": "by_session_type", "modality": "by_modality"}[field]
    assert data[by_field] == dict(Counter(s[field] for s in sessions))
