"""The TypeScript SDK's own MCP client (what Node-based hosts speak) against ``session-mcp --demo``.

`tests/views_harness/ts_client.mjs` connects with `@modelcontextprotocol/client` (pinned in the
kit's lockfile) over stdio, lists tools, prompts and resource templates, and makes every call
below; that SDK validates each structuredContent against the tool's outputSchema. Skipped
without node and npm, except where ``SESSION_MCP_REQUIRE_BROWSER`` is set (CI).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from session_mcp.config import Settings
from tests.helpers import clean_environment, connect, script
from tests.views_harness import kit

pytestmark = pytest.mark.anyio
DRIVER = Path(kit.__file__).parent / "ts_client.mjs"
TIMEOUT_SECONDS = 90
EVERY_OPTIONAL_EMPTY = {  # what a strict-mode model sends when it uses none of the filters
    "companion_id": None,
    "external_client_id": "",
    "search": None,
    "tags": [],
    "since": None,
    "until": "",
    "status": None,
    "close_reason": [],
    "session_type": None,
    "modality": None,
}


@pytest.fixture(scope="module")
def node_kit() -> Path:
    return kit.ready_or_skip(browser=False)


def run_ts_client(node_kit: Path, calls: list[dict[str, Any]]) -> dict[str, Any]:
    plan = {"command": script(), "args": ["--demo"], "env": clean_environment(), "calls": calls}
    done = subprocess.run(
        ["node", str(DRIVER)],
        input=json.dumps(plan).encode(),
        env={**os.environ, "VIEWS_KIT": str(node_kit)},
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


async def python_sdk_view() -> tuple[list[str], list[str], str]:
    """What the Python SDK's client sees of the same server: tools, prompts, a session id."""
    async with connect(None, Settings(demo=True), transport="stdio") as mcp:
        tools = [tool.name for tool in (await mcp.list_tools()).tools]
        prompts = [prompt.name for prompt in (await mcp.list_prompts()).prompts]
        listed = await mcp.call_tool("list_sessions", {"page_size": 1})
        session_id = (listed.structured_content or {})["sessions"][0]["id"]
    return tools, prompts, session_id


async def test_the_typescript_sdk_client_calls_every_tool(node_kit: Path) -> None:
    tools, prompts, session_id = await python_sdk_view()
    calls = [
        {"name": "list_sessions", "arguments": {"page_size": 5}},
        {"name": "list_sessions", "arguments": {"page_size": 5, **EVERY_OPTIONAL_EMPTY}},
        {"name": "get_session_transcript", "arguments": {"session_id": session_id}},
        {"name": "get_session_transcripts", "arguments": {"limit": 3}},
        {"name": "get_session_transcripts", "arguments": {"since": "7d", "limit": 50, "detail": "digest"}},
        {"name": "session_stats", "arguments": {"since": "yesterday"}},
        {"name": "review_sessions", "arguments": {"since": "7d", "limit": 40}},
        {"name": "create_connection", "arguments": {"agent_id": "agent_support"}},
        {"name": "list_companions", "arguments": {"status": ["completed"]}},
        {"name": "list_agents", "arguments": {"page_size": 2}},
        {"name": "list_sessions", "arguments": {"page_size": 5, "colour": "red"}},  # refused by name
    ]
    with anyio.fail_after(TIMEOUT_SECONDS + 10):
        report = await anyio.to_thread.run_sync(run_ts_client, node_kit, calls)
    assert report["server"]["name"] == "session-mcp"
    assert report["tools"] == tools and report["prompts"] == prompts
    assert report["templates"] == [
        "napster://sessions/{session_id}/transcript",
        "napster://sessions/{session_id}",
        "napster://reports/{report_id}.html",  # review_sessions' HTML report (issue 18)
    ]
    assert {call["name"] for call in calls} == set(tools), "every tool is called"
    *good, refused = report["calls"]
    for call in good:
        assert "thrown" not in call, call  # the TS SDK accepted the structuredContent
        assert not call["isError"], call
        assert call["text"] and call["structured"], call
    assert good[0]["text"] == good[1]["text"], "empty optionals mean not given"
    assert good[2]["structured"]["session"]["id"] == session_id
    assert len(good[4]["structured"]["digests"]) > 0
    assert refused["isError"] and "unknown argument 'colour'" in refused["text"]
