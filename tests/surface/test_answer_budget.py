"""Answers fit their budget before the last guard, and the guard's advice names the tool's own arguments.

``get_session_transcripts`` measures everything its answer says (the summary's "more match", the
scan line, the calls that read on) while fitting, so ``StrictTool``'s final cut never touches it;
when that cut does happen (a list page too wide for a small budget) its note names the arguments
of the tool that was called. Through ``mcp.Client`` on the demo data, the server's clock fixed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.types import CallToolResult

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server.toolkit import StrictTool
from session_mcp.simulator import Simulator
from tests.helpers import ADVERSARIAL, ANCHOR, connect

NOW = datetime.fromtimestamp(ANCHOR, UTC)
WINDOWS = [("24h", ""), ("3d", ""), ("7d", ""), ("30d", ""), ("yesterday", ""), ("2026-09-01", "2026-09-15")]
IDS = re.compile(r"'(sess_[0-9a-f]+)'")


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[BlockingPortal, CompanionClient]]:
    """One client of the demo data (in process) for the module, on an event loop in a portal."""
    simulator = Simulator(anchor=ANCHOR)
    client = CompanionClient("demo", "http://simulator", transport=httpx2.ASGITransport(app=simulator.app))
    with start_blocking_portal(backend="asyncio") as portal, portal.wrap_async_context_manager(client) as entered:
        yield portal, entered


async def call(client: CompanionClient, max_chars: int, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with connect(client, Settings(demo=True, max_chars=max_chars), clock=lambda: NOW) as mcp:
        return await mcp.call_tool(tool, arguments)


def check_batch(result: CallToolResult, max_chars: int) -> None:
    """Within the budget, never cut by the guard, every session accounted for, the read-on calls present."""
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    text = result.content[0].text  # type: ignore[union-attr]
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    assert len(text) <= max_chars
    assert "[cut:" not in text, text[-400:]
    whole = [t["session"]["id"] for t in data["transcripts"]]
    digested = [d["session"]["id"] for d in data["digests"]]
    left_out = data.get("left_out", [])
    assert len(whole) + len(digested) + len(left_out) == data["requested"]
    named = [i for c in data.get("read_calls", []) for i in IDS.findall(c)]
    to_read = digested + left_out if data["detail"] == "full" else left_out
    assert named == to_read[: len(named)]  # in order, none skipped
    assert len(named) + data.get("unnamed", 0) == len(to_read)
    if to_read:
        assert data["read_calls"], "sessions were left out, and no call reads them"
    for read_call in data.get("read_calls", []):
        assert read_call in text
    if data.get("unnamed"):
        assert f"{data['unnamed']} session" in text and "in no call above" in text
    if data.get("more_matching"):
        assert "more match" in text.splitlines()[0]


@settings(ADVERSARIAL, max_examples=30)
@given(
    max_chars=st.one_of(st.integers(2_000, 60_000), st.just(Settings.max_chars)),
    window=st.sampled_from(WINDOWS),
    detail=st.sampled_from(["full", "digest"]),
    limit=st.one_of(st.none(), st.integers(1, 100)),
)
def test_a_windowed_batch_fits_its_budget_before_the_guard(
    demo: tuple[BlockingPortal, CompanionClient],
    max_chars: int,
    window: tuple[str, str],
    detail: str,
    limit: int | None,
) -> None:
    portal, client = demo
    arguments: dict[str, Any] = {"since": window[0], "until": window[1], "detail": detail, "limit": limit}
    check_batch(portal.call(call, client, max_chars, "get_session_transcripts", arguments), max_chars)


@pytest.mark.parametrize("max_chars", [2_000, 5_000, 40_000])
@pytest.mark.parametrize(("since", "detail"), [("7d", "full"), ("30d", "digest"), ("30d", "full")])
def test_the_demo_week_fits_with_its_read_on_call(
    demo: tuple[BlockingPortal, CompanionClient], max_chars: int, since: str, detail: str
) -> None:
    """The case a new user met: since='7d' answered 40,041 characters for 40,000, and the cut took the call."""
    portal, client = demo
    result = portal.call(call, client, max_chars, "get_session_transcripts", {"since": since, "detail": detail})
    check_batch(result, max_chars)
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    assert data["more_matching"] or detail == "digest"
    assert data["digests"] or data["left_out"]  # the window holds more than fits: something reads on
    assert data["read_calls"] or detail == "digest"


@pytest.mark.parametrize(
    ("tool", "arguments", "own"),
    [
        ("list_sessions", {"page_size": 100}, "page_size, cursor, page_index"),
        ("session_stats", {"since": "30d"}, "limit, since, until"),
    ],
)
def test_the_guards_note_names_the_tools_own_arguments(
    demo: tuple[BlockingPortal, CompanionClient], tool: str, arguments: dict[str, Any], own: str
) -> None:
    portal, client = demo
    result = portal.call(call, client, 2_000, tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error and len(text) <= 2_000
    note = text.splitlines()[-1]
    assert note.startswith("[cut:") and note.endswith(f"with {tool}'s own arguments: {own}.]"), note


def test_every_argument_a_tool_reads_on_with_is_its_own() -> None:
    async def tool(limit: int = 1) -> str:
        """A tool."""
        return "x" * limit

    assert StrictTool.strict(tool, reads_on=("limit",)).reads_on == ("limit",)
    with pytest.raises(ValueError, match="no argument page_size"):
        StrictTool.strict(tool, reads_on=("limit", "page_size"))
