"""``annotate_session`` through the SDK's Client: a disputed finding stops counting, verdicts need a real
finding, read-only leaves the tool out, and over HTTP each key sees only its own annotations."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.store.sqlite import SqliteStore
from tests.helpers import FAST_RETRY, connect, ok, serve_mcp, text_of
from tests.protocol.test_http import http_client

pytestmark = pytest.mark.anyio


def first_finding(data: dict[str, Any]) -> dict[str, Any]:
    """A finding at a turn of a flagged session that has others (so the session stays flagged).

    At a turn: a verdict names its finding by check and turn, and whole-session findings of one
    check (a session's failed tools) share the turn "none", so one verdict covers them all.
    """
    return next(
        f for s in data["sessions"] if len(s["findings"]) > 1 for f in s["findings"] if f.get("turn_index") is not None
    )


async def test_a_disputed_finding_stops_counting_and_shows_as_disputed(client: CompanionClient, tmp_path: Path) -> None:
    settings = Settings(store=tmp_path / "s.sqlite3")
    async with connect(client, settings) as mcp:
        _, before = ok(await mcp.call_tool("review_sessions", {"limit": 60}))
        finding = first_finding(before)
        arguments = {
            "session_id": finding["session_id"],
            "reviewer": "ana",
            "verdict": "dispute",
            "check": finding["check"],
            "comment": "the caller asked for it",
        }
        arguments["turn_index"] = finding["turn_index"]
        text, kept = ok(await mcp.call_tool("annotate_session", arguments))
        assert kept["kind"] == "dispute" and kept["reviewer"] == "ana" and "no endpoint" not in text
        assert "later reviews with these rules show it as disputed" in text
        after_text, after = ok(await mcp.call_tool("review_sessions", {"limit": 60}))
    assert after["findings"] == before["findings"] - 1 and after["disputed"] == 1
    assert after["flagged"] == before["flagged"]  # the session has other findings
    session = next(s for s in after["sessions"] if s["session_id"] == finding["session_id"])
    marked = [f for f in session["findings"] if f.get("review")]
    assert [(f["check"], f["review"]["verdict"], f["review"]["reviewer"]) for f in marked] == [
        (finding["check"], "disputed", "ana")
    ]
    assert (
        "(disputed by ana: not counted)" in after_text
        and "Disputed by reviewers (not counted): 1 finding" in after_text
    )


async def test_a_verdict_needs_a_finding_and_a_note_its_text(client: CompanionClient, tmp_path: Path) -> None:
    async with connect(client, Settings(store=tmp_path / "s.sqlite3")) as mcp:
        _, data = ok(await mcp.call_tool("review_sessions", {"limit": 20}))
        session_id = data["sessions"][0]["session_id"]
        wrong = await mcp.call_tool(
            "annotate_session",
            {
                "session_id": session_id,
                "reviewer": "ana",
                "verdict": "confirm",
                "check": "slow_response",
                "turn_index": 999,
            },
        )
        assert wrong.is_error and "has no slow_response finding at turn 999" in text_of(wrong)
        assert "its findings: " in text_of(wrong)
        empty = await mcp.call_tool(
            "annotate_session", {"session_id": session_id, "reviewer": "ana", "verdict": "note"}
        )
        assert empty.is_error and "a note needs its text" in text_of(empty)
        text, _ = ok(
            await mcp.call_tool(
                "annotate_session",
                {"session_id": session_id, "reviewer": "bo", "verdict": "note", "comment": "call back Monday"},
            )
        )
        assert text.startswith(f"Noted of {session_id} as bo")
        review_text, again = ok(await mcp.call_tool("review_sessions", {"session_ids": [session_id]}))
    assert again["sessions"][0]["notes"][0]["text"] == "call back Monday"
    assert '- note by bo: "call back Monday"' in review_text


async def test_read_only_leaves_the_tool_out(client: CompanionClient, tmp_path: Path) -> None:
    async with connect(client, Settings(store=tmp_path / "s.sqlite3", read_only=True)) as mcp:
        assert "annotate_session" not in {t.name for t in (await mcp.list_tools()).tools}
    async with connect(client, Settings(store=tmp_path / "s.sqlite3")) as mcp:
        tool = next(t for t in (await mcp.list_tools()).tools if t.name == "annotate_session")
    assert tool.annotations is not None and tool.annotations.read_only_hint is False
    assert tool.annotations.open_world_hint is False  # it writes the local store, never the upstream
    assert "no endpoint" in (tool.description or "")


async def test_over_http_each_key_sees_only_its_own_annotations(base_url: str, tmp_path: Path) -> None:
    path = tmp_path / "store" / "s.sqlite3"
    with serve_mcp(base_url, api_key=None, store=path) as url:
        async with http_client(url, **{"X-Napster-Api-Key": "demo"}) as demo:
            _, data = ok(await demo.call_tool("review_sessions", {"limit": 60}))
            finding = first_finding(data)
            arguments = {"session_id": finding["session_id"], "reviewer": "ana", "verdict": "dispute"}
            arguments |= {"check": finding["check"], "turn_index": finding.get("turn_index")}
            ok(await demo.call_tool("annotate_session", {k: v for k, v in arguments.items() if v is not None}))
            _, mine = ok(await demo.call_tool("review_sessions", {"limit": 60}))
        async with http_client(url, **{"X-Napster-Api-Key": "other-tenant-key"}) as other:
            note = {"session_id": finding["session_id"], "reviewer": "eve", "verdict": "note", "comment": "x"}
            refused = await other.call_tool("annotate_session", note)
            _, theirs = ok(await other.call_tool("review_sessions", {"limit": 60}))
    assert mine["disputed"] == 1 and theirs["disputed"] == 0
    assert refused.is_error and "list_sessions" in text_of(refused)  # another key cannot read demo's session
    store = SqliteStore(path)
    try:
        for key, count in (("demo", 1), ("other-tenant-key", 0)):
            async with CompanionClient(key, base_url, retry=FAST_RETRY) as client:
                assert len(await store.for_tenant(client.fingerprint).annotations()) == count
    finally:
        store.close()


async def test_a_store_that_cannot_be_read_leaves_the_verdicts_out_not_the_review(
    client: CompanionClient, tmp_path: Path
) -> None:
    path = tmp_path / "s.sqlite3"
    with sqlite3.connect(path) as newer:  # a store of a later session-mcp
        newer.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        newer.execute("INSERT INTO schema_version VALUES (99)")
    async with connect(client, Settings(store=path)) as mcp:
        text, data = ok(await mcp.call_tool("review_sessions", {"limit": 10}))
    assert data["reviewed"] == 10 and "Reviewers' verdicts could not be read, so none applied: " in text
    assert "newer session-mcp" in text and text.splitlines()[-1].startswith("Next: ")
