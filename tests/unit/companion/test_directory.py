"""The directory's wire models read any row, and the client's two list calls send what they should."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.directory import AgentPage, CompanionPage
from session_mcp.companion.ingest import ingest
from session_mcp.errors import InvalidInputError, InvalidResponseError, MissingEndpointError
from session_mcp.render.directory import (
    AgentsResult,
    CompanionsResult,
    agent_rows,
    companion_rows,
    paging,
    render_agents,
    render_companions,
)
from session_mcp.simulator import Simulator
from tests.helpers import KEY
from tests.strategies_upstream import directory_pages, encode

pytestmark = pytest.mark.anyio


def page(model: type[CompanionPage | AgentPage], body: object) -> CompanionPage | AgentPage:
    return ingest(json.dumps(body).encode(), model, what="GET /public/x", max_items=100)


def test_a_companion_is_named_by_name_else_first_and_last_name_else_headline() -> None:
    rows = page(
        CompanionPage,
        {
            "items": [
                {"id": "c1", "name": "Ava\nEvil | row"},
                {"id": "c2", "firstName": "Noor", "lastName": "Haddad"},
                {"id": "c3", "headline": "Support"},
                {"id": "c4", "name": {"odd": 1}, "firstName": None},
                {"name": "no id"},
                "not an object",
                None,
            ]
        },
    ).items
    assert [row.label for row in rows] == ["Ava Evil | row", "Noor Haddad", "Support", "{'odd': 1}", "no id"]
    assert rows[4].id is None


def test_an_agent_reads_its_companion_and_channels_in_any_shape() -> None:
    rows = page(
        AgentPage,
        {
            "items": [
                {"id": "a1", "companionId": "c1", "channels": ["webrtc", {"channelType": "sip"}, "webrtc"]},
                {"id": "a2", "companion": {"id": "c2"}, "channels": {"voip": {}, "sip": {}}},
                {"id": "a3", "companion": "c3", "channels": [{"type": "websocket"}, {"nothing": 1}, 5, True, None]},
                {"id": "a4", "channels": "webrtc"},
            ],
            "totalCount": "many",
        },
    )
    assert isinstance(rows, AgentPage) and rows.total_count is None
    assert [(r.companion_ref, r.channel_types) for r in rows.items] == [
        ("c1", ["webrtc", "sip"]),
        ("c2", ["voip", "sip"]),
        (None, ["websocket", "5"]),
        (None, []),
    ]


async def test_the_client_sends_the_documented_filters_and_names_a_missing_endpoint(base_url: str) -> None:
    async with CompanionClient("demo", base_url) as client:
        pending = await client.list_companions(statuses=["pending"], search="noor", tags={"a": "b"}, page_size=5)
        assert pending.items == [] and pending.filtered_count == 0
        with pytest.raises(InvalidInputError, match="statuses"):
            await client.list_companions(statuses=["bad\nstatus"])
        with pytest.raises(InvalidInputError, match="page_size"):
            await client.list_agents(page_size=0)


async def test_an_older_api_answers_404_for_the_lists(simulator: Simulator, base_url: str) -> None:
    simulator.directory = False
    async with CompanionClient("demo", base_url) as client:
        with pytest.raises(MissingEndpointError, match=r"no GET /public/agents \(404\).*older version"):
            await client.list_agents()


@settings(deadline=None, database=None, max_examples=30, suppress_health_check=list(HealthCheck))
@given(body=directory_pages(wild=True) | directory_pages(wild=False), agents=st.booleans())
def test_any_directory_page_is_rows_or_a_clear_error_and_each_row_one_line(body: dict[str, Any], agents: bool) -> None:
    """Through the ingest boundary: a page or ``InvalidResponseError``; rendered, one line per row, in budget."""
    model = AgentPage if agents else CompanionPage
    try:
        parsed = ingest(encode(body), model, what="GET /public/x", secret=KEY, max_items=20)
    except InvalidResponseError as exc:
        assert KEY not in str(exc) and "\n" not in str(exc)
        return
    items = parsed.items[:20]
    paged = paging(parsed, len(items), 0, 20)
    if isinstance(parsed, AgentPage):
        text = render_agents(AgentsResult(agents=agent_rows(parsed.items, {}, {}), **paged), 4_000)
    else:
        text = render_companions(CompanionsResult(companions=companion_rows(parsed.items, None), **paged), 4_000)
    assert len(text) <= 4_000 and KEY not in text
    rows = [line for line in text.split("\n") if " | " in line][1:]  # the header first
    assert len(rows) <= len(items), text[:500]
    assert text.split("\n") == text.splitlines()  # no line break but ours
