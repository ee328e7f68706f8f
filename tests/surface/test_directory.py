"""list_companions and list_agents through the MCP client, on the simulator over loopback HTTP.

Every expected figure comes from the simulator's own data (``Project.companions``, ``agents``,
``sessions_of``), never from the code under test; the server's clock is the demo data's anchor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server.directory import memory_of
from session_mcp.simulator import Simulator
from session_mcp.simulator.app import Fault
from tests.helpers import ANCHOR, assert_clear_tool_error, assert_one_clear_error, connect, ok, run_cli, text_of

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR, UTC)
WEEK_START = NOW - timedelta(days=7)


@asynccontextmanager
async def server(client: CompanionClient, **settings: Any) -> AsyncIterator[Client]:
    async with connect(client, Settings(demo=True, **settings), clock=lambda: NOW) as connected:
        yield connected


def week(simulator: Simulator, by: str = "companionId") -> dict[str, tuple[int, int]]:
    """(sessions, failed) per companion (or agent) among the sessions that started in the last 7 days."""
    counts: dict[str, tuple[int, int]] = {}
    for s in simulator.sessions_of("demo"):
        moment = datetime.fromtimestamp(s.get("startedAt") or s["createdAt"], UTC)
        key = s.get("companionId") if by == "companionId" else (s.get("agent") or {}).get("id")
        if key and WEEK_START <= moment < NOW:
            sessions, failed = counts.get(key, (0, 0))
            counts[key] = (sessions + 1, failed + (s.get("status") == "failed"))
    return counts


async def test_companions_list_the_directory_with_the_week_of_each(
    simulator: Simulator, client: CompanionClient
) -> None:
    expected = week(simulator)
    async with server(client) as mcp:
        text, data = ok(await mcp.call_tool("list_companions", {}))
    rows = simulator.projects["demo"].companions
    assert [row["id"] for row in data["companions"]] == [row["id"] for row in rows]
    for row in data["companions"]:
        assert (row["sessions_7d"], row["failed_7d"]) == expected.get(row["id"], (0, 0)), row
        assert f"{row['id']} | {row['name']} | {row['status']} | {row['sessions_7d']} | {row['failed_7d']}" in text
    assert sum(n for n, _ in expected.values()) == data["activity"]["sessions"] > 0
    assert data["activity"] == data["activity"] | {"source": "scan", "complete": True}
    assert data["companions"][-1]["name"] == "Noor Haddad"  # named by first and last name only
    assert text.startswith(f"Companions 1-{len(rows)} of {len(rows)} (page 0).")
    assert "last 7 days (2026-09-14T14:13Z to 2026-09-21T14:13Z)" in text and text.endswith("Last page.")


async def test_companion_filters_reach_the_api_and_pages_read_on(simulator: Simulator, client: CompanionClient) -> None:
    async with server(client) as mcp:
        _, pending = ok(await mcp.call_tool("list_companions", {"status": ["pending"], "search": "noor"}))
        text, first = ok(await mcp.call_tool("list_companions", {"page_size": 2}))
        _, second = ok(await mcp.call_tool("list_companions", {"page_size": 2, "page_index": 1}))
        _, tagged = ok(await mcp.call_tool("list_companions", {"tags": ["team=sales"]}))
        _, written = ok(await mcp.call_tool("list_companions", {"status": "pending,readyToUse"}))  # one text
    assert [c["id"] for c in pending["companions"]] == ["comp_concierge"]
    queries = [r.query for r in simulator.requests if r.raw_path == "/public/companions"]
    assert any("statuses=pending" in q and "search=noor" in q for q in queries), queries
    assert first["next_page_index"] == 1 and "More: call list_companions with page_index=1" in text
    assert [c["id"] for c in first["companions"] + second["companions"]] == [
        "comp_support",
        "comp_booking",
        "comp_sales",
        "comp_tutor",
    ]
    assert [c["id"] for c in tagged["companions"]] == ["comp_sales"]
    assert [c["id"] for c in written["companions"]] == ["comp_concierge"]
    assert any("statuses=pending&statuses=readyToUse" in q for q in queries)


async def test_agents_show_their_companion_channels_and_own_sessions(
    simulator: Simulator, client: CompanionClient
) -> None:
    async with server(client) as mcp:
        text, data = ok(await mcp.call_tool("list_agents", {}))
    assert "No session of the window names an agent" in text  # the demo sessions were started by companion
    assert all(row["sessions_7d"] == 0 for row in data["agents"])
    support = data["agents"][0]
    assert support == support | {
        "id": "agent_support",
        "companion_id": "comp_support",
        "companion_name": "Ava (customer support)",
        "channels": ["webrtc", "websocket", "sip"],
    }
    assert "agent_support | Ava agent | comp_support (Ava (customer support)) | webrtc, websocket, sip | 0 | 0" in text
    # Sessions started through an agent name it: they count for that agent.
    recent = [s for s in simulator.sessions_of("demo") if s.get("startedAt", 0) >= WEEK_START.timestamp()]
    for s in recent[:9]:
        s["agent"] = {"id": "agent_booking", "name": "Leo agent"}
    recent[0]["status"] = "failed"
    async with server(client) as mcp:
        _, cached = ok(await mcp.call_tool("list_agents", {}))
        assert cached["agents"] == data["agents"]  # the week read a moment ago is remembered (CACHE_SECONDS)
        memory_of(client).forget()
        text, data = ok(await mcp.call_tool("list_agents", {}))
    booking = next(row for row in data["agents"] if row["id"] == "agent_booking")
    assert (booking["sessions_7d"], booking["failed_7d"]) == week(simulator, by="agent")["agent_booking"] == (9, 1)
    assert "names an agent" not in text


async def test_an_older_api_without_the_lists_says_so_in_one_line(
    simulator: Simulator, client: CompanionClient
) -> None:
    simulator.directory = False
    async with server(client) as mcp:
        for tool in ("list_companions", "list_agents"):
            result = await mcp.call_tool(tool, {})
            assert_clear_tool_error(result, tool, "(404)", "older version")
        assert not (await mcp.call_tool("list_sessions", {"page_size": 1})).is_error


async def test_the_lists_stand_when_the_week_cannot_be_read(simulator: Simulator, client: CompanionClient) -> None:
    simulator.inject(Fault(status=401, times=10, path_prefix="/public/sessions"))
    async with server(client) as mcp:
        text, data = ok(await mcp.call_tool("list_companions", {}))
    assert len(data["companions"]) == 5 and "activity" not in data
    assert "No 7-day figures: The Companion API refused the API key (401" in text
    assert "sessions 7d" not in text and "comp_support | Ava (customer support) | completed" in text


async def test_a_page_that_does_not_fit_the_budget_says_how_to_read_it(
    simulator: Simulator, client: CompanionClient
) -> None:
    simulator.projects["demo"].companions += [
        {"id": f"comp_extra_{i:03d}", "name": "A rather long companion name " * 3, "status": "completed"}
        for i in range(100)
    ]
    async with server(client, max_chars=2_000) as mcp:
        result = await mcp.call_tool("list_companions", {"page_size": 100})
    text = text_of(result)
    assert not result.is_error and len(text) <= 2_000
    assert "did not fit the answer: call list_companions with page_size=" in text
    assert result.structured_content is not None and len(result.structured_content["companions"]) == 100


# -- a filter by a companion the project does not have ---------------------------------------------

UNKNOWN_CALLS = [
    ("list_sessions", {}),
    ("list_sessions", {"since": "7d"}),
    ("get_session_transcripts", {"detail": "digest"}),
    ("session_stats", {"read_transcripts": False}),
    ("review_sessions", {"limit": 5}),
    ("search_transcripts", {"query": "refund"}),
]


@pytest.mark.parametrize(("tool", "arguments"), UNKNOWN_CALLS, ids=[f"{t}-{len(a)}" for t, a in UNKNOWN_CALLS])
async def test_an_unknown_companion_id_is_named_with_the_known_ones(
    simulator: Simulator, client: CompanionClient, tool: str, arguments: dict[str, Any]
) -> None:
    async with connect(client, Settings(), clock=lambda: NOW) as mcp:  # with a store: search_transcripts too
        result = await mcp.call_tool(tool, {**arguments, "companion_id": "comp_supprot"})
        assert_clear_tool_error(
            result,
            tool,
            'No companion "comp_supprot" in this project',
            # the first 10 by name: Ava, Kai, Leo, Mia, Noor
            "comp_support (Ava (customer support)), comp_tutor (Kai (language tutor)), comp_booking (Leo",
            "comp_concierge (Noor Haddad).",
        )
        # A known companion with nothing to show is just that: no error, and no list of companions.
        simulator.requests.clear()
        empty = await mcp.call_tool(tool, {**arguments, "companion_id": "comp_concierge"})
        assert not empty.is_error, text_of(empty)
        # A filter that matches costs no companions request.
        await mcp.call_tool(tool, {**arguments, "companion_id": "comp_support"})
    assert sum(r.raw_path == "/public/companions" for r in simulator.requests) <= 1  # the first empty answer's


async def test_no_claim_of_an_unknown_companion_without_a_whole_list(
    simulator: Simulator, client: CompanionClient
) -> None:
    simulator.directory = False
    async with server(client) as mcp:
        text, _ = ok(await mcp.call_tool("list_sessions", {"companion_id": "comp_supprot"}))
    assert text.startswith("No sessions match") and "No companion" not in text


# -- external client ids: the vendor's pattern wherever the server sends one -----------------------

PATTERN = "^[A-Za-z0-9_-]{1,32}$"


@pytest.mark.parametrize("value", ["has space", "x" * 33, "émile", "a/b", "user_1;drop"])
async def test_an_external_client_id_the_api_cannot_have_is_refused_naming_the_pattern(
    simulator: Simulator, client: CompanionClient, value: str
) -> None:
    async with server(client, read_only=False) as mcp:
        for tool, arguments in (
            ("list_sessions", {}),
            ("session_stats", {"since": "7d"}),
            ("get_session_transcripts", {"detail": "digest"}),
            ("review_sessions", {"limit": 5}),
            ("create_connection", {"agent_id": "agent_support"}),
        ):
            simulator.requests.clear()
            result = await mcp.call_tool(tool, {**arguments, "external_client_id": value})
            assert_clear_tool_error(result, tool, PATTERN)
            assert not simulator.requests, (tool, [r.raw_path for r in simulator.requests])
        ok(await mcp.call_tool("list_sessions", {"external_client_id": "user_1-A"}))  # a valid one is sent


@pytest.mark.parametrize("value", ["has space", "x" * 33])
def test_the_command_line_refuses_it_too(base_url: str, value: str) -> None:
    done = run_cli("sessions", "list", "--external-client-id", value, base_url=base_url, key="demo")
    assert_one_clear_error(done, PATTERN)
