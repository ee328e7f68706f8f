"""The reading tools answer from the session store (issue 17, deliver 3), through the SDK's client.

Against the simulator over loopback HTTP with its request log: a second question over a window
costs one list request and no transcript; a burst lists once; a window older than what the store
covers syncs back to its start first; thousands of stored sessions have no cap and exact counts;
lists page with keyset cursors that no other tenant or forger can use; open sessions show their
list row and are read again when they close; two tenants over HTTP never see each other's sessions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.sessions import stored
from session_mcp.simulator import Simulator
from session_mcp.store.sqlite import SqliteStore
from tests.helpers import ANCHOR, FAST_RETRY, SwitchableApp, connect, serve_mcp, simulator_of, started_in, text_of
from tests.protocol.test_http import http_client

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR, UTC)
LIST_PATH = "/public/sessions"


@asynccontextmanager
async def server(client: CompanionClient, **settings: Any) -> AsyncIterator[Client]:
    """The server at the demo data's anchor, with a store of its own (``connect`` gives a temporary one)."""
    async with connect(client, Settings(**settings), clock=lambda: NOW) as mcp:
        yield mcp


def answer(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def requests(simulator: Simulator) -> tuple[int, list[str]]:
    """List requests, and the ids of detail requests, since the log was last cleared."""
    lists = sum(1 for r in simulator.requests if r.raw_path == LIST_PATH)
    details = [r.raw_path[len(LIST_PATH) + 1 :] for r in simulator.requests if r.raw_path.startswith(LIST_PATH + "/")]
    return lists, details


def in_window(simulator: Simulator, days: float, key: str = "demo") -> list[dict[str, Any]]:
    since = NOW - timedelta(days=days)
    return [s for s in simulator.sessions_of(key) if started_in(s, since, NOW)]


def newest_first(sessions: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(sessions, key=lambda s: (s.get("startedAt") or s["createdAt"], s["id"]), reverse=True)
    return [s["id"] for s in ordered]


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer catches up (no ``CATCH_UP_EVERY`` pause): the request counts are each call's own."""
    monkeypatch.setattr(stored, "CATCH_UP_EVERY", 0.0)


async def test_a_second_stats_over_a_window_lists_once_and_reads_no_transcript(
    client: CompanionClient, simulator: Simulator, no_pause: None
) -> None:
    window = {"since": "7d"}
    async with server(client) as mcp:
        first = answer(await mcp.call_tool("session_stats", window))
        simulator.requests.clear()
        result = await mcp.call_tool("session_stats", window)
        second = answer(result)
    lists, details = requests(simulator)
    assert (lists, details) == (1, [])
    assert first["store"]["catch_up"] == "synced" and second["store"]["catch_up"] == "ran"
    expected = in_window(simulator, 7)
    assert second["examined"] == second["matched"] == len(expected) and not second["limit_hit"]
    assert "From the session store (last synced " in text_of(result).splitlines()[1]
    async with server(client, no_store=True) as upstream:  # the same figures as read from the API
        direct = answer(await upstream.call_tool("session_stats", window))
    assert "store" not in direct or direct["store"] is None
    for name in ("matched", "by_status", "by_companion", "by_close_reason", "cost", "per_day", "duration_seconds"):
        assert second[name] == direct[name], name
    closed = [s for s in expected if s.get("status") in ("closed", "failed")]
    assert second["turns"]["count"] == len(closed)  # every closed session's figures, from the store


async def test_a_burst_of_questions_lists_once(client: CompanionClient, simulator: Simulator) -> None:
    async with server(client) as mcp:
        answer(await mcp.call_tool("session_stats", {"since": "3d"}))
        simulator.requests.clear()
        async with anyio.create_task_group() as group:
            for tool, arguments in [
                ("session_stats", {"since": "2d"}),
                ("list_sessions", {"since": "3d"}),
                ("get_session_transcripts", {"since": "1d", "detail": "digest"}),
            ]:
                group.start_soon(mcp.call_tool, tool, arguments)
        again = answer(await mcp.call_tool("list_sessions", {"since": "3d", "status": ["closed"]}))
    lists, details = requests(simulator)
    still_open = {s["id"] for s in simulator.sessions_of("demo") if s.get("status") in ("pending", "started")}
    assert lists <= 1 and set(details) <= still_open  # closed sessions of the batch come from the store
    assert again["store"]["catch_up"] == "recent"


async def test_a_window_older_than_the_store_covers_syncs_back_to_its_start(
    client: CompanionClient, simulator: Simulator, no_pause: None
) -> None:
    async with server(client) as mcp:
        near = answer(await mcp.call_tool("session_stats", {"since": "2d"}))
        simulator.requests.clear()
        wide = answer(await mcp.call_tool("session_stats", {"since": "12d"}))
        wide_lists, _ = requests(simulator)
        simulator.requests.clear()
        inner = answer(await mcp.call_tool("session_stats", {"since": "5d"}))
    assert near["store"]["catch_up"] == "synced" and wide["store"]["catch_up"] == "synced"
    assert inner["store"]["catch_up"] == "ran" and requests(simulator) == (1, [])
    assert wide["matched"] == len(in_window(simulator, 12)) and inner["matched"] == len(in_window(simulator, 5))
    assert wide_lists > 1  # it listed down to the window's start


async def test_stats_over_thousands_of_stored_sessions_have_no_cap(
    upstream: tuple[SwitchableApp, str],
) -> None:
    many = simulator_of({"demo": 7}, session_count=2_500)
    upstream[0].simulator = many
    async with (
        CompanionClient("demo", upstream[1], retry=FAST_RETRY) as client,
        server(client) as mcp,
    ):
        result = answer(await mcp.call_tool("session_stats", {"since": "40d"}))
        listed = answer(await mcp.call_tool("list_sessions", {"since": "40d", "status": ["failed"], "page_size": 5}))
    count = len(in_window(many, 40))
    assert result["examined"] == result["matched"] == count > 2_000 and not result["limit_hit"]
    failed = [s for s in in_window(many, 40) if s.get("status") == "failed"]
    assert listed["filtered_count"] == len(failed) and [r["id"] for r in listed["sessions"]] == newest_first(failed)[:5]


async def test_lists_page_from_the_store_with_keyset_cursors(
    client: CompanionClient, simulator: Simulator, base_url: str
) -> None:
    arguments = {"since": "6d", "status": ["closed", "failed", "started"], "page_size": 9}
    served: list[str] = []
    async with server(client) as mcp:
        page = answer(await mcp.call_tool("list_sessions", arguments))
        first_cursor = page.get("next_cursor")
        assert first_cursor
        while True:
            served += [row["id"] for row in page["sessions"]]
            assert page["first_number"] == len(served) - len(page["sessions"]) + 1
            if page.get("next_cursor") is None:
                break
            page = answer(await mcp.call_tool("list_sessions", {**arguments, "cursor": page["next_cursor"]}))
        wanted = [s for s in in_window(simulator, 6) if s.get("status") in ("closed", "failed", "started")]
        assert served == newest_first(wanted) and page["filtered_count"] == len(wanted)
        forged = first_cursor[:-3] + ("AAA" if not first_cursor.endswith("AAA") else "BBB")
        for cursor, needle in [
            (forged, "not made by this server"),
            ("k1.eyJhIjpbMCwiIl19.x", "not made by this server"),
        ]:
            refused = await mcp.call_tool("list_sessions", {**arguments, "cursor": cursor})
            assert refused.is_error and needle in text_of(refused) and "without cursor" in text_of(refused)
        other_filters = await mcp.call_tool(
            "list_sessions", {**arguments, "status": ["failed"], "cursor": first_cursor}
        )
        assert other_filters.is_error and "other filters" in text_of(other_filters)
    async with (
        CompanionClient("other-tenant-key", base_url, retry=FAST_RETRY) as other,
        server(other) as mcp,
    ):
        refused = await mcp.call_tool("list_sessions", {**arguments, "cursor": first_cursor})
        assert refused.is_error and "not made by this server" in text_of(refused)


async def test_open_sessions_show_their_list_row_and_are_read_again_when_they_close(
    client: CompanionClient, simulator: Simulator, no_pause: None
) -> None:
    newest = simulator.projects["demo"].newest_first()[:20]
    started = next(s for s in newest if s.get("status") == "started")
    async with server(client) as mcp:
        open_now = answer(await mcp.call_tool("list_sessions", {"since": "1d", "status": ["started", "pending"]}))
        shown = {row["id"]: row for row in open_now["sessions"]}
        assert started["id"] in shown and shown[started["id"]]["status"] == "started"
        started.update(status="closed", closedAt=started["startedAt"] + 30, closeReason="user_ended")
        simulator.requests.clear()
        closed_now = answer(await mcp.call_tool("list_sessions", {"since": "1d", "status": ["closed"]}))
        assert started["id"] in {row["id"] for row in closed_now["sessions"]}
        assert started["id"] in requests(simulator)[1]  # read again, now that it closed
        simulator.requests.clear()
        transcript = await mcp.call_tool("get_session_transcript", {"session_id": started["id"]})
        assert not transcript.is_error and requests(simulator) == (0, [])  # stored: no request


async def test_two_tenants_over_http_never_see_each_others_stored_sessions(
    simulator: Simulator, base_url: str, tmp_path: Path
) -> None:
    since = (NOW - timedelta(days=4)).isoformat()
    until = NOW.isoformat()
    window = {"since": since, "until": until}
    seen: dict[str, dict[str, Any]] = {}

    async def ask(url: str, key: str) -> None:
        async with http_client(url, **{"X-Napster-Api-Key": key}) as mcp:
            stats = answer(await mcp.call_tool("session_stats", window))
            listed = answer(await mcp.call_tool("list_sessions", {**window, "page_size": 100}))
            found = answer(await mcp.call_tool("search_transcripts", {"query": "the", "page_size": 100, **window}))
            seen[key] = {
                "matched": stats["matched"],
                "listed": {row["id"] for row in listed["sessions"]},
                "count": listed["filtered_count"],
                "hits": {hit["session_id"] for hit in found["hits"]},
                "store": stats["store"],
            }

    settings = Settings(retain_days=0, store=tmp_path / "store" / "s.sqlite3")
    with serve_mcp(base_url, settings, api_key=None) as url:
        async with anyio.create_task_group() as group:
            for key in ("demo", "other-tenant-key"):
                group.start_soon(ask, url, key)
    for key in ("demo", "other-tenant-key"):
        own = {s["id"] for s in simulator.sessions_of(key) if started_in(s, NOW - timedelta(days=4), NOW)}
        assert seen[key]["listed"] == own and seen[key]["count"] == seen[key]["matched"] == len(own)
        assert seen[key]["hits"] and seen[key]["hits"] <= own and seen[key]["store"]["catch_up"] == "synced"
    assert not seen["demo"]["listed"] & seen["other-tenant-key"]["listed"]


async def test_a_sync_running_elsewhere_answers_from_what_is_stored_and_says_so(
    client: CompanionClient, simulator: Simulator, tmp_path: Path, no_pause: None
) -> None:
    path = tmp_path / "store" / "s.sqlite3"
    async with server(client, store=path) as mcp:
        answer(await mcp.call_tool("session_stats", {"since": "3d"}))
        other = SqliteStore(path)
        try:
            async with other.for_tenant(client.fingerprint).sync_lock():  # another process's sync, say
                simulator.requests.clear()
                result = await mcp.call_tool("session_stats", {"since": "3d"})
        finally:
            other.close()
    data = answer(result)
    assert data["store"]["catch_up"] == "sync_running" and requests(simulator) == (0, [])
    assert data["matched"] == len(in_window(simulator, 3))
    assert "another sync is running, this is what was stored" in text_of(result)
