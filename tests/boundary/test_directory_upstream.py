"""The directory tools against the hostile stand-in upstream: an older API's 404, errors, odd pages.

``tests/upstream.py`` serves the exact bytes over loopback HTTP; the server is driven through the
SDK's ``Client`` with the hostile key, which no answer may ever show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from mcp import Client
from mcp.types import PromptReference

from session_mcp.config import Settings
from session_mcp.simulator import serve_in_thread
from tests.helpers import KEY, assert_clear_tool_error, connect, ok
from tests.upstream import NOT_FOUND, Answer, HostileUpstream, json_answer

pytestmark = pytest.mark.anyio

PROMPT = PromptReference(type="ref/prompt", name="summarize_sessions")
EMPTY = json_answer({"items": [], "filteredCount": 0, "totalCount": 3})  # what a filter that matches nothing gets
NOT_FOUND_BODIES = [
    Answer(b"", 404),
    Answer(b"<html>Cannot GET /public/companions</html>", 404),
    Answer(NOT_FOUND, 404),
    json_answer({"code": "NotFound", "description": f"no such route (key {KEY})"}, 404),
]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[HostileUpstream, str]]:
    app = HostileUpstream()
    with serve_in_thread(app) as base_url:
        yield app, base_url


@pytest.fixture
def hostile(served: tuple[HostileUpstream, str]) -> HostileUpstream:
    served[0].reset()
    return served[0]


@asynccontextmanager
async def connected(base_url: str) -> AsyncIterator[Client]:
    async with connect(base_url, Settings(no_store=True), key=KEY, timeout=5) as mcp:
        yield mcp


@pytest.mark.parametrize("missing", NOT_FOUND_BODIES, ids=["empty", "html", "session-code", "echoes-key"])
async def test_an_older_api_without_the_lists_is_one_line_and_everything_else_works(
    served: tuple[HostileUpstream, str], hostile: HostileUpstream, missing: Answer
) -> None:
    hostile.companions = hostile.agents = missing
    async with connected(served[1]) as mcp:
        for tool, path in (("list_companions", "/public/companions"), ("list_agents", "/public/agents")):
            result = await mcp.call_tool(tool, {})
            text = assert_clear_tool_error(result, tool, f"no GET {path} (404", "older version")
            assert "session ids" not in text  # not the advice for a session that is not there
        # Completions fall back to the companion ids of recent sessions; agents have none.
        companions = (await mcp.complete(PROMPT, {"name": "companion_id", "value": ""})).completion.values
        agents = (await mcp.complete(PROMPT, {"name": "agent_id", "value": ""})).completion.values
        # Without a companion list, an empty filtered answer stays an empty answer.
        hostile.listing = EMPTY
        text, _ = ok(await mcp.call_tool("list_sessions", {"companion_id": "comp_unknown"}))
    assert companions == ["comp_normal"] and agents == []
    assert text.startswith("No sessions match")


@pytest.mark.parametrize(
    ("answer", "needles"),
    [
        (json_answer({"code": "Unauthorized"}, 401), ("refused the API key (401", "check the API key")),
        (Answer(b"", 503), ("failed to answer GET /public/companions (503)", "Retry once")),
        (Answer(b"[1, 2]"), ("a JSON array where an object was expected",)),
        (Answer(b'{"items": '), ("not JSON",)),
        (Answer(b"", 302, {"Location": f"https://evil.example/?key={KEY}"}), ("redirect (302)",)),
    ],
    ids=["401", "503", "array", "truncated", "redirect"],
)
async def test_a_failing_list_is_a_clear_error(
    served: tuple[HostileUpstream, str], hostile: HostileUpstream, answer: Answer, needles: tuple[str, ...]
) -> None:
    hostile.companions = answer
    async with connected(served[1]) as mcp:
        assert_clear_tool_error(await mcp.call_tool("list_companions", {}), "list_companions", *needles)
        # A list that cannot be read proves nothing about a companion id: the empty answer stands.
        hostile.listing = EMPTY
        text, _ = ok(await mcp.call_tool("list_sessions", {"companion_id": "comp_unknown"}))
        assert text.startswith("No sessions match")


async def test_lying_counts_and_odd_rows_still_page_within_bounds(
    served: tuple[HostileUpstream, str], hostile: HostileUpstream
) -> None:
    rows = [{"id": f"comp_{i}", "firstName": "A\nB", "status": "x | y"} for i in range(150)] + [{"no": "id"}]
    hostile.companions = json_answer({"items": rows, "filteredCount": 10**15, "totalCount": -3})
    async with connected(served[1]) as mcp:
        text, data = ok(await mcp.call_tool("list_companions", {"page_size": 5}))
    assert len(data["companions"]) == 5  # 151 sent for a page of 5
    assert data["next_page_index"] == 1 and "filtered_count" not in data and "total_count" not in data
    assert "comp_0 | A B | x / y |" in text  # one line per row: no break, no bar of upstream's own
    assert KEY not in text


async def test_a_companion_list_that_ignores_the_page_index_proves_no_id_unknown(
    served: tuple[HostileUpstream, str], hostile: HostileUpstream
) -> None:
    rows = [{"id": f"comp_{i}", "name": f"C {i}"} for i in range(100)]
    hostile.companions = json_answer({"items": rows, "filteredCount": 250})  # every page: the same 100 rows
    hostile.listing = EMPTY
    async with connected(served[1]) as mcp:
        text, _ = ok(await mcp.call_tool("list_sessions", {"companion_id": "comp_150"}))
        offered = (await mcp.complete(PROMPT, {"name": "companion_id", "value": "comp_9"})).completion.values
    assert text.startswith("No sessions match")  # comp_150 may well be on a page the API never served
    assert offered == ["comp_9", "comp_90", "comp_91", "comp_92", "comp_93", "comp_94", "comp_95", "comp_96",
                       "comp_97", "comp_98", "comp_99"]  # fmt: skip
    assert hostile.paths.count("/public/companions") == 2  # page 0, then page 1 brought nothing new


async def test_a_count_the_rows_contradict_is_left_out(
    served: tuple[HostileUpstream, str], hostile: HostileUpstream
) -> None:
    rows = [{"id": f"agent_{i}"} for i in range(4)]
    hostile.agents = json_answer({"items": rows, "filteredCount": 0, "totalCount": 2})
    async with connected(served[1]) as mcp:
        text, data = ok(await mcp.call_tool("list_agents", {}))
    assert "filtered_count" not in data and "total_count" not in data and len(data["agents"]) == 4
    assert text.startswith("Agents 1-4 (page 0).") and text.endswith("Last page.")
