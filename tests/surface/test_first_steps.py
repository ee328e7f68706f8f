"""What a new user tripped on (issue 15): a wrong base URL, `sessions list --limit`, a review that read nothing.

Through the real parts: ``mcp.Client`` against ``build_server``, loopback stand-ins and the
simulator over HTTP, and ``python -m session_mcp`` as a subprocess.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from session_mcp.config import Settings
from session_mcp.simulator import Fault, Simulator, serve_in_thread
from tests.helpers import ROOT, assert_one_clear_error, connect, run_main, run_process, text_of
from tests.upstream import Answer, HostileUpstream

pytestmark = pytest.mark.anyio

KEY = "sk-first-steps-0001"


@asynccontextmanager
async def connected(base_url: str, key: str = KEY) -> AsyncIterator[Client]:
    async with connect(base_url, Settings(api_key=key), key=key) as mcp:  # type: ignore[arg-type]
        yield mcp


# -- a 404 on the list: the base URL is wrong ----------------------------------------------------


async def test_a_404_on_the_list_says_to_check_the_base_url() -> None:
    """A proxy or a wrong path answers 404 where the list of sessions always is."""
    upstream = HostileUpstream()
    upstream.clear()
    upstream.listing = Answer(b"Not Found", 404)
    with serve_in_thread(upstream) as url:
        async with connected(url) as mcp:
            for tool in ("list_sessions", "get_session_transcripts", "session_stats"):
                result = await mcp.call_tool(tool, {})
                text = text_of(result)
                assert result.is_error and "NAPSTER_API_BASE_URL" in text and url in text, (tool, text)
                assert "list_sessions to find valid session ids" not in text and KEY not in text
            # A 404 for one session id still means no such session, not a wrong address.
            one = await mcp.call_tool("get_session_transcript", {"session_id": "sess_0000dead"})
            assert one.is_error and "No session 'sess_0000dead'" in text_of(one)
            assert "NAPSTER_API_BASE_URL" not in text_of(one)


async def test_a_base_url_with_a_wrong_path_says_so_through_the_cli(base_url: str, process_env: dict[str, str]) -> None:
    wrong = f"{base_url}/api/v1"  # the simulator has no such path: 404 for /api/v1/public/sessions
    async with connected(wrong, "demo") as mcp:
        result = await mcp.call_tool("list_sessions", {"page_size": 3})
    assert result.is_error and "check NAPSTER_API_BASE_URL" in text_of(result) and wrong in text_of(result)
    done = run_process("sessions", "list", env=process_env | {"NAPSTER_API_BASE_URL": wrong})
    assert_one_clear_error(done, "check NAPSTER_API_BASE_URL", wrong)
    right = run_process("sessions", "show", "sess_0000dead", env=process_env)
    assert_one_clear_error(right, "No session 'sess_0000dead'")
    assert "NAPSTER_API_BASE_URL" not in right.stderr


# -- sessions list --limit ------------------------------------------------------------------------


def test_sessions_list_takes_limit_like_export_and_qa(simulator: Simulator, process_env: dict[str, str]) -> None:
    newest = [s["id"] for s in simulator.sessions_of("demo")[:4]]
    listed = run_main("sessions", "list", "--limit", "4", env=process_env)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split(" | ")[0] for line in listed.stdout.splitlines() if line.startswith("sess_")]
    assert rows == newest
    assert run_main("sessions", "list", env=process_env).stdout.count("\nsess_") == 20  # the default page
    for bad in ("0", "101", "ten"):
        done = run_main("sessions", "list", "--limit", bad, env=process_env)
        assert done.returncode == 2 and not done.stdout  # argparse's usage, then one line that says why
        assert done.stderr.splitlines()[-1].endswith(
            f"argument --limit: must be a whole number from 1 to 100, not {bad!r}"
        )


# -- a review that could read nothing -------------------------------------------------------------


def unreadable(simulator: Simulator) -> None:
    """Every session's detail answers 500 (not retried): the list works, no transcript can be read."""
    simulator.inject(Fault(status=500, times=10_000, path_prefix="/public/sessions/"))


async def test_a_review_that_read_nothing_says_so(base_url: str, simulator: Simulator) -> None:
    unreadable(simulator)
    async with connected(base_url, "demo") as mcp:
        result = await mcp.call_tool("review_sessions", {"limit": 5})
    text = text_of(result)
    data: dict[str, Any] = result.structured_content  # type: ignore[assignment]
    assert not result.is_error
    assert data["reviewed"] == 0 and data["unread_count"] == 5
    assert "nothing was flagged" not in text and "widen the window" not in text
    assert text.splitlines()[-1].startswith("Next: nothing could be read: all 5 sessions failed")
    assert data["next_step"] == text.splitlines()[-1]


async def test_some_unread_still_ends_with_what_was_flagged_or_not(base_url: str, simulator: Simulator) -> None:
    """Only when nothing at all was read does the ending change."""
    ids = [s["id"] for s in simulator.sessions_of("demo") if s.get("status") == "closed"][:3]
    simulator.inject(Fault(status=500, times=10_000, path_prefix=f"/public/sessions/{ids[0]}"))
    async with connected(base_url, "demo") as mcp:
        text = text_of(await mcp.call_tool("review_sessions", {"session_ids": ids}))
    assert "Could not read 1 session" in text and "nothing could be read" not in text


def test_the_qa_command_says_nothing_could_be_read(
    simulator: Simulator, process_env: dict[str, str], tmp_path: Path
) -> None:
    unreadable(simulator)
    out = tmp_path / "report.txt"
    done = run_main("qa", "--limit", "4", "--no-cache", "--out", str(out), env=process_env)
    assert done.returncode == 0, done.stderr
    assert "Nothing could be read: all 4 failed (the first: The Companion API failed to answer" in done.stderr
    assert "nothing was reviewed" in done.stderr and "4 could not be read" not in done.stderr


# -- the bundle's tool descriptions ----------------------------------------------------------------

MANIFEST = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
# What the manifest promises of each tool, in words the tool's own description uses too.
PROMISES = {
    "list_sessions": ["newest first", "companion", "external client", "tags", "status", "modality"],
    "get_session_transcript": ["configuration", "timing", "tools that failed to connect", "[mm:ss]"],
    "get_session_transcripts": ["summaries", "whole", "digest line", "500"],
    "session_stats": ["cost in usd", "tool connection failures", "close reason", "durations", "busiest hours"],
    "review_sessions": ["slow replies", "requests for a human", "failed sessions", "personal data", "worst first"],
    "annotate_session": ["confirm or dispute", "local store", "no endpoint"],
    "search_transcripts": ["stored session", "[mm:ss]", "role", "snippet"],
    "create_connection": ["start a new live session", "short-lived token", "agent"],
    "list_companions": ["companions", "status", "last 7 days"],
    "list_agents": ["agents", "companion", "channels", "last 7 days"],
}


async def test_the_manifest_names_what_each_tool_gives(base_url: str) -> None:
    """The bundle lists the server's tools, and says of each what its own description says it gives."""
    async with connect(base_url, Settings(api_key="demo", read_only=False)) as mcp:  # type: ignore[arg-type]
        served = {tool.name: (tool.description or "").lower() for tool in (await mcp.list_tools()).tools}
    listed = {tool["name"]: tool["description"].lower() for tool in MANIFEST["tools"]}
    assert list(listed) == list(served) == list(PROMISES)
    for name, terms in PROMISES.items():
        for term in terms:
            assert term in listed[name], (name, term, "manifest.json")
            assert term in served[name], (name, term, "the tool's description")
