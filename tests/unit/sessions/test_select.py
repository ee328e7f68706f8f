"""``select()`` and ``Listing``: which sessions, chosen once for the tools, the review and the export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest

from session_mcp.companion.client import CompanionClient
from session_mcp.sessions.criteria import Criteria
from session_mcp.sessions.select import Listing, Selection, select
from session_mcp.sessions.window import Window
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR, UTC)
WEEK = Window(NOW - timedelta(days=7), NOW)
ALL_TIME = Window()


@pytest.fixture
def simulator() -> Simulator:
    return Simulator(anchor=ANCHOR, session_count=150)


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[CompanionClient]:
    transport = httpx2.ASGITransport(app=simulator.app)
    async with CompanionClient("demo", "http://simulator.local", transport=transport) as client:
        yield client


def newest(simulator: Simulator, window: Window = ALL_TIME, status: str | None = None) -> list[str]:
    """The matching ids, newest first, from the raw data."""

    def moment(s: dict[str, Any]) -> datetime:
        return datetime.fromtimestamp(s.get("startedAt") or s["createdAt"], UTC)

    return [
        s["id"]
        for s in simulator.sessions_of("demo")
        if window.holds(moment(s)) and (status is None or s["status"] == status)
    ]


def page_sizes(simulator: Simulator) -> list[int]:
    return [int(parse_qs(r.query)["pageSize"][0]) for r in simulator.requests if r.raw_path == "/public/sessions"]


async def test_given_ids_are_taken_as_given_without_a_request(simulator: Simulator, client: CompanionClient) -> None:
    selected = await select(client, Selection(session_ids=["b", "a", "b"], limit=1))
    assert selected.ids == ["b", "a", "b"] and selected.sessions == []
    assert selected.scan is None and selected.matched is None and not selected.more_match
    assert not simulator.requests


async def test_the_plain_list_gives_the_newest_and_the_apis_count(
    simulator: Simulator, client: CompanionClient
) -> None:
    selected = await select(client, Selection(limit=7))
    assert selected.ids == newest(simulator)[:7] == [s.id for s in selected.sessions]
    assert selected.scan is None and selected.matched == 150 and not selected.more_match
    assert page_sizes(simulator) == [7]  # no more rows asked for than the limit


async def test_a_window_is_scanned_and_says_whether_more_match(simulator: Simulator, client: CompanionClient) -> None:
    inside = newest(simulator, WEEK)
    assert 3 < len(inside) < 150
    few = await select(client, Selection(window=WEEK, limit=3))
    assert few.ids == inside[:3] and few.scan is not None
    assert few.more_match and few.matched is None
    every = await select(client, Selection(window=WEEK, limit=150))
    assert every.ids == inside and every.scan is not None and every.scan.complete
    assert not every.more_match and every.matched == len(inside)


async def test_client_side_criteria_alone_make_a_scan_within_its_bound(
    simulator: Simulator, client: CompanionClient
) -> None:
    selected = await select(client, Selection(criteria=Criteria.of(status=["failed"]), limit=150, max_scan=40))
    assert selected.scan is not None and selected.scan.bound_hit and selected.scan.scanned == 40
    assert selected.ids == [i for i in newest(simulator, status="failed") if i in newest(simulator)[:40]]


async def test_always_scan_scans_the_plain_list_too(simulator: Simulator, client: CompanionClient) -> None:
    selected = await select(client, Selection(limit=5, always_scan=True))
    assert selected.ids == newest(simulator)[:5]
    assert selected.scan is not None and selected.scan.scanned >= 5 and selected.more_match


async def test_a_listing_without_a_limit_streams_every_match_then_tells_the_scan(
    simulator: Simulator, client: CompanionClient
) -> None:
    listing = Listing(client, Selection(window=WEEK, max_scan=None))
    seen = []
    async for session in listing:
        seen.append(session.id)
        assert listing.scan is None  # known once the stream ends
    assert seen == newest(simulator, WEEK)
    assert listing.scan is not None and listing.scan.reached_end and listing.expected is None


async def test_a_listing_of_the_plain_list_knows_its_total_from_the_first_page(client: CompanionClient) -> None:
    listing = Listing(client, Selection(limit=30))
    totals = [listing.expected async for _ in listing]
    assert totals == [30] * 30
    assert Listing(client, Selection()).expected is None  # nothing read yet, no limit


async def test_a_listing_refuses_given_ids(client: CompanionClient) -> None:
    with pytest.raises(ValueError, match="select"):
        Listing(client, Selection(session_ids=["a"]))
