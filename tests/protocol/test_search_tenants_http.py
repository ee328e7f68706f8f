"""Over Streamable HTTP with per-request keys, each tenant searches only its own stored sessions (both engines)."""

from __future__ import annotations

import anyio
import pytest

from session_mcp.companion.client import CompanionClient
from session_mcp.sessions.sync import sync
from session_mcp.simulator import Simulator
from session_mcp.store.open import StoreLocation, open_store
from tests.helpers import ANCHOR, FAST_RETRY, serve_mcp
from tests.protocol.test_http import http_client

pytestmark = pytest.mark.anyio

KEYS = ("demo", "other-tenant-key")


async def test_each_key_finds_only_its_own_planted_sessions(
    simulator: Simulator, base_url: str, store_location: StoreLocation
) -> None:
    planted: dict[str, set[str]] = {}
    for key in KEYS:
        closed = [
            s
            for s in simulator.sessions_of(key)
            if s.get("status") == "closed" and (s.get("conversation") or {}).get("items")
        ]
        for session in closed[:: 7 if key == "demo" else 11]:
            session["conversation"]["items"][0]["text"] += " the Zorblax refund"
        planted[key] = {s["id"] for s in closed[:: 7 if key == "demo" else 11]}
    path = store_location
    store = open_store(path)
    for key in KEYS:
        async with CompanionClient(key, base_url, retry=FAST_RETRY) as client:
            await sync(client, store.for_tenant(client.fingerprint), clock=lambda: ANCHOR + 600.0)
    store.close()
    found: dict[str, set[str]] = {}

    async def search(url: str, key: str) -> None:
        async with http_client(url, **{"X-Napster-Api-Key": key}) as client:
            result = await client.call_tool("search_transcripts", {"query": "zorblax", "page_size": 100})
            assert not result.is_error and result.structured_content is not None
            assert result.structured_content["total_sessions"] == len(planted[key])
            found[key] = {hit["session_id"] for hit in result.structured_content["hits"]}

    with serve_mcp(base_url, api_key=None, store=path) as url:
        async with anyio.create_task_group() as group:
            for key in KEYS:
                group.start_soon(search, url, key)
    assert found == planted and not planted["demo"] & planted["other-tenant-key"]
