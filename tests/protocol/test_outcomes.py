"""An outcome for every session, everywhere (issue 18, deliver 1), through the SDK's client.

On the simulator with a store of the server's own: list rows carry each session's outcome as
``outcome_of`` decides it on the session, the ``outcome`` filter returns exactly the sessions that
ended so (one call answers "which sessions this week ended unsolved?"), a server that cannot answer
from its store refuses the filter in one line, statistics count outcomes as a direct count does
(overall, per companion, per day; from the store and from the API alike), and digest lines show it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail
from session_mcp.config import Settings
from session_mcp.render.digests import OUTCOME_MARKS
from session_mcp.sessions.outcome import outcome_of
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR, connect, started_in, text_of

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR, UTC)
UNSOLVED = ["unresolved", "abandoned"]


@asynccontextmanager
async def server(client: CompanionClient, **settings: Any) -> AsyncIterator[Client]:
    async with connect(client, Settings(**settings), clock=lambda: NOW) as mcp:
        yield mcp


def outcomes_in(simulator: Simulator, since: datetime) -> dict[str, str]:
    """Each session started since ``since``: its outcome, decided on the session itself."""
    return {
        wire["id"]: outcome_of(ingest(json.dumps(wire).encode(), SessionDetail, what="test")).outcome
        for wire in simulator.sessions_of("demo")
        if started_in(wire, since, NOW)
    }


async def call(mcp: Client, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], str]:
    result = await mcp.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content, text_of(result)


async def every_row(mcp: Client, arguments: dict[str, Any]) -> list[dict[str, Any]]:
    """All rows of a list, page after page, each page's text showing the outcome column."""
    rows: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page, text = await call(mcp, "list_sessions", {**arguments, "page_size": 40, "cursor": cursor})
        if page["sessions"]:
            assert "| status | outcome | tags" in text
            for row in page["sessions"]:
                [line] = [line for line in text.splitlines() if line.startswith(row["id"] + " | ")]
                assert f"| {row['outcome']} |" in line
        rows += page["sessions"]
        if not page.get("next_cursor"):
            assert page["filtered_count"] == len(rows)
            return rows
        cursor = page["next_cursor"]


async def test_rows_carry_the_outcome_and_the_filter_returns_exactly_those_sessions(
    client: CompanionClient, simulator: Simulator
) -> None:
    expected = outcomes_in(simulator, NOW - timedelta(days=7))
    assert len(set(expected.values())) >= 3  # the demo week ends several ways
    async with server(client) as mcp:
        rows = await every_row(mcp, {"since": "7d"})
        assert {row["id"]: row["outcome"] for row in rows} == expected
        for wanted in (["resolved"], UNSOLVED, ["escalated", "unknown"]):
            rows = await every_row(mcp, {"since": "7d", "outcome": wanted})
            assert {row["id"] for row in rows} == {i for i, o in expected.items() if o in wanted}
        # With another filter, and as one text (the list-of-values convention of status).
        closed = {s["id"] for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")}
        rows = await every_row(mcp, {"since": "7d", "outcome": "abandoned,unknown", "status": ["closed", "failed"]})
        assert {row["id"] for row in rows} == {i for i, o in expected.items() if o in ("abandoned", "unknown")} & closed


async def test_which_sessions_this_week_ended_unsolved_is_one_call(
    client: CompanionClient, simulator: Simulator
) -> None:
    monday = (NOW - timedelta(days=NOW.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    expected = {i for i, o in outcomes_in(simulator, monday).items() if o in UNSOLVED}
    async with server(client) as mcp:
        page, text = await call(mcp, "list_sessions", {"since": "this week", "outcome": UNSOLVED, "page_size": 100})
    assert expected and {row["id"] for row in page["sessions"]} == expected
    assert f"of {len(expected)} matching" in text


async def test_the_filter_is_refused_when_the_store_cannot_answer(client: CompanionClient) -> None:
    async with server(client, no_store=True) as mcp:
        plain, text = await call(mcp, "list_sessions", {})  # API rows: no outcome, no column
        assert all(row.get("outcome") is None for row in plain["sessions"]) and "outcome" not in text
        refused = [await mcp.call_tool("list_sessions", {"since": "7d", "outcome": ["unresolved"]})]
    async with server(client) as mcp:
        refused.append(await mcp.call_tool("list_sessions", {"since": "7d", "search": "x", "outcome": "resolved"}))
        refused.append(await mcp.call_tool("list_sessions", {"outcome": ["resolved"]}))  # never synced whole
    for result in refused:
        assert result.is_error
        message = text_of(result)
        assert "\n" not in message and "outcome is known only to the session store" in message
        assert "leave outcome out" in message
    async with server(client) as mcp:  # an outcome that is none
        wrong = await mcp.call_tool("list_sessions", {"since": "7d", "outcome": ["solved"]})
    assert wrong.is_error and "outcome" in text_of(wrong)


async def test_stats_count_outcomes_as_a_direct_count_does(client: CompanionClient, simulator: Simulator) -> None:
    expected = outcomes_in(simulator, NOW - timedelta(days=7))
    companion = {s["id"]: s.get("companionId") for s in simulator.sessions_of("demo")}
    async with server(client) as mcp:
        stored, text = await call(mcp, "session_stats", {"since": "7d"})
    async with server(client, no_store=True) as mcp:
        fetched, _ = await call(mcp, "session_stats", {"since": "7d"})
    counts = Counter(expected.values())
    for result in (stored, fetched):
        assert result["by_outcome"] == dict(counts)
        for figures in result["companions"]:
            mine = Counter(o for i, o in expected.items() if companion[i] == figures["companion_id"])
            assert figures["outcomes"] == dict(mine)
            known = sum(n for o, n in mine.items() if o != "unknown")
            assert figures["resolved_rate"] == (round(mine["resolved"] / known, 3) if known else None)
        per_day = Counter()
        for day in result["per_day"]:
            per_day.update(day["by_outcome"])
        assert per_day == counts
    assert stored["store"] is not None
    assert f"outcome (of {len(expected)}): " in text and "resolved per companion" in text
    assert "outcomes per day (" in text


async def test_digest_lines_show_the_outcome(client: CompanionClient, simulator: Simulator) -> None:
    expected = outcomes_in(simulator, NOW - timedelta(days=2))
    async with server(client) as mcp:
        batch, text = await call(mcp, "get_session_transcripts", {"since": "2d", "detail": "digest"})
    assert {d["session"]["id"]: d["session"]["outcome"] for d in batch["digests"]} == expected
    columns = next(line for line in text.splitlines() if "(columns: " in line).split("(columns: ")[1].split(";")[0]
    names = columns.split(" | ")
    at = next(n for n, name in enumerate(names) if name.startswith("outcome ("))
    assert "✗ unresolved" in names[at]
    for digest in batch["digests"]:
        row = digest["session"]
        [line] = [line for line in text.splitlines() if line.startswith(row["id"] + " | ")]
        assert line.split(" | ")[at] == OUTCOME_MARKS[row["outcome"]]
