"""The QA-at-scale tools, through the MCP protocol: get_session_transcripts and session_stats."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from tests.helpers import connect

pytestmark = pytest.mark.anyio


@pytest.fixture
async def mcp(client: CompanionClient) -> AsyncIterator[Client]:
    async with connect(client, Settings(demo=True)) as connected:
        yield connected


def single_gets(simulator: Simulator) -> list[str]:
    prefix = "/public/sessions/"
    return [r.raw_path[len(prefix) :] for r in simulator.requests if r.raw_path.startswith(prefix)]


def closed_sessions(simulator: Simulator) -> list[dict[str, Any]]:
    return [s for s in simulator.sessions_of("demo") if s.get("status") == "closed"]


async def test_batch_by_filters_returns_the_newest_in_order(mcp: Client, simulator: Simulator) -> None:
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    result = await mcp.call_tool("get_session_transcripts", {"limit": 50}, progress_callback=on_progress)
    assert not result.is_error
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    expected = [s["id"] for s in simulator.sessions_of("demo")[:50]]
    whole = [t["session"]["id"] for t in data["transcripts"]]
    digested = [d["session"]["id"] for d in data["digests"]]
    assert sorted(whole + digested) == sorted(expected)  # every session, whole or as a digest line
    assert whole == [i for i in expected if i in whole] and digested == [i for i in expected if i in digested]
    assert len(whole) > len(digested)  # most fit whole; the marathon among them gives way
    total = len(simulator.sessions_of("demo"))
    assert data["requested"] == 50
    assert data["matched"] == total
    assert not data["failures"]
    text = result.content[0].text  # type: ignore[union-attr]
    assert len(text) <= 40_000
    assert text.startswith(f"Transcripts of 50 sessions (newest 50 of {total} matching)")
    assert all(f"## {session_id}" in text for session_id in whole)
    assert all(f"\n{session_id} | " in text for session_id in digested)
    assert [done for done, _ in progress] == list(range(1, 51))
    assert {total for _, total in progress} == {50}


async def test_batch_keeps_going_when_some_sessions_fail(mcp: Client, simulator: Simulator) -> None:
    good = [s["id"] for s in closed_sessions(simulator)[:3]]
    asked = [good[0], "sess_does_not_exist", good[1], "../etc/passwd", good[2]]
    result = await mcp.call_tool("get_session_transcripts", {"session_ids": asked})
    assert not result.is_error
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    assert [t["session"]["id"] for t in data["transcripts"]] == good
    reasons = {f["session_id"]: f["reason"] for f in data["failures"]}
    assert set(reasons) == {"sess_does_not_exist", "../etc/passwd"}
    assert "No session" in reasons["sess_does_not_exist"]
    assert "not a session id" in reasons["../etc/passwd"]
    assert "Not read:" in result.content[0].text  # type: ignore[union-attr]
    assert "../etc/passwd" not in single_gets(simulator)


async def test_batch_refuses_ids_and_filters_together(mcp: Client, simulator: Simulator) -> None:
    result = await mcp.call_tool("get_session_transcripts", {"session_ids": ["sess_x"], "companion_id": "comp_support"})
    assert result.is_error
    assert "either session_ids, or filters" in result.content[0].text  # type: ignore[union-attr]
    with_limit = await mcp.call_tool("get_session_transcripts", {"session_ids": ["sess_x"], "limit": 5})
    assert with_limit.is_error  # a limit that would be ignored is refused, like an unknown argument
    assert not simulator.requests


async def test_a_session_too_long_for_the_budget_comes_as_a_digest_line_with_its_call(
    client: CompanionClient, simulator: Simulator
) -> None:
    marathon = max(simulator.sessions_of("demo"), key=lambda s: len((s.get("conversation") or {}).get("items", [])))
    short = [s["id"] for s in closed_sessions(simulator)[:5] if s["id"] != marathon["id"]]
    async with connect(client, Settings(demo=True, max_chars=6_000)) as mcp:
        result = await mcp.call_tool("get_session_transcripts", {"session_ids": [marathon["id"], *short]})
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    text = result.content[0].text  # type: ignore[union-attr]
    assert len(text) <= 6_000
    assert [t["session"]["id"] for t in data["transcripts"]] == short  # the short ones whole, in order
    for whole in data["transcripts"]:
        assert len(whole["turns"]) == whole["total_turns"] > 0
    [digest] = data["digests"]  # the long one gave way: one line, not a stub of its first turns
    assert digest["session"]["id"] == marathon["id"]
    assert digest["session"]["turns"] == len(marathon["conversation"]["items"])
    line = next(line for line in text.splitlines() if line.startswith(marathon["id"]))
    assert f"| {len(marathon['conversation']['items'])} |" in line
    assert data["read_calls"] == [f"get_session_transcript(session_id={marathon['id']!r})"]
    assert data["read_calls"][0] in text


async def test_batch_shortens_long_messages_with_a_marker(mcp: Client, simulator: Simulator) -> None:
    long_one = next(
        s
        for s in simulator.sessions_of("demo")
        if any(len(i["text"]) > 1000 for i in (s.get("conversation") or {}).get("items", []))
    )
    result = await mcp.call_tool("get_session_transcripts", {"session_ids": [long_one["id"]], "max_message_chars": 100})
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    assert data["shortened_messages"] >= 1
    assert any("chars]" in t["text"] and len(t["text"]) < 150 for t in data["transcripts"][0]["turns"])


async def test_batch_concurrency_is_bounded(client: CompanionClient, simulator: Simulator) -> None:
    simulator.latency = 0.02
    ids = [s["id"] for s in closed_sessions(simulator)[:12]]
    async with connect(client, Settings(demo=True, concurrency=3)) as mcp:
        result = await mcp.call_tool("get_session_transcripts", {"session_ids": ids})
    assert len(result.structured_content["transcripts"]) == 12  # type: ignore[index]
    assert 2 <= simulator.peak_in_flight <= 3


async def test_a_batch_reread_of_closed_sessions_makes_no_request(mcp: Client, simulator: Simulator) -> None:
    closed = [s["id"] for s in closed_sessions(simulator)[:10]]
    open_one = next(s["id"] for s in simulator.sessions_of("demo") if s.get("status") == "started")
    await mcp.call_tool("get_session_transcripts", {"session_ids": [*closed, open_one]})
    simulator.requests.clear()
    again = await mcp.call_tool("get_session_transcripts", {"session_ids": [*closed, open_one]})
    assert len(again.structured_content["transcripts"]) == 11  # type: ignore[index]
    assert single_gets(simulator) == [open_one]  # closed ones come from the cache, the open one is fetched


async def test_stats_match_an_independent_count(mcp: Client, simulator: Simulator) -> None:
    sessions = simulator.sessions_of("demo")
    result = await mcp.call_tool("session_stats", {"limit": 2000})
    assert not result.is_error
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    assert data["examined"] == data["matched"] == len(sessions)
    assert data["limit_hit"] is False
    assert data["by_status"] == dict(Counter(s["status"] for s in sessions))
    assert data["by_companion"] == dict(Counter(s["companionId"] for s in sessions))
    assert data["by_tag"]["channel"] == dict(Counter(s["tags"]["channel"] for s in sessions if s.get("tags")))
    durations = [s["closedAt"] - s["startedAt"] for s in sessions if "closedAt" in s and "startedAt" in s]
    assert data["duration_seconds"]["median"] == statistics.median(durations)
    assert data["duration_seconds"]["max"] == max(durations)
    silent = {
        s["id"]
        for s in sessions
        if not any(i["role"] == "user" for i in (s.get("conversation") or {}).get("items", []))
    }
    assert data["no_user_turn"] == len(silent)
    assert set(data["no_user_turn_ids"]) <= silent
    assert data["turns"]["max"] == max(len((s.get("conversation") or {}).get("items", [])) for s in sessions)
    text = result.content[0].text  # type: ignore[union-attr]
    assert text.startswith(f"Statistics over {len(sessions)} sessions of {len(sessions)} matching.")
    assert "busiest hours (UTC)" in text


async def test_stats_say_when_the_limit_cut_the_set(mcp: Client, simulator: Simulator) -> None:
    result = await mcp.call_tool(
        "session_stats", {"limit": 30, "companion_id": "comp_support", "read_transcripts": False}
    )
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    matching = [s for s in simulator.sessions_of("demo") if s["companionId"] == "comp_support"]
    assert data["examined"] == 30
    assert data["matched"] == len(matching)
    assert data["limit_hit"] is True
    assert data["by_companion"] == {"comp_support": 30}
    assert data["turns"]["count"] == 0
    assert not single_gets(simulator)  # no transcript was read
    assert "limit 30 reached" in result.content[0].text  # type: ignore[union-attr]
