"""The MCP server end to end: the SDK's own ``Client`` in memory, both protocol eras, and a
``CompanionClient`` talking to the simulator over real HTTP.

Expected values come from the simulator's raw data (``simulator.sessions_of``), never from the
server's own helpers, so a rendering or paging mistake shows up as a difference.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    PromptReference,
    ReadResourceResult,
    ResourceTemplateReference,
    TextResourceContents,
)

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Fault, Simulator
from tests.helpers import DEMO_CLIENT_ID, FAST_RETRY, connect, ok, text_of

pytestmark = pytest.mark.anyio

TRANSCRIPT_TEMPLATE = "napster://sessions/{session_id}/transcript"
SESSION_TEMPLATE = "napster://sessions/{session_id}"
CORE_TOOLS = {"list_sessions", "get_session_transcript", "create_connection"}


# -- fixtures and helpers ---------------------------------------------------------------------


def failed(result: CallToolResult) -> str:
    """The text of a tool error, checked to be readable and free of internals."""
    text = text_of(result)
    assert result.is_error, text
    assert "Traceback" not in text
    assert 'File "' not in text
    # More than the SDK's bare "Error executing tool <name>": a message the model can act on.
    assert len(text.split(":", 1)[-1].strip()) > 20, text
    return text


def items_of(session: dict[str, Any]) -> list[dict[str, Any]]:
    return list((session.get("conversation") or {}).get("items") or [])


def mmss(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_line(session: dict[str, Any], item: dict[str, Any]) -> str:
    offset = item["timestamp"] - session["startedAt"]
    return f"[{mmss(offset)}] {item['role'].capitalize()}: {item['text']}"


def marathon_of(simulator: Simulator) -> dict[str, Any]:
    session = max(simulator.sessions_of("demo"), key=lambda s: len(items_of(s)))
    assert len(items_of(session)) > 2_000
    return session


def ordinary_session(simulator: Simulator) -> dict[str, Any]:
    """A closed session with a normal transcript (5-12 turns, all texts short), tags and an external id."""
    return next(
        s
        for s in simulator.sessions_of("demo")
        if s.get("status") == "closed"
        and 5 <= len(items_of(s)) <= 12
        and all(len(i["text"]) < 300 for i in items_of(s))
        and s.get("tags")
        and s.get("externalClientId")
        and "sentiment" not in s
    )


def prompt_text(result: GetPromptResult) -> str:
    assert len(result.messages) == 1
    message = result.messages[0]
    assert message.role == "user"
    assert message.content.type == "text"
    return message.content.text


def resource_text(result: ReadResourceResult, mime_type: str) -> str:
    assert len(result.contents) == 1
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == mime_type
    return content.text


def has_none(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(has_none(v) for v in value)
    return False


def upstream_paths(simulator: Simulator) -> list[str]:
    return [f"{r.method} {r.raw_path}" for r in simulator.requests]


# -- tools/list -------------------------------------------------------------------------------


async def test_tools_have_titles_and_annotations(mcp: Client) -> None:
    tools = {t.name: t for t in (await mcp.list_tools()).tools}
    assert set(tools) >= CORE_TOOLS
    assert tools["list_sessions"].title == "List sessions"
    assert tools["get_session_transcript"].title == "Read a session and its transcript"
    assert tools["create_connection"].title == "Start a new session"
    for name in ("list_sessions", "get_session_transcript"):
        hints = tools[name].annotations
        assert hints is not None
        assert hints.read_only_hint is True
        assert hints.destructive_hint is False
        assert hints.idempotent_hint is True
        assert hints.open_world_hint is True
    create = tools["create_connection"].annotations
    assert create is not None
    assert create.read_only_hint is False
    assert create.idempotent_hint is False
    assert create.open_world_hint is True
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name


async def test_every_tool_has_output_schema_and_strict_described_inputs(mcp: Client) -> None:
    tools = {t.name: t for t in (await mcp.list_tools()).tools}
    for tool in tools.values():
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema.get("properties"), tool.name
        schema = tool.input_schema
        assert "additionalProperties" not in json.dumps(schema), tool.name  # unknown ones are refused by name
        for name, prop in schema["properties"].items():
            argument = prop
            if name not in schema.get("required", []):  # optional: anyOf [the argument, null]
                assert prop["anyOf"][1] == {"type": "null"}, f"{tool.name}.{name} does not accept null"
                argument = prop["anyOf"][0]
            assert argument.get("description"), f"{tool.name}.{name} has no description"
    outputs = {name: set((tool.output_schema or {})["properties"]) for name, tool in tools.items()}
    assert {"sessions", "has_more", "next_page_index"} <= outputs["list_sessions"]
    assert {"turns", "next_offset", "truncated"} <= outputs["get_session_transcript"]
    assert {"session_id", "token"} <= outputs["create_connection"]

    listing = {name: prop["anyOf"][0] for name, prop in tools["list_sessions"].input_schema["properties"].items()}
    assert listing["page_size"]["minimum"] == 1
    assert listing["page_size"]["maximum"] == 100
    assert listing["page_index"]["minimum"] == 0
    assert listing["tags"]["type"] == "array"
    assert listing["tags"]["items"]["type"] == "string"
    transcript = tools["get_session_transcript"].input_schema
    assert transcript["required"] == ["session_id"]
    assert transcript["properties"]["offset"]["anyOf"][0]["minimum"] == 0
    assert transcript["properties"]["limit"]["anyOf"][0]["minimum"] == 1
    assert "maximum" in transcript["properties"]["limit"]["anyOf"][0]
    assert "required" not in tools["create_connection"].input_schema  # agent_id, or companion_id and voice_id


async def test_read_only_mode_has_no_create_connection(
    client: CompanionClient, simulator: Simulator, mode: str
) -> None:
    async with connect(client, Settings(read_only=True), mode=mode) as mcp:
        names = {t.name for t in (await mcp.list_tools()).tools}
        assert "create_connection" not in names
        assert {"list_sessions", "get_session_transcript"} <= names
        try:
            result = await mcp.call_tool("create_connection", {"companion_id": "comp_support", "voice_id": "alloy"})
        except MCPError:
            pass
        else:
            assert result.is_error
    assert not any(r.method == "POST" for r in simulator.requests)


# -- list_sessions ----------------------------------------------------------------------------


async def test_list_sessions_first_page_matches_upstream(mcp: Client, simulator: Simulator) -> None:
    raw = simulator.sessions_of("demo")
    _, data = ok(await mcp.call_tool("list_sessions", {"page_size": 10}))
    assert [row["id"] for row in data["sessions"]] == [s["id"] for s in raw[:10]]
    assert data["filtered_count"] == data["total_count"] == len(raw)
    assert data["has_more"] is True
    assert data["next_page_index"] == 1
    assert data["page_index"] == 0
    assert data["page_size"] == 10
    assert not has_none(data), "structured content carries nulls"
    for row, session in zip(data["sessions"], raw[:10], strict=True):
        assert row["companion_id"] == session["companionId"]
        assert row["status"] == session["status"]
        assert row.get("external_client_id") == session.get("externalClientId")
        assert row.get("tags") == (session.get("tags") or None)
        if "closedAt" in session and "startedAt" in session:
            assert row["duration_seconds"] == session["closedAt"] - session["startedAt"]
        else:
            assert "duration_seconds" not in row


async def test_list_sessions_text_is_one_line_per_session(mcp: Client, simulator: Simulator) -> None:
    raw = simulator.sessions_of("demo")
    text, _ = ok(await mcp.call_tool("list_sessions", {"page_size": 7, "page_index": 1}))
    assert not text.lstrip().startswith(("{", "["))
    assert "null" not in text and "None" not in text
    lines = text.splitlines()
    assert lines[0].startswith(f"Sessions 8-14 of {len(raw)}")
    assert "|" in lines[1] and "id" in lines[1]  # the column header, said once
    rows = lines[2:9]
    assert [line.split(" | ")[0] for line in rows] == [s["id"] for s in raw[7:14]]
    assert all(len(line.split(" | ")) == len(lines[1].split(" | ")) for line in rows)
    assert lines[9:] == [lines[-1]]
    assert "page_index=2" in lines[-1]
    assert len(lines) == 10


async def test_list_sessions_last_page_says_no_more(mcp: Client, simulator: Simulator) -> None:
    raw = simulator.sessions_of("demo")
    last = (len(raw) - 1) // 100
    text, data = ok(await mcp.call_tool("list_sessions", {"page_size": 100, "page_index": last}))
    assert [row["id"] for row in data["sessions"]] == [s["id"] for s in raw[last * 100 :]]
    assert data["has_more"] is False
    assert data.get("next_page_index") is None
    assert text.splitlines()[0].startswith(f"Sessions {last * 100 + 1}-{len(raw)} of {len(raw)}")
    assert f"page_index={last + 1}" not in text
    assert "More" not in text

    text, data = ok(await mcp.call_tool("list_sessions", {"page_size": 100, "page_index": last + 1}))
    assert data["sessions"] == []
    assert data["has_more"] is False
    assert "No sessions" in text


FILTERS: list[tuple[dict[str, Any], Any]] = [
    (
        {"companion_id": "comp_tutor", "tags": {"channel": "ios"}},
        lambda s: s.get("companionId") == "comp_tutor" and (s.get("tags") or {}).get("channel") == "ios",
    ),
    ({"external_client_id": DEMO_CLIENT_ID}, lambda s: s.get("externalClientId") == DEMO_CLIENT_ID),
    (
        {"tags": {"channel": "web", "environment": "staging"}},
        lambda s: (
            (s.get("tags") or {}).get("channel") == "web" and (s.get("tags") or {}).get("environment") == "staging"
        ),
    ),
    ({"search": "OKAFOR"}, lambda s: any("okafor" in i["text"].casefold() for i in items_of(s))),
    (
        {"companion_id": "comp_support", "tags": {"escalation": "suggested"}},
        lambda s: s.get("companionId") == "comp_support" and (s.get("tags") or {}).get("escalation") == "suggested",
    ),
]


async def test_list_sessions_filters(mcp: Client, simulator: Simulator) -> None:
    for arguments, keep in FILTERS:
        expected = [s["id"] for s in simulator.sessions_of("demo") if keep(s)]
        assert 0 < len(expected) < 100, f"{arguments} should select some but not all sessions"
        text, data = ok(await mcp.call_tool("list_sessions", {**arguments, "page_size": 100}))
        assert [row["id"] for row in data["sessions"]] == expected, arguments
        assert data["filtered_count"] == len(expected), arguments
        assert data["total_count"] == len(simulator.sessions_of("demo"))
        assert data["has_more"] is False
        assert f"of {len(expected)}" in text.splitlines()[0]


async def test_list_sessions_no_match(mcp: Client) -> None:
    # A companion of the project without sessions (one that is not the project's is named as such).
    text, data = ok(await mcp.call_tool("list_sessions", {"companion_id": "comp_concierge"}))
    assert data["sessions"] == []
    assert data["filtered_count"] == 0
    assert data["has_more"] is False
    assert text.startswith("No sessions match")


async def test_list_sessions_shows_turns_once_a_transcript_was_read(mcp: Client, simulator: Simulator) -> None:
    raw = simulator.sessions_of("demo")[:20]
    closed = next(s for s in raw if s.get("status") == "closed" and items_of(s))
    ok(await mcp.call_tool("get_session_transcript", {"session_id": closed["id"]}))
    text, data = ok(await mcp.call_tool("list_sessions", {"page_size": 20}))
    rows = {row["id"]: row for row in data["sessions"]}
    assert rows[closed["id"]]["turns"] == len(items_of(closed))
    assert all("turns" not in row for sid, row in rows.items() if sid != closed["id"])
    line = next(line for line in text.splitlines() if line.startswith(closed["id"]))
    assert f" | {len(items_of(closed))} | " in line


async def test_list_sessions_unknown_argument_is_named(mcp: Client, simulator: Simulator) -> None:
    text = failed(await mcp.call_tool("list_sessions", {"state": "closed", "page_size": 5}))
    assert "state" in text
    assert "unknown argument" in text
    assert "page_size" in text  # says what it accepts
    assert not simulator.requests, "a rejected call must not reach upstream"


BAD_LIST_ARGUMENTS: list[tuple[dict[str, Any], str, str]] = [
    ({"page_size": 0}, "page_size", "greater than or equal to 1"),
    ({"page_size": 101}, "page_size", "less than or equal to 100"),
    ({"page_size": "ten"}, "page_size", "integer"),
    ({"page_size": 2.5}, "page_size", "integer"),
    ({"page_index": -1}, "page_index", "greater than or equal to 0"),
    ({"companion_id": 42}, "companion_id", "string"),
    ({"search": ["a", "b"]}, "search", "string"),
    ({"tags": "channel=web"}, "tags", "list of 'key=value' strings"),
    ({"tags": ["channel"]}, "tags", "tag 1 is not a 'key=value' string"),
    ({"tags": ["channel=web", "=x"]}, "tags", "tag 2 is not"),
    ({"tags": ["channel=web", "channel=app"]}, "tags", "repeats an earlier key"),
    ({"tags": [f"k{i}=v" for i in range(21)]}, "tags", "at most 20 tags"),
    ({"tags": {"channel": 1}}, "tags.channel", "string"),
    ({"search": "x" * 2_001}, "search", "at most 2000 characters"),
    ({"search": "a\x00b"}, "search", "control characters"),
]


async def test_list_sessions_bad_arguments(mcp: Client, simulator: Simulator) -> None:
    for arguments, named, says in BAD_LIST_ARGUMENTS:
        text = failed(await mcp.call_tool("list_sessions", arguments))
        assert named in text, (arguments, text)
        assert says in text, (arguments, text)
    assert not simulator.requests, "a rejected call must not reach upstream"


async def test_list_sessions_rejects_boolean_page_size(mcp: Client) -> None:
    text = failed(await mcp.call_tool("list_sessions", {"page_size": True}))
    assert "page_size" in text


# -- get_session_transcript -------------------------------------------------------------------


async def test_transcript_header_and_turn_lines(mcp: Client, simulator: Simulator) -> None:
    session = ordinary_session(simulator)
    items = items_of(session)
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
    lines = text.splitlines()
    assert lines[0] == f"# Session {session['id']} — closed/{session['closeReason']}"
    assert f"companion {session['companionId']}" in text
    assert f"client {session['externalClientId']}" in text
    duration = session["closedAt"] - session["startedAt"]
    assert f"created {iso(session['createdAt'])}" in text
    assert f"started {iso(session['startedAt'])}" in text
    assert f"closed {iso(session['closedAt'])}" in text
    assert f"duration {duration // 60}m {duration % 60:02d}s" in text
    assert f"Transcript ({len(items)} turns):" in lines
    start = lines.index(f"Transcript ({len(items)} turns):") + 1
    assert lines[start:] == [expected_line(session, item) for item in items]
    assert lines[start].startswith("[00:0") and "] Agent: " in lines[start]
    assert "[cut" not in text

    assert data["total_turns"] == len(items)
    assert data["offset"] == 0
    assert data["truncated"] is False
    assert "next_offset" not in data
    assert [t["index"] for t in data["turns"]] == list(range(len(items)))
    assert [t["text"] for t in data["turns"]] == [i["text"] for i in items]
    assert data["session"]["id"] == session["id"]
    assert data["session"]["duration_seconds"] == duration
    assert not has_none(data)


async def test_marathon_is_cut_with_a_marker_naming_the_next_offset(mcp: Client, simulator: Simulator) -> None:
    session = marathon_of(simulator)
    total = len(items_of(session))
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
    shown = len(data["turns"])
    assert 0 < shown < total
    assert data["truncated"] is True
    assert data["next_offset"] == shown
    assert data["total_turns"] == total
    assert f"Transcript turns 1-{shown} of {total}:" in text
    last = text.splitlines()[-1]
    assert last.startswith("[cut:")
    assert f"{total - shown} more turns" in last
    assert f"offset={shown}" in last
    assert "get_session_transcript" in last
    assert session["id"] in last


@pytest.mark.parametrize("limit", [1000, 337])
async def test_marathon_paging_loses_and_repeats_nothing(mcp: Client, simulator: Simulator, limit: int) -> None:
    session = marathon_of(simulator)
    items = items_of(session)
    seen: list[dict[str, Any]] = []
    offset: int | None = 0
    calls = 0
    while offset is not None:
        calls += 1
        assert calls <= 20, "paging did not converge"
        text, data = ok(
            await mcp.call_tool(
                "get_session_transcript", {"session_id": session["id"], "offset": offset, "limit": limit}
            )
        )
        assert data["offset"] == offset
        assert data["turns"], "a page in the middle must not be empty"
        assert data["turns"][0]["index"] == offset
        assert len(data["turns"]) <= limit
        seen.extend(data["turns"])
        offset = data.get("next_offset")
        assert ("[cut:" in text) == (offset is not None)
    assert calls >= 3
    assert [t["index"] for t in seen] == list(range(len(items)))
    assert [t["text"] for t in seen] == [i["text"] for i in items]
    assert [t["role"] for t in seen] == [i["role"] for i in items]
    assert [t["offset_seconds"] for t in seen] == [i["timestamp"] - session["startedAt"] for i in items]


async def test_offset_past_the_end_says_so(mcp: Client, simulator: Simulator) -> None:
    session = ordinary_session(simulator)
    total = len(items_of(session))
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"], "offset": total + 5}))
    assert data["turns"] == []
    assert data["truncated"] is False
    assert f"the transcript has {total} turns" in text


async def test_small_budget_cuts_and_says_so(client: CompanionClient, simulator: Simulator, mode: str) -> None:
    budget = 2_000
    marathon = marathon_of(simulator)
    async with connect(client, Settings(max_chars=budget), mode=mode) as mcp:
        text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": marathon["id"], "limit": 1000}))
        turn_lines = [line for line in text.splitlines() if re.match(r"^\[\d\d:\d\d\] ", line)]
        assert len(turn_lines) == len(data["turns"])
        assert 10 < len(turn_lines) < 100
        assert sum(len(line) + 1 for line in turn_lines) <= budget
        assert data["truncated"] is True
        assert f"offset={data['next_offset']}" in text.splitlines()[-1]

        # One turn longer than the whole budget: shown shortened, with how much was left out.
        long_session = next(
            s for s in simulator.sessions_of("demo") if any(len(i["text"]) > budget for i in items_of(s))
        )
        index = next(n for n, i in enumerate(items_of(long_session)) if len(i["text"]) > budget)
        original = items_of(long_session)[index]["text"]
        text, data = ok(
            await mcp.call_tool("get_session_transcript", {"session_id": long_session["id"], "offset": index})
        )
        turn = data["turns"][0]
        assert turn["index"] == index
        assert len(turn["text"]) < len(original)
        assert re.search(r"\[\+\d+ chars\]", turn["text"])
        assert original[:200] in turn["text"]
        assert len(data["turns"]) == 1
        assert data["next_offset"] == index + 1


async def test_never_started_session_renders_clearly(mcp: Client, simulator: Simulator) -> None:
    pending = next(s for s in simulator.sessions_of("demo") if s.get("status") == "pending")
    assert "conversation" not in pending and "startedAt" not in pending
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": pending["id"]}))
    assert text.splitlines()[0] == f"# Session {pending['id']} — pending"
    assert "never started" in text
    assert "No transcript" in text
    assert data["total_turns"] == 0
    assert data["turns"] == []
    assert data["truncated"] is False
    assert data["session"]["status"] == "pending"
    assert "started_at" not in data["session"]


async def test_open_session_says_it_is_still_open(mcp: Client, simulator: Simulator) -> None:
    session = next(s for s in simulator.sessions_of("demo") if s.get("status") == "started")
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
    assert text.splitlines()[0] == f"# Session {session['id']} — started"
    assert "still open" in text
    assert "duration" not in text
    assert "duration_seconds" not in data["session"]
    assert text.splitlines()[-len(items_of(session)) :] == [expected_line(session, i) for i in items_of(session)]


async def test_empty_conversation_renders_clearly(mcp: Client, simulator: Simulator) -> None:
    silent = next(
        s
        for s in simulator.sessions_of("demo")
        if s.get("status") == "closed" and s.get("conversation") == {"items": []}
    )
    text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": silent["id"]}))
    assert text.splitlines()[0].startswith(f"# Session {silent['id']} — closed")
    assert "No transcript" in text
    assert "duration" in text
    assert data["total_turns"] == 0
    assert data["turns"] == []


async def test_unknown_session_points_to_list_sessions(mcp: Client, simulator: Simulator) -> None:
    text = failed(await mcp.call_tool("get_session_transcript", {"session_id": "sess_0000000000000000"}))
    assert "sess_0000000000000000" in text
    assert "list_sessions" in text
    assert upstream_paths(simulator) == ["GET /public/sessions/sess_0000000000000000"]


HOSTILE_IDS = ["../x", "..", "a/b", "x?y=1", "x#y", "%2e%2e%2fx", "sess 1", "sess\n1", "a\\b", "", "s" * 300]


async def test_hostile_session_ids_never_reach_upstream(mcp: Client, simulator: Simulator) -> None:
    for hostile in HOSTILE_IDS:
        text = failed(await mcp.call_tool("get_session_transcript", {"session_id": hostile}))
        assert "session id" in text, (hostile, text)
        assert len(text) < 400, "the id is quoted shortened, if at all"
    assert not simulator.requests, upstream_paths(simulator)


def pii_session(simulator: Simulator) -> tuple[dict[str, Any], list[str]]:
    """A session whose transcript holds email addresses, and those addresses."""
    session = next(s for s in simulator.sessions_of("demo") if any("@example.com" in i["text"] for i in items_of(s)))
    emails = re.findall(r"[\w.]+@example\.com", " ".join(i["text"] for i in items_of(session)))
    assert emails
    return session, emails


async def test_transcript_is_shown_as_sent_without_redaction(mcp: Client, simulator: Simulator) -> None:
    session, emails = pii_session(simulator)
    text, _ = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
    assert all(email in text for email in emails)


async def test_redact_pii_setting_masks_emails(client: CompanionClient, simulator: Simulator, mode: str) -> None:
    session, emails = pii_session(simulator)
    async with connect(client, Settings(redact_pii=True), mode=mode) as mcp:
        text, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
        prompt = await mcp.get_prompt("qa_review_transcript", {"session_id": session["id"]})
        resource = await mcp.read_resource(TRANSCRIPT_TEMPLATE.format(session_id=session["id"]))
    shown = [text, json.dumps(data), prompt_text(prompt), resource_text(resource, "text/markdown")]
    for email in emails:
        assert not any(email in part for part in shown), email


# -- create_connection ------------------------------------------------------------------------


async def test_create_connection_returns_session_and_token(mcp: Client, simulator: Simulator) -> None:
    text, data = ok(
        await mcp.call_tool(
            "create_connection",
            {"companion_id": "comp_support", "voice_id": "alloy", "tags": {"channel": "test"}},
        )
    )
    assert set(data) == {"session_id", "token"}
    session_id, token = data["session_id"], data["token"]
    assert session_id in simulator.projects["demo"].sessions
    assert simulator.projects["demo"].sessions[session_id]["tags"] == {"channel": "test"}
    assert len(token) > 20
    assert session_id in text
    assert "short-lived credential" in text
    assert upstream_paths(simulator) == ["POST /public/connections"]
    # The new session is readable at once, and says it has not started.
    text, _ = ok(await mcp.call_tool("get_session_transcript", {"session_id": session_id}))
    assert "never started" in text


async def test_second_connection_within_five_seconds_is_refused_with_the_wait(
    mcp: Client, simulator: Simulator
) -> None:
    arguments = {"companion_id": "comp_booking", "voice_id": "alloy"}
    ok(await mcp.call_tool("create_connection", arguments))
    text = failed(await mcp.call_tool("create_connection", arguments))
    match = re.search(r"Try again in (\d+(?:\.\d+)?) s", text)
    assert match, text
    assert 0 < float(match.group(1)) <= 5
    assert "5 s" in text
    assert upstream_paths(simulator) == ["POST /public/connections"], "the refused call must not reach upstream"


async def test_upstream_rate_limit_is_a_clear_message_with_the_wait(mcp: Client, simulator: Simulator) -> None:
    simulator.fail_next(429, retry_after=3, code="RequestRateLimitExceeded", path_prefix="/public/connections")
    text = failed(await mcp.call_tool("create_connection", {"companion_id": "comp_support", "voice_id": "alloy"}))
    assert "rate limit" in text
    assert "RequestRateLimitExceeded" in text
    assert "3 s" in text
    assert upstream_paths(simulator) == ["POST /public/connections"], "a connection must never be retried"
    assert not simulator.projects["demo"].opened_via_api


BAD_CONNECTION_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"companion_id": "comp_support"}, "voice_id"),
    ({"companion_id": "", "voice_id": "alloy"}, "companion_id"),
    ({"companion_id": "comp_support", "voice_id": "alloy", "external_client_id": "not valid!"}, "external_client_id"),
    ({"companion_id": "comp_support", "voice_id": "alloy", "tags": {"n": 1}}, "tags"),
    ({"companion_id": "comp_support", "voice_id": "alloy", "voice": "x"}, "voice"),
]


async def test_create_connection_bad_arguments_send_nothing(mcp: Client, simulator: Simulator) -> None:
    for arguments, named in BAD_CONNECTION_ARGUMENTS:
        text = failed(await mcp.call_tool("create_connection", arguments))
        assert named in text, (arguments, text)
    assert not simulator.requests
    # Nothing was sent, so the 5-second clock has not started: a valid call goes through.
    ok(await mcp.call_tool("create_connection", {"companion_id": "comp_support", "voice_id": "alloy"}))


async def test_create_connection_upstream_refusal_is_readable(mcp: Client, simulator: Simulator) -> None:
    text = failed(await mcp.call_tool("create_connection", {"companion_id": "comp_unknown", "voice_id": "alloy"}))
    assert "400" in text
    assert "Companion not found" in text


# -- client errors become tool errors ---------------------------------------------------------


FAULTS: dict[str, Fault] = {
    "500": Fault(status=500),
    "503-exhausted": Fault(status=503, times=FAST_RETRY.max_retries + 1),
    "invalid-json": Fault(kind="malformed_json"),
    "schema-break": Fault(kind="bad_schema"),
    "429-exhausted": Fault(status=429, times=FAST_RETRY.max_retries + 1, retry_after=0),
}
SAYS = {
    "500": ["500", "try again"],
    "503-exhausted": ["503", "try again", "unavailable"],
    "invalid-json": ["not JSON"],
    "schema-break": ["documented shape"],
    "429-exhausted": ["rate limiting", "429"],
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_upstream_faults_become_readable_tool_errors(mcp: Client, simulator: Simulator, fault: str) -> None:
    session = ordinary_session(simulator)
    spec = FAULTS[fault]
    for tool, arguments in (
        ("list_sessions", {"page_size": 5}),
        ("get_session_transcript", {"session_id": session["id"]}),
    ):
        before = len(simulator.requests)
        simulator.inject(dataclasses.replace(spec))  # a copy: faults count down as they are used
        text = failed(await mcp.call_tool(tool, arguments))
        for words in SAYS[fault]:
            assert words in text, (tool, text)
        assert len(simulator.requests) - before == spec.times, upstream_paths(simulator)
        # The server is still fine: the same call now succeeds.
        ok(await mcp.call_tool(tool, arguments))
        assert len(simulator.requests) - before == spec.times + 1


async def test_transient_503_is_retried_invisibly(mcp: Client, simulator: Simulator) -> None:
    simulator.fail_next(503, times=FAST_RETRY.max_retries)
    _, data = ok(await mcp.call_tool("list_sessions", {"page_size": 3}))
    assert len(data["sessions"]) == 3
    assert len(simulator.requests) == FAST_RETRY.max_retries + 1


async def test_wrong_api_key_is_a_readable_error(base_url: str, simulator: Simulator, mode: str) -> None:
    secret = "wrong-key-4f9a1c"
    async with (
        CompanionClient(api_key=secret, base_url=base_url, retry=FAST_RETRY, timeout=5) as bad,
        connect(bad, mode=mode) as mcp,
    ):
        for tool, arguments in (
            ("list_sessions", {}),
            ("get_session_transcript", {"session_id": simulator.sessions_of("demo")[3]["id"]}),
            ("list_sessions", {"page_size": 1}),
        ):
            text = failed(await mcp.call_tool(tool, arguments))
            assert "401" in text
            assert "NAPSTER_API_KEY" in text
            assert secret not in text
    assert [r.api_key for r in simulator.requests] == [secret] * 3, "a 401 must not be retried"


async def test_not_found_then_next_call_works(mcp: Client, simulator: Simulator) -> None:
    failed(await mcp.call_tool("get_session_transcript", {"session_id": "sess_missing"}))
    _, data = ok(await mcp.call_tool("get_session_transcript", {"session_id": ordinary_session(simulator)["id"]}))
    assert data["turns"]


# -- resources --------------------------------------------------------------------------------


async def test_resource_templates_are_listed(mcp: Client) -> None:
    templates = {t.uri_template: t for t in (await mcp.list_resource_templates()).resource_templates}
    assert templates[TRANSCRIPT_TEMPLATE].mime_type == "text/markdown"
    assert templates[SESSION_TEMPLATE].mime_type == "application/json"
    for template in templates.values():
        assert template.description


async def test_resources_list_pages_through_every_session(mcp: Client, simulator: Simulator) -> None:
    uris: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        pages += 1
        assert pages <= 20, "resources/list did not converge"
        page = await mcp.list_resources(cursor=cursor)
        assert page.resources
        uris.extend(r.uri for r in page.resources)
        assert all(r.mime_type == "text/markdown" for r in page.resources)
        if (cursor := page.next_cursor) is None:
            break
    expected = [TRANSCRIPT_TEMPLATE.format(session_id=s["id"]) for s in simulator.sessions_of("demo")]
    assert len(uris) == len(set(uris)) == len(expected)
    assert uris == expected
    assert pages > 1


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


BAD_CURSORS = [
    "garbage",
    "!!!",
    _cursor({"p": -1}),
    _cursor({"p": "1"}),
    _cursor({"p": True}),
    _cursor({"p": 10**9}),
    _cursor({"q": 1}),
    _cursor([1]),
]


async def test_bad_cursor_is_a_protocol_error(mcp: Client, simulator: Simulator) -> None:
    for cursor in BAD_CURSORS:
        with pytest.raises(MCPError) as caught:
            await mcp.list_resources(cursor=cursor)
        assert caught.value.error.code == INVALID_PARAMS, cursor
        assert "cursor" in caught.value.error.message.lower()
    assert not simulator.requests


async def test_transcript_resource_is_the_tool_rendering(mcp: Client, simulator: Simulator) -> None:
    for session in (ordinary_session(simulator), next(s for s in simulator.sessions_of("demo") if "sentiment" in s)):
        uri = TRANSCRIPT_TEMPLATE.format(session_id=session["id"])
        text = resource_text(await mcp.read_resource(uri), "text/markdown")
        tool_text, _ = ok(await mcp.call_tool("get_session_transcript", {"session_id": session["id"]}))
        assert text == tool_text
        assert expected_line(session, items_of(session)[-1]) in text


async def test_session_json_resource_round_trips_unknown_fields(mcp: Client, simulator: Simulator) -> None:
    session = next(s for s in simulator.sessions_of("demo") if "sentiment" in s)
    text = resource_text(await mcp.read_resource(SESSION_TEMPLATE.format(session_id=session["id"])), "application/json")
    data = json.loads(text)
    assert data["sentiment"] == {"overall": "positive", "score": 0.82}
    assert data["region"] == "eu-west"
    assert data == session


async def test_unknown_resource_is_a_protocol_error(mcp: Client) -> None:
    for template in (TRANSCRIPT_TEMPLATE, SESSION_TEMPLATE):
        with pytest.raises(MCPError) as caught:
            await mcp.read_resource(template.format(session_id="sess_missing"))
        assert caught.value.error.code == INVALID_PARAMS, template
        assert "sess_missing" in caught.value.error.message
        assert "list" in caught.value.error.message


async def test_hostile_resource_uris_never_reach_upstream(mcp: Client, simulator: Simulator) -> None:
    for uri in (
        "napster://sessions/..%2Fx/transcript",
        "napster://sessions/a%3Fb",
        "napster://sessions/",
        "napster://sessions/../x",
    ):
        with pytest.raises(MCPError):
            await mcp.read_resource(uri)
    assert not simulator.requests, upstream_paths(simulator)


async def test_resource_read_upstream_failure_is_a_protocol_error(mcp: Client, simulator: Simulator) -> None:
    session = ordinary_session(simulator)
    simulator.fail_next(500)
    with pytest.raises(MCPError) as caught:
        await mcp.read_resource(TRANSCRIPT_TEMPLATE.format(session_id=session["id"]))
    assert "500" in caught.value.error.message
    assert "Traceback" not in caught.value.error.message


async def test_resources_list_upstream_failure_is_readable(mcp: Client, simulator: Simulator) -> None:
    simulator.fail_next(500)
    with pytest.raises(MCPError) as caught:
        await mcp.list_resources()
    assert "500" in caught.value.error.message
    assert "Traceback" not in caught.value.error.message
    assert len((await mcp.list_resources()).resources) == 50  # and the next call works


async def test_upstream_failure_is_not_blamed_on_the_parameters(mcp: Client, simulator: Simulator) -> None:
    simulator.fail_next(500)
    with pytest.raises(MCPError) as listing:
        await mcp.list_resources()
    simulator.fail_next(500)
    with pytest.raises(MCPError) as prompt:
        await mcp.get_prompt("qa_review_transcript", {"session_id": ordinary_session(simulator)["id"]})
    assert listing.value.error.code != INVALID_PARAMS
    assert prompt.value.error.code != INVALID_PARAMS


# -- completions ------------------------------------------------------------------------------


async def test_session_id_completion_by_prefix(mcp: Client, simulator: Simulator) -> None:
    recent = [s["id"] for s in simulator.sessions_of("demo")[:100]]
    for template in (TRANSCRIPT_TEMPLATE, SESSION_TEMPLATE):
        ref = ResourceTemplateReference(type="ref/resource", uri=template)
        for prefix in ("sess_a", "sess_0", "sess_"):
            expected = [sid for sid in recent if sid.startswith(prefix)]
            assert expected
            completion = (await mcp.complete(ref, {"name": "session_id", "value": prefix})).completion
            assert completion.values == expected, (template, prefix)
            assert completion.total == len(expected)
            assert not completion.has_more


async def test_session_id_completion_with_no_match_is_empty(mcp: Client) -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri=TRANSCRIPT_TEMPLATE)
    completion = (await mcp.complete(ref, {"name": "session_id", "value": "zzz"})).completion
    assert completion.values == []


async def test_companion_completion_for_summarize_prompt(mcp: Client) -> None:
    ref = PromptReference(type="ref/prompt", name="summarize_sessions")
    for prefix, expected in (
        ("", ["comp_booking", "comp_concierge", "comp_sales", "comp_support", "comp_tutor"]),  # the directory's
        ("comp_s", ["comp_sales", "comp_support"]),
        ("comp_t", ["comp_tutor"]),
        ("x", []),
    ):
        completion = (await mcp.complete(ref, {"name": "companion_id", "value": prefix})).completion
        assert completion.values == expected, prefix
    completion = (await mcp.complete(ref, {"name": "agent_id", "value": "agent_s"})).completion
    assert completion.values == ["agent_sales", "agent_support"]
    completion = (await mcp.complete(ref, {"name": "window", "value": "y"})).completion
    assert completion.values == ["yesterday"]
    completion = (await mcp.complete(ref, {"name": "window", "value": "last"})).completion
    assert completion.values and all(v.startswith("last") for v in completion.values)


async def test_qa_prompt_completes_session_ids(mcp: Client, simulator: Simulator) -> None:
    ref = PromptReference(type="ref/prompt", name="qa_review_transcript")
    first = simulator.sessions_of("demo")[0]["id"]
    completion = (await mcp.complete(ref, {"name": "session_id", "value": first[:9]})).completion
    assert first in completion.values


# -- prompts ----------------------------------------------------------------------------------


async def test_prompts_are_listed_with_argument_descriptions(mcp: Client) -> None:
    prompts = {p.name: p for p in (await mcp.list_prompts()).prompts}
    assert {"summarize_sessions", "qa_review_transcript"} <= set(prompts)
    for prompt in prompts.values():
        assert prompt.title
        assert prompt.description
        for argument in prompt.arguments or []:
            assert argument.description, f"{prompt.name}.{argument.name}"
    summarize = {a.name: a for a in prompts["summarize_sessions"].arguments or []}
    assert set(summarize) == {"companion_id", "since", "until", "window", "count", "timezone"}
    assert not any(a.required for a in summarize.values())
    qa = {a.name: a for a in prompts["qa_review_transcript"].arguments or []}
    assert qa["session_id"].required is True
    assert qa["rubric"].required is not True


async def test_summarize_sessions_prompt_by_count(mcp: Client) -> None:
    text = prompt_text(await mcp.get_prompt("summarize_sessions", {"companion_id": "comp_sales", "count": "5"}))
    assert "get_session_transcripts(limit=5, companion_id='comp_sales')" in text
    assert "session_stats(limit=5, companion_id='comp_sales')" in text
    assert "5 most recent" in text
    assert "by eye" not in text and "list_sessions" not in text  # the window is the tools' job now

    text = prompt_text(await mcp.get_prompt("summarize_sessions", {}))
    assert "all companions" in text
    assert "get_session_transcripts(limit=20)" in text

    text = prompt_text(await mcp.get_prompt("summarize_sessions", {"count": "300"}))
    assert "get_session_transcripts(limit=300, detail='digest')" in text  # many sessions: one line each


@pytest.mark.parametrize(
    "now", [datetime(2026, 9, 21, 0, 0, 0, tzinfo=UTC), datetime(2026, 9, 21, 23, 59, 59, 999_999, tzinfo=UTC)]
)
async def test_summarize_sessions_prompt_by_window(client: CompanionClient, mode: str, now: datetime) -> None:
    today = now.date()  # the server's clock, fixed at the edges of a day: "yesterday" is its yesterday
    day = (today - timedelta(days=1)).isoformat()
    window = f"since='{day}T00:00:00Z', until='{today.isoformat()}T00:00:00Z'"
    async with connect(client, mode=mode, clock=lambda: now) as mcp:
        texts = [
            prompt_text(await mcp.get_prompt("summarize_sessions", {**arguments, "companion_id": "comp_sales"}))
            for arguments in (
                {"window": "yesterday"},
                {"since": "yesterday"},
                {"since": day, "until": today.isoformat()},
            )
        ]
    for text in texts:
        assert f"session_stats({window}, companion_id='comp_sales')" in text, text
        assert f"get_session_transcripts({window}, companion_id='comp_sales')" in text
        assert f"get_session_transcripts({window}, companion_id='comp_sales', detail='digest', limit=500)" in text
        assert f"{day}T00:00:00Z to {today.isoformat()}T00:00:00Z" in text


async def test_summarize_sessions_prompt_refuses_a_window_it_cannot_read(mcp: Client) -> None:
    for arguments in (
        {"window": "the other day"},
        {"since": "last tuesday"},
        {"since": "2026-09-21", "until": "2026-09-20"},
        {"since": "now"},  # an empty window: the calls the prompt would suggest are refused
        {"since": "0m"},
    ):
        with pytest.raises(MCPError) as caught:
            await mcp.get_prompt("summarize_sessions", arguments)
        assert caught.value.error.code == INVALID_PARAMS, arguments
        message = caught.value.error.message
        assert "yesterday" in message or "until" in message or "today" in message, message  # says what to write
    with pytest.raises(MCPError, match="is empty"):
        await mcp.get_prompt("qa_triage", {"since": "now"})


async def test_qa_review_prompt_embeds_transcript_and_rubric(mcp: Client, simulator: Simulator) -> None:
    session = ordinary_session(simulator)
    text = prompt_text(await mcp.get_prompt("qa_review_transcript", {"session_id": session["id"]}))
    for item in items_of(session):
        assert expected_line(session, item) in text
    assert "Rubric" in text
    assert "Greeting" in text and "Resolution" in text  # the default rubric
    assert text.index("<transcript>") < text.index(expected_line(session, items_of(session)[0]))
    assert "cut to fit" not in text

    custom = "- Says goodbye politely\n- Confirms the booking time"
    text = prompt_text(await mcp.get_prompt("qa_review_transcript", {"session_id": session["id"], "rubric": custom}))
    assert custom in text
    assert "Greeting and identification" not in text


async def test_qa_review_prompt_of_a_marathon_says_it_was_cut(mcp: Client, simulator: Simulator) -> None:
    session = marathon_of(simulator)
    text = prompt_text(await mcp.get_prompt("qa_review_transcript", {"session_id": session["id"]}))
    assert "cut to fit" in text
    assert expected_line(session, items_of(session)[0]) in text


async def test_summarize_with_bad_count_is_a_protocol_error(mcp: Client) -> None:
    for count in ("0", "501", "x", "-3", "2.5"):
        with pytest.raises(MCPError) as caught:
            await mcp.get_prompt("summarize_sessions", {"count": count})
        assert caught.value.error.code == INVALID_PARAMS, count
        assert "count" in caught.value.error.message
        assert "1 to 500" in caught.value.error.message


async def test_qa_review_of_bad_session_is_a_protocol_error(mcp: Client, simulator: Simulator) -> None:
    for session_id in ("sess_missing", "../x"):
        with pytest.raises(MCPError) as caught:
            await mcp.get_prompt("qa_review_transcript", {"session_id": session_id})
        assert caught.value.error.code == INVALID_PARAMS, session_id
        assert session_id in caught.value.error.message
    assert upstream_paths(simulator) == ["GET /public/sessions/sess_missing"]
