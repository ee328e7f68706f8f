"""What protocol 2026-07-28 added, as this server uses it: icons, cache hints and ``resource_link``
content, in both protocol eras (a 2025-11-25 client gets the icons and links; hints are 2026 only)."""

from __future__ import annotations

import base64
import json

import pytest
from mcp.types import ResourceLink, TextResourceContents

from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from tests.helpers import connect, ok, text_of

pytestmark = pytest.mark.anyio

ERAS = ["auto", "legacy"]


def svg_of(src: str) -> str:
    prefix = "data:image/svg+xml;base64,"
    assert src.startswith(prefix), src[:40]
    svg = base64.b64decode(src[len(prefix) :]).decode()
    assert svg.startswith("<svg ") and svg.endswith("</svg>") and "<script" not in svg
    return svg


@pytest.mark.parametrize("mode", ERAS)
async def test_the_server_and_every_tool_have_an_icon(base_url: str, mode: str) -> None:
    async with connect(base_url, Settings(), mode=mode) as mcp:
        server_icons = mcp.server_info.icons or []
        assert len(server_icons) == 1 and server_icons[0].mime_type == "image/svg+xml"
        svg_of(server_icons[0].src)
        tools = (await mcp.list_tools()).tools
    assert tools
    for tool in tools:
        assert tool.icons and len(tool.icons) == 1, tool.name
        svg_of(tool.icons[0].src)
    by_name = {tool.name: tool.icons[0].src for tool in tools if tool.icons}
    assert by_name["list_sessions"] == by_name["session_stats"]  # one toolset, one icon
    assert by_name["list_sessions"] != by_name["review_sessions"]


async def test_cache_hints_on_lists_and_reads_for_2026_clients_only(base_url: str, simulator: Simulator) -> None:
    session_id = simulator.sessions_of("demo")[0]["id"]
    async with connect(base_url, Settings()) as mcp:
        tools = await mcp.list_tools()
        assert (tools.ttl_ms, tools.cache_scope) == (300_000, "public")
        prompts = await mcp.list_prompts()
        assert (prompts.ttl_ms, prompts.cache_scope) == (300_000, "public")
        read = await mcp.read_resource(f"napster://sessions/{session_id}")
        assert (read.ttl_ms, read.cache_scope) == (10_000, "private")  # a tenant's own, and may change
    async with connect(base_url, Settings(), mode="legacy") as old:
        assert not (await old.list_tools()).ttl_ms


@pytest.mark.parametrize("mode", ERAS)
async def test_a_transcript_links_to_the_session_json_the_client_can_read(
    base_url: str, simulator: Simulator, mode: str
) -> None:
    raw = next(s for s in simulator.sessions_of("demo") if s.get("conversation"))
    async with connect(base_url, Settings(), mode=mode) as mcp:
        result = await mcp.call_tool("get_session_transcript", {"session_id": raw["id"], "limit": 3})
        ok(result)
        assert raw["id"] in text_of(result)
        links = [block for block in result.content if isinstance(block, ResourceLink)]
        assert len(links) == 1
        link = links[0]
        assert link.uri == f"napster://sessions/{raw['id']}" and link.mime_type == "application/json"
        assert link.name == f"session-{raw['id']}.json" and "resources/read" in (link.description or "")
        contents = (await mcp.read_resource(link.uri)).contents
    assert len(contents) == 1 and isinstance(contents[0], TextResourceContents)
    session = json.loads(contents[0].text)
    assert session["id"] == raw["id"]
    assert len(session["conversation"]["items"]) == len(raw["conversation"]["items"])


async def test_an_error_has_no_link(base_url: str) -> None:
    async with connect(base_url, Settings()) as mcp:
        result = await mcp.call_tool("get_session_transcript", {"session_id": "sess_nope"})
    assert result.is_error and [block.type for block in result.content] == ["text"]
