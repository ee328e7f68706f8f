"""The simulator's GET /public/companions and /public/agents: paging, filters, status codes, ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from session_mcp.simulator import Simulator
from session_mcp.simulator.data import AGENTS

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=base_url, headers={"X-Api-Key": "demo"}, timeout=5) as c:
        yield c


async def test_the_directory_holds_the_companions_of_the_demo_sessions(
    simulator: Simulator, http: httpx2.AsyncClient
) -> None:
    companions = (await http.get("/public/companions", params={"pageSize": 100})).json()
    agents = (await http.get("/public/agents")).json()
    used = {s["companionId"] for s in simulator.sessions_of("demo")}
    listed = {row["id"] for row in companions["items"]}
    assert used < listed and companions["filteredCount"] == companions["totalCount"] == len(listed) == 5
    assert {row["id"] for row in agents["items"]} == set(AGENTS)
    assert {row["companionId"] for row in agents["items"]} == used
    assert all(row["channels"] for row in agents["items"])


async def test_pages_filters_and_errors_as_the_sessions_list_has_them(http: httpx2.AsyncClient, base_url: str) -> None:
    pages = [(await http.get("/public/companions", params={"pageSize": 2, "pageIndex": i})).json() for i in range(3)]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    both = await http.get("/public/companions", params=[("statuses", "pending"), ("statuses", "completed")])
    comma = await http.get("/public/companions", params={"statuses": "pending,completed"})
    assert both.json()["filteredCount"] == comma.json()["filteredCount"] == 5
    assert (await http.get("/public/companions", params={"statuses": "pending"})).json()["filteredCount"] == 1
    assert (await http.get("/public/companions", params={"search": "LEO"})).json()["items"][0]["id"] == "comp_booking"
    assert (await http.get("/public/companions", params={"tags": '{"team":"tutor"}'})).json()["filteredCount"] == 1
    assert (await http.get("/public/agents", params={"pageIndex": -1})).status_code == 400
    assert (await http.get("/public/companions", params={"tags": "x"})).status_code == 400
    async with httpx2.AsyncClient(base_url=base_url, timeout=5) as anonymous:
        assert (await anonymous.get("/public/agents")).status_code == 401


async def test_an_older_api_has_neither_list(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    simulator.directory = False
    assert (await http.get("/public/companions")).status_code == 404
    assert (await http.get("/public/agents")).status_code == 404
    assert (await http.get("/public/sessions")).status_code == 200
