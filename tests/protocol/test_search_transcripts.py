"""``search_transcripts`` through the MCP protocol, over a store synced from the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server import build_server
from session_mcp.sessions.sync import sync
from session_mcp.simulator import Simulator
from session_mcp.store.sqlite import SqliteStore
from tests.helpers import ANCHOR, FAST_RETRY

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR + 600, UTC)
PHRASE = "my Zörblax card li.wei12@example.com"


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


def answer(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


@pytest.fixture
async def planted(
    simulator: Simulator, client: CompanionClient, tmp_path: Path
) -> AsyncIterator[tuple[Path, set[str]]]:
    """A store of the demo project with ``PHRASE`` said by the user in every 9th closed session."""
    ids = set()
    for index, session in enumerate(simulator.sessions_of("demo")):
        items = (session.get("conversation") or {}).get("items") or []
        users = [i for i in items if i.get("role") == "user"]
        if index % 9 == 0 and session.get("status") == "closed" and users:
            users[0]["text"] += f" {PHRASE}"
            ids.add(session["id"])
    path = tmp_path / "store" / "s.sqlite3"
    store = SqliteStore(path)
    await sync(client, store.for_tenant(client.fingerprint), clock=NOW.timestamp)
    store.close()
    yield path, ids


def server_for(client: CompanionClient, path: Path, **settings: Any) -> Any:
    return build_server(client, Settings(store=path, **settings), clock=lambda: NOW)


async def test_search_finds_the_planted_sessions_with_marks_and_freshness(
    client: CompanionClient, planted: tuple[Path, set[str]]
) -> None:
    path, ids = planted
    async with Client(server_for(client, path), cache=None) as mcp:
        result = await mcp.call_tool("search_transcripts", {"query": "zorblax", "page_size": 100, "role": None})
        data = answer(result)
        assert data["total_sessions"] == len(ids) == len({h["session_id"] for h in data["hits"]})
        assert {h["session_id"] for h in data["hits"]} == ids
        assert all("«Zörblax»" in h["snippet"] and h["role"] == "user" for h in data["hits"])
        text = text_of(result)
        assert "Searched the session store only (last synced 2026-09-21T14:23Z)" in text
        assert "] User: " in text and "get_session_transcript session_id=" in text
        agents = answer(await mcp.call_tool("search_transcripts", {"query": "zorblax", "role": "agent"}))
        assert agents["total_hits"] == 0
        none = answer(await mcp.call_tool("search_transcripts", {"query": "zorblax", "status": ["failed"]}))
        assert none["total_hits"] == 0


async def test_pages_follow_the_cursor_to_exact_totals(client: CompanionClient, planted: tuple[Path, set[str]]) -> None:
    path, _ = planted
    async with Client(server_for(client, path), cache=None) as mcp:
        seen: list[tuple[str, int]] = []
        arguments: dict[str, Any] = {"query": "the OR a", "page_size": 50, "since": "2026-09-14"}
        data = answer(await mcp.call_tool("search_transcripts", arguments))
        total = data["total_hits"]
        while True:
            seen += [(h["session_id"], h["turn_index"]) for h in data["hits"]]
            if not data.get("next_cursor"):
                break
            data = answer(await mcp.call_tool("search_transcripts", arguments | {"cursor": data["next_cursor"]}))
        assert total > 50 and len(seen) == len(set(seen)) == total
        other = await mcp.call_tool("search_transcripts", {"query": "refund", "cursor": data.get("next_cursor") or "x"})
        assert other.is_error and "not one of this search's" in text_of(other)


async def test_a_bad_query_shows_the_syntax(client: CompanionClient, planted: tuple[Path, set[str]]) -> None:
    async with Client(server_for(client, planted[0]), cache=None) as mcp:
        result = await mcp.call_tool("search_transcripts", {"query": 'refund "charged'})
        assert result.is_error and "unbalanced double quote" in text_of(result) and "query syntax:" in text_of(result)


async def test_another_key_finds_none_of_these_sessions(
    base_url: str, client: CompanionClient, planted: tuple[Path, set[str]]
) -> None:
    async with (
        CompanionClient("other-tenant-key", base_url, retry=FAST_RETRY) as other,
        Client(server_for(other, planted[0]), cache=None) as mcp,
    ):
        data = answer(await mcp.call_tool("search_transcripts", {"query": "zorblax"}))
        assert (data["total_hits"], data["hits"]) == (0, [])
        assert "never synced completely" in text_of(await mcp.call_tool("search_transcripts", {"query": "zorblax"}))


async def test_masked_personal_data_stays_masked(client: CompanionClient, planted: tuple[Path, set[str]]) -> None:
    async with Client(server_for(client, planted[0], redact_pii=True), cache=None) as mcp:
        data = answer(await mcp.call_tool("search_transcripts", {"query": "zorblax"}))
        assert data["hits"] and all("example.com" not in h["snippet"] for h in data["hits"])
        refused = await mcp.call_tool("search_transcripts", {"query": "li.wei12@example.com"})
        assert refused.is_error and "--redact-pii" in text_of(refused)


async def test_the_answer_keeps_to_the_budget(client: CompanionClient, planted: tuple[Path, set[str]]) -> None:
    async with Client(server_for(client, planted[0], max_chars=2_000), cache=None) as mcp:
        result = await mcp.call_tool("search_transcripts", {"query": "the", "page_size": 100})
        data = answer(result)
        assert len(text_of(result)) <= 2_000 and 0 < len(data["hits"]) < 100 and data["next_cursor"]
        assert "more hits. search_transcripts with the same query" in text_of(result)


async def test_without_a_store_there_is_no_search_tool(client: CompanionClient) -> None:
    for settings in (Settings(demo=True), Settings(no_store=True)):
        async with Client(build_server(client, settings), cache=None) as mcp:
            assert "search_transcripts" not in {t.name for t in (await mcp.list_tools()).tools}
