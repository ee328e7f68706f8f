"""Issue 17's proof: a store filled through the tools from a loopback upstream of thousands of sessions.

Two tenants (per-request keys over Streamable HTTP) share one store file; a phrase is planted in
some of each tenant's sessions. Each tenant's first windowed question syncs the store back to the
window's start; the search then finds exactly that tenant's planted sessions, page after page, and
none of the other's; a second review of the same sessions reads no closed session's transcript.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR, SwitchableApp, serve_mcp, simulator_of, text_of
from tests.protocol.test_http import http_client

pytestmark = pytest.mark.anyio

KEYS = {"demo": 7, "other-tenant-key": 11}
SESSIONS = 3_000
PHRASE = "the Zorblax refund"
SINCE = datetime.fromtimestamp(ANCHOR - 40 * 86_400, UTC).isoformat()  # the data's 35 days, whole
DETAIL_PREFIX = "/public/sessions/"


def plant(simulator: Simulator) -> dict[str, set[str]]:
    """The phrase in the first user turn of every 37th (demo) or 41st (other) closed session with one."""
    planted: dict[str, set[str]] = {}
    for key in KEYS:
        step = 37 if key == "demo" else 41
        spoken = [
            s
            for s in simulator.sessions_of(key)
            if s.get("status") == "closed"
            and any(i.get("role") == "user" for i in (s.get("conversation") or {}).get("items") or [])
        ]
        for session in spoken[::step]:
            first = next(i for i in session["conversation"]["items"] if i.get("role") == "user")
            first["text"] += f" {PHRASE}"
        planted[key] = {s["id"] for s in spoken[::step]}
    return planted


def answer(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    data: dict[str, Any] = result.structured_content
    return data


async def found_by_search(mcp: Client) -> tuple[set[str], int]:
    """Every session the search finds for the phrase, following the cursor; and the total it announced."""
    found: set[str] = set()
    arguments: dict[str, Any] = {"query": '"zorblax refund"', "role": "user", "page_size": 50}
    while True:
        page = answer(await mcp.call_tool("search_transcripts", arguments))
        found |= {hit["session_id"] for hit in page["hits"]}
        if not page.get("next_cursor"):
            return found, page["total_sessions"]
        arguments = {**arguments, "cursor": page["next_cursor"]}


async def test_search_over_a_store_of_thousands_finds_exactly_each_tenants_planted_sessions(
    upstream: tuple[SwitchableApp, str], tmp_path: Path
) -> None:
    simulator = simulator_of(KEYS, session_count=SESSIONS)
    planted = plant(simulator)
    upstream[0].simulator = simulator
    found: dict[str, set[str]] = {}
    totals: dict[str, int] = {}
    details: dict[str, tuple[int, int, int]] = {}

    async def tenant(url: str, key: str) -> None:
        async with http_client(url, **{"X-Napster-Api-Key": key}) as mcp:
            stats = answer(await mcp.call_tool("session_stats", {"since": SINCE, "read_transcripts": False}))
            assert stats["store"]["catch_up"] == "synced" and stats["matched"] >= SESSIONS - 10, stats
            found[key], totals[key] = await found_by_search(mcp)
            if key == "demo":  # the review, twice: the second reads only what may still change
                review = {"since": SINCE, "limit": 1_000}
                simulator.requests.clear()
                first = answer(await mcp.call_tool("review_sessions", review))
                first_reads = sum(1 for r in simulator.requests if r.raw_path.startswith(DETAIL_PREFIX))
                simulator.requests.clear()
                again = answer(await mcp.call_tool("review_sessions", review))
                again_reads = sum(1 for r in simulator.requests if r.raw_path.startswith(DETAIL_PREFIX))
                assert first["reviewed"] == again["reviewed"] == 1_000 and first["findings"] == again["findings"]
                details[key] = (first_reads, again_reads, first["reviewed"])

    settings = Settings(retain_days=0, max_chars=200_000)  # the data is anchored months back: keep it all
    with serve_mcp(upstream[1], settings, api_key=None, store=tmp_path / "store" / "s.sqlite3") as url:
        async with anyio.create_task_group() as group:
            for key in KEYS:
                group.start_soon(tenant, url, key)
    assert found == planted and totals == {key: len(ids) for key, ids in planted.items()}
    assert not planted["demo"] & planted["other-tenant-key"] and all(len(ids) > 20 for ids in planted.values())
    open_now = sum(1 for s in simulator.sessions_of("demo") if s.get("status") in ("pending", "started"))
    first_reads, again_reads, _ = details["demo"]
    # The sync stored every closed session: both reviews read only the open ones (they may still change).
    assert first_reads <= open_now and again_reads <= open_now
