"""A list page checks what upstream claims against its own rows (issue 15, item 6).

More rows than the counts leave for the page, an id twice on one page, a page index the API
ignored (another page answered, or one page's rows again), and a scan that read the whole list
yet found fewer sessions than the API counts: each is said, in the text and in
``upstream_inconsistencies`` (structured), and no range or total the rows contradict is printed
("Sessions 1-60 of 3"). A loopback stand-in serves each case over real HTTP; the tools run through
the SDK's ``Client``, the CLI as a real process; hypothesis generates pages whose counts and rows
disagree.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Simulator, serve_in_thread
from tests.helpers import ADVERSARIAL, ANCHOR, CliRun, clean_environment, connect, run_main
from tests.upstream import Answer, HostileUpstream

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR, UTC)
RANGE = re.compile(r"^Sessions (\d+)-(\d+)(?: of (?:at least )?(\d+))?")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[HostileUpstream, str]]:
    upstream = HostileUpstream()
    with serve_in_thread(upstream) as url:
        yield upstream, url


def serve(upstream: HostileUpstream, page: dict[str, Any], *, paged: bool = False) -> HostileUpstream:
    upstream.clear()
    upstream.listing, upstream.paged = Answer(page), paged
    return upstream


@asynccontextmanager
async def opened(base_url: str) -> AsyncIterator[tuple[Client, dict[str, Any]]]:
    """An MCP session (the server's clock at the anchor) and the outputSchema of list_sessions.

    Without a store: these pin what the scan makes of the API's claims (with one, a window is a
    store query: tests/protocol/test_stored_answers.py)."""
    async with connect(base_url, Settings(no_store=True), key="key", timeout=10, clock=lambda: NOW) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
        schema = tools["list_sessions"].output_schema
        assert schema is not None
        yield mcp, schema


@pytest.fixture
async def mcp(served: tuple[HostileUpstream, str]) -> AsyncIterator[tuple[Client, dict[str, Any]]]:
    async with opened(served[1]) as pair:
        yield pair


async def listed(
    mcp: tuple[Client, dict[str, Any]], arguments: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """(text, structuredContent) of a list_sessions answer, which must fit its outputSchema."""
    result: CallToolResult = await mcp[0].call_tool("list_sessions", arguments or {})
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    assert result.structured_content is not None
    jsonschema.validate(result.structured_content, mcp[1])
    return text, result.structured_content


def kinds(data: dict[str, Any]) -> set[str]:
    return {entry["kind"] for entry in data.get("upstream_inconsistencies") or []}


def row(index: int, **fields: Any) -> dict[str, Any]:
    moment = ANCHOR - 60 * (index + 1)  # newest first, a minute apart, all within the last few days
    return {"id": f"sess_{index:04d}", "companionId": "comp_a", "status": "closed", "createdAt": moment,
            "startedAt": moment, "closedAt": moment + 30} | fields  # fmt: skip


def page(count: int, **claims: Any) -> dict[str, Any]:
    return {"items": [row(i) for i in range(count)], **claims}


# -- one list page --------------------------------------------------------------------------


async def test_rows_beyond_the_count_are_said_and_not_numbered_against_it(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    serve(served[0], page(60, filteredCount=3, totalCount=3))
    for page_size, shown in ((100, 60), (20, 20)):
        text, data = await listed(mcp, {"page_size": page_size})
        assert len(data["sessions"]) == shown
        assert kinds(data) == {"rows_over_count"}
        assert "filtered_count" not in data and "total_count" not in data  # the rows contradict them
        assert not RANGE.match(text) and "of 3" not in text, text
        first, note = text.splitlines()[:2]
        assert first.startswith(f"{shown} sessions as the API sent them for page 0"), first
        assert note.startswith("upstream inconsistent (rows_over_count): the API counts 3 sessions"), note
        assert note.endswith("the API counts 3 sessions (filteredCount) but sent 60 rows"), note


async def test_an_id_twice_on_a_page_is_said_and_shown_once(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    items = [row(0), row(1), row(0), row(2), row(1)]
    serve(served[0], {"items": items, "filteredCount": 5, "totalCount": 5})
    text, data = await listed(mcp)
    assert [r["id"] for r in data["sessions"]] == ["sess_0000", "sess_0001", "sess_0002"]
    assert kinds(data) == {"duplicate_ids"}
    assert "rows repeating an id the page already listed: 2 (e.g. 'sess_0000')" in text
    assert not RANGE.match(text), text


async def test_another_page_answered_is_said(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    serve(served[0], page(20, filteredCount=100, totalCount=100, pageIndex=0))
    text, data = await listed(mcp, {"page_index": 2})
    assert kinds(data) == {"page_index_ignored"}
    assert "asked for page 2, the API answered page 0" in text
    assert data["has_more"] and "next_page_index" not in data  # page 3 would be these rows again
    assert not RANGE.match(text) and "Sessions 41-60" not in text, text
    assert "narrow the filters" in text.splitlines()[-1]


async def test_the_same_rows_for_another_page_index_are_said(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    serve(served[0], page(20, filteredCount=60, totalCount=60))  # no pageIndex in the answer: the rows tell
    text, data = await listed(mcp)
    assert "upstream_inconsistencies" not in data and text.startswith("Sessions 1-20 of 60, newest first")
    text, data = await listed(mcp, {"page_index": 1})
    assert kinds(data) == {"page_index_ignored"}
    assert "page 1 holds the very rows of page 0: the API ignores the page index" in text
    assert "Sessions 21-40" not in text and "next_page_index" not in data


async def test_resources_list_shows_each_session_once_and_stops_where_paging_does_not_work(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    serve(served[0], {"items": [row(0), row(1), row(0)], "filteredCount": 3})
    listed = await mcp[0].list_resources()
    assert [r.uri for r in listed.resources] == [f"napster://sessions/sess_000{i}/transcript" for i in (0, 1)]
    serve(served[0], page(50, filteredCount=500))  # every page index: the same rows
    cursor = (await mcp[0].list_resources()).next_cursor
    assert cursor is not None
    assert (await mcp[0].list_resources(cursor=cursor)).next_cursor is None  # page 1 was page 0 again


async def test_a_page_numbers_its_rows_by_the_page_size_the_api_served(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    """An API that serves 10 a page when asked for 20 says so: page 1 holds sessions 11-20, not 21-30."""
    serve(served[0], page(10, filteredCount=25, totalCount=25, pageIndex=1, pageSize=10))
    text, data = await listed(mcp, {"page_index": 1})
    assert text.startswith("Sessions 11-20 of 25, newest first (page 1)."), text
    assert data["first_number"] == 11 and "upstream_inconsistencies" not in data


async def test_the_simulator_paged_to_its_end_raises_nothing(client: CompanionClient, simulator: Simulator) -> None:
    """No false alarm: an honest API, read page by page, while a session arrives between two pages (and
    scanned: without a store)."""
    async with connect(client, Settings(no_store=True), clock=lambda: NOW) as mcp:
        index = 0
        while True:
            result = await mcp.call_tool("list_sessions", {"page_index": index, "page_size": 40})
            data = result.structured_content
            assert data is not None and "upstream_inconsistencies" not in data, data
            assert result.content[0].text.startswith("Sessions ")  # type: ignore[union-attr]
            if index == 1:
                newest = simulator.sessions_of("demo")[0]
                simulator.projects["demo"].sessions["sess_brand_new"] = dict(
                    newest, id="sess_brand_new", createdAt=newest["createdAt"] + 1
                )
            if data.get("next_page_index") is None:
                break
            index = data["next_page_index"]
        assert index >= 3
        again = (await mcp.call_tool("list_sessions", {"page_size": 40})).structured_content
        assert again is not None and "upstream_inconsistencies" not in again
        for arguments in ({"since": "7d"}, {"status": "failed"}):
            scanned = (await mcp.call_tool("list_sessions", arguments)).structured_content
            assert scanned is not None and "upstream_inconsistencies" not in scanned["scan"], scanned["scan"]


async def test_a_scan_of_an_api_serving_fewer_rows_than_asked_reads_them_all(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    # An API that serves at most 30 rows a page, whatever the page size asked, and does not say so.
    serve(served[0], page(95, filteredCount=95, totalCount=95), paged=True).max_page_size = 30
    text, data = await listed(mcp, {"status": "closed", "page_size": 100})
    assert "upstream_inconsistencies" not in data and data["scan"]["complete"] is True, text
    assert text.startswith("Sessions 1-95 of 95 matching")


# -- a scan that claims to be complete --------------------------------------------------------


@pytest.mark.parametrize("arguments", [{"status": "closed"}, {"since": "7d"}])
async def test_a_scan_that_finds_fewer_than_the_api_counts_says_the_list_changed(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]], arguments: dict[str, Any]
) -> None:
    serve(served[0], page(90, filteredCount=250, totalCount=250), paged=True)  # the API counts 250, serves 90
    text, data = await listed(mcp, {**arguments, "page_size": 100})
    scan = data["scan"]
    assert scan["complete"] is False and scan["scanned"] == 90
    assert kinds(scan) == kinds(data) == {"list_changed"}
    assert "filtered_count" not in data  # the number of matches is not known
    assert "NOT complete: the scan read the list to its end and found 90 of the 250 sessions" in text
    assert "complete (read to the end of the list)" not in text


async def test_a_scan_of_an_api_that_ignores_the_page_index_says_both(
    served: tuple[HostileUpstream, str], mcp: tuple[Client, dict[str, Any]]
) -> None:
    serve(served[0], page(30, filteredCount=250, totalCount=250))  # every page index: the same 30 rows
    text, data = await listed(mcp, {"status": "closed", "page_size": 100})
    assert kinds(data["scan"]) == {"page_index_ignored", "list_changed"}
    assert data["scan"]["complete"] is False
    assert "upstream inconsistent (page_index_ignored): page 1 holds the very rows of page 0" in text
    arguments = {"status": "closed", "detail": "digest", "limit": 100}
    batch = await mcp[0].call_tool("get_session_transcripts", arguments)
    assert batch.structured_content is not None and "matched" not in batch.structured_content
    assert "NOT complete" in batch.content[0].text  # type: ignore[union-attr]


# -- the command line -------------------------------------------------------------------------


def sessions_list(served: tuple[HostileUpstream, str], *args: str) -> CliRun:
    env = clean_environment(NAPSTER_API_KEY="key", NAPSTER_API_BASE_URL=served[1], SESSION_MCP_TIMEOUT="10")
    done = run_main("sessions", "list", "--page-size", "100", *args, env=env)
    assert done.returncode == 0, done.stderr
    return done


def test_sessions_list_says_it_too(served: tuple[HostileUpstream, str]) -> None:
    serve(served[0], page(60, filteredCount=3, totalCount=3))
    lines = sessions_list(served).stdout.splitlines()
    assert lines[0].startswith("60 sessions as the API sent them for page 0"), lines[0]
    assert lines[1].startswith("upstream inconsistent (rows_over_count)"), lines[1]
    assert not any("of 3" in line for line in lines)
    as_json = sessions_list(served, "--json")  # the page as it came on stdout, the note on stderr
    assert as_json.stderr == "session-mcp: " + lines[1] + "\n"
    assert '"filteredCount": 3' in as_json.stdout


# -- generated pages whose counts and rows disagree ---------------------------------------------


@dataclass
class Env:
    portal: BlockingPortal
    mcp: Client
    schema: dict[str, Any]
    upstream: HostileUpstream


@pytest.fixture(scope="module")
def env(served: tuple[HostileUpstream, str]) -> Iterator[Env]:
    with start_blocking_portal(backend="asyncio") as portal, portal.wrap_async_context_manager(
        opened(served[1])
    ) as (mcp, schema):  # fmt: skip
        yield Env(portal, mcp, schema, served[0])


count = st.none() | st.integers(0, 40)
bodies = st.fixed_dictionaries(
    {"items": st.lists(st.integers(0, 12).map(row), max_size=30)},
    optional={"filteredCount": count, "totalCount": count, "pageIndex": st.integers(0, 3), "pageSize": count},
)


@settings(ADVERSARIAL, max_examples=80)
@given(body=bodies, page_index=st.integers(0, 3), page_size=st.integers(1, 25))
def test_a_page_never_claims_a_range_or_total_its_rows_contradict(
    env: Env, body: dict[str, Any], page_index: int, page_size: int
) -> None:
    serve(env.upstream, body)
    result = env.portal.call(env.mcp.call_tool, "list_sessions", {"page_index": page_index, "page_size": page_size})
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    data = result.structured_content
    assert data is not None
    jsonschema.validate(data, env.schema)
    ids = [r["id"] for r in data["sessions"]]
    sent = [item["id"] for item in body["items"]]
    assert ids == list(dict.fromkeys(sent[:page_size]))  # the page's rows, each id once
    # What the body itself contradicts, worked out here from the raw body.
    filtered, total = body.get("filteredCount"), body.get("totalCount")
    claimed = filtered if filtered is not None else total
    size = body.get("pageSize") or page_size
    contradicted = (
        (claimed is not None and len(sent) > max(0, claimed - page_index * size))
        or len(set(sent[:page_size])) < len(sent[:page_size])
        or body.get("pageIndex", page_index) != page_index
        or (filtered is not None and total is not None and filtered > total)
    )
    if contradicted:
        assert data.get("upstream_inconsistencies"), text
        assert "upstream inconsistent (" in text
    shown = RANGE.match(text)
    if shown:
        first, last = int(shown.group(1)), int(shown.group(2))
        assert last - first + 1 == len(ids) and first == data["first_number"], text
        assert not contradicted, text
        if shown.group(3) is not None:
            assert last <= int(shown.group(3)), text
    for key in ("filtered_count", "total_count"):
        if key in data and ids:
            assert data["first_number"] + len(ids) - 1 <= data[key], (key, data)
    if any(entry["kind"] == "page_index_ignored" for entry in data.get("upstream_inconsistencies") or []):
        assert "next_page_index" not in data
