"""The MCP Apps wiring: tools point to their views, the views are served as the extension says,
each page is self-contained under its own CSP, and a host without the extension sees nothing new.

The views' rendering is tested in a real browser in ``browser/test_views_browser.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.types import CallToolResult, TextResourceContents

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server import build_server
from session_mcp.simulator import Simulator
from tests.helpers import connect

pytestmark = pytest.mark.anyio

TRANSCRIPT_VIEW = "ui://session-mcp/transcript.html"
DASHBOARD_VIEW = "ui://session-mcp/dashboard.html"
VIEW_OF = {
    "get_session_transcript": TRANSCRIPT_VIEW,
    "session_stats": DASHBOARD_VIEW,
    "review_sessions": DASHBOARD_VIEW,
}
UI = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
MAX_VIEW_CHARS = 100_000


@pytest.fixture
async def mcp(client: CompanionClient, mode: str) -> AsyncIterator[Client]:
    """A host that advertises the UI extension, in both protocol eras."""
    async with connect(client, mode=mode, extensions=[UI]) as c:
        yield c


async def read_view(mcp: Client, uri: str) -> TextResourceContents:
    result = await mcp.read_resource(uri)
    assert len(result.contents) == 1
    contents = result.contents[0]
    assert isinstance(contents, TextResourceContents)
    return contents


def digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


async def test_tools_point_to_their_views(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    for name, uri in VIEW_OF.items():
        assert (tools[name].meta or {})["ui"] == {"resourceUri": uri}
    others = set(tools) - set(VIEW_OF)
    assert others and all("ui" not in (tools[name].meta or {}) for name in others)


async def test_views_are_app_resources_with_a_strict_policy(mcp: Client) -> None:
    for uri in (TRANSCRIPT_VIEW, DASHBOARD_VIEW):
        view = await read_view(mcp, uri)
        assert view.mime_type == APP_MIME_TYPE and view.meta == {"ui": {"prefersBorder": True}}
        html = view.text
        assert html.startswith("<!doctype html>") and len(html) < MAX_VIEW_CHARS
        (policy,) = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
        (style,) = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
        (script,) = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        # Only this page's own two blocks run or apply; nothing is fetched, framed or posted.
        assert directives == {
            "default-src": "'none'",
            "script-src": f"'{digest(script)}'",
            "style-src": f"'{digest(style)}'",
            "base-uri": "'none'",
            "form-action": "'none'",
        }
        # Self-contained: no address but the SVG namespace, nothing that loads or connects.
        assert set(re.findall(r"\b[a-z]+://[^\s\"')]*", html)) == {"http://www.w3.org/2000/svg"}
        assert not re.search(
            r"<(link|img|iframe|object)\b|\bsrc\s*=|url\(|@import|fetch\(|XMLHttpRequest|WebSocket\(|import\(", html
        )
        assert "innerHTML" not in html and "eval(" not in html  # text goes in as text


async def test_views_may_call_back_the_read_only_tools_with_their_arguments(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    for uri in (TRANSCRIPT_VIEW, DASHBOARD_VIEW):
        (declared,) = re.findall(r"const VIEW_TOOLS = (.*?);\n", (await read_view(mcp, uri)).text)
        callable_tools = json.loads(declared)
        assert set(callable_tools) == {name for name, tool in tools.items() if tool.annotations.read_only_hint}
        for name, arguments in callable_tools.items():
            assert set(arguments) == set(tools[name].input_schema["properties"])
    limits = {name: arguments.get("limit") for name, arguments in callable_tools.items()}
    assert limits["session_stats"] == 2000 and limits["review_sessions"] == 1000 and limits["list_sessions"] is None


async def test_view_resources_are_not_listed_among_sessions(client: CompanionClient) -> None:
    """The extension lets servers omit ``ui://`` resources from the list: hosts find them from the tools."""
    async with connect(client, extensions=[UI]) as mcp:
        listed = (await mcp.list_resources()).resources
        assert listed and not [r for r in listed if str(r.uri).startswith("ui://")]


def answer(result: CallToolResult) -> tuple[list[dict[str, Any]], bool | None]:
    """What a host without the extension shows: the content blocks (and whether it is an error), with a
    QA report's id and file named as such: each review keeps its report under an id of its own."""
    text = json.dumps([block.model_dump() for block in result.content])
    made = result.structured_content or {}
    if made.get("report_file"):
        text = text.replace(json.dumps(made["report_file"])[1:-1], "<the report's file>")
    if made.get("report_uri"):
        text = text.replace(made["report_uri"].rsplit("/", 1)[1].removesuffix(".html"), "<the report's id>")
    return json.loads(text), result.is_error


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_host_without_the_extension_gets_the_same_answer(
    client: CompanionClient, simulator: Simulator, mode: str
) -> None:
    session_id = next(s["id"] for s in simulator.sessions_of("demo") if s["status"] == "closed")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_session_transcript", {"session_id": session_id}),
        ("get_session_transcript", {"session_id": session_id, "offset": 2, "limit": 3}),
        ("session_stats", {"limit": 50}),
        ("review_sessions", {"limit": 20}),
    ]
    server = build_server(client, Settings())
    async with (
        Client(server, mode=mode, extensions=[UI], cache=None) as with_ui,
        Client(server, mode=mode, cache=None) as without_ui,
    ):
        for name, arguments in calls:
            shown = answer(await with_ui.call_tool(name, arguments))
            plain = answer(await without_ui.call_tool(name, arguments))
            assert shown == plain and shown[0][0]["text"] and not shown[1], shown  # an answer, not an error
