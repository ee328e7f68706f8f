"""``review_sessions`` links its HTML report: a resource the host reads with ``resources/read`` (the key that
ran the review only), a bounded number kept in memory, and on a local server the saved file's path."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import MCPError
from mcp.types import ResourceLink, TextResourceContents

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server.reports import KEEP_PER_TENANT, ReportShelf
from tests.helpers import connect, ok, serve_mcp
from tests.protocol.test_http import http_client

pytestmark = pytest.mark.anyio


async def test_the_report_link_is_readable_with_resources_read(client: CompanionClient, tmp_path: Path) -> None:
    async with connect(client, Settings(store=tmp_path / "store" / "s.sqlite3")) as mcp:
        result = await mcp.call_tool("review_sessions", {"limit": 30})
        text, data = ok(result)
        links = [block for block in result.content if isinstance(block, ResourceLink)]
        assert len(links) == 1 and links[0].mime_type == "text/html" and str(links[0].uri) == data["report_uri"]
        read = await mcp.read_resource(str(links[0].uri))
    page = read.contents[0]
    assert isinstance(page, TextResourceContents) and page.mime_type == "text/html"
    assert (
        page.text.startswith("<!doctype html>")
        and 'id="qa-data"' in page.text
        and links[0].size == len(page.text.encode())
    )
    saved = Path(data["report_file"])  # a local (stdio) server saves it beside its store
    assert saved.parent == tmp_path / "store" / "reports" and saved.read_text(encoding="utf-8") == page.text
    assert saved.stat().st_mode & 0o077 == 0 and saved.parent.stat().st_mode & 0o077 == 0
    assert f"The HTML report to read or send: {data['report_uri']} (resources/read); saved at {saved}." in text
    assert text.splitlines()[-1].startswith("Next: ")


async def test_over_http_only_the_key_that_ran_it_reads_the_report(base_url: str, tmp_path: Path) -> None:
    with serve_mcp(base_url, api_key=None, store=tmp_path / "s.sqlite3") as url:
        async with http_client(url, **{"X-Napster-Api-Key": "demo"}) as demo:
            _, data = ok(await demo.call_tool("review_sessions", {"limit": 10}))
            assert "report_file" not in data  # an HTTP server is not the user's machine: no file, the link only
            mine = await demo.read_resource(data["report_uri"])
        async with http_client(url, **{"X-Napster-Api-Key": "other-tenant-key"}) as other:
            with pytest.raises(MCPError) as refused:
                await other.read_resource(data["report_uri"])
    assert mine.contents and "No such QA report" in str(refused.value)


def test_the_shelf_keeps_a_bounded_number_per_tenant_and_in_bytes() -> None:
    shelf = ReportShelf(max_bytes=1_000)
    ids = [shelf.put("a", f"page {n}") for n in range(KEEP_PER_TENANT + 2)]
    assert [shelf.get("a", i) for i in ids[:2]] == [None, None]
    assert shelf.get("a", ids[-1]) == f"page {KEEP_PER_TENANT + 1}" and shelf.get("b", ids[-1]) is None
    big = shelf.put("b", "x" * 990)
    assert shelf.get("b", big) is not None and shelf.get("a", ids[2]) is None  # the oldest left to make room
