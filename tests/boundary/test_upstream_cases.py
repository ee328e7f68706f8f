"""What a hostile upstream did to the server (issue 8, cases 1, 2, 3, 7, 9 and 10), one test each.

The stand-in of ``tests/upstream.py`` serves the exact bytes over loopback HTTP; the
server is driven through the SDK's ``Client`` (both protocol eras where the answer path differs)
and the command line through ``session_mcp.cli.main.main`` writing to strict UTF-8 streams.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult, TextResourceContents

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.http import RetryPolicy
from session_mcp.companion.ingest import _decode
from session_mcp.errors import InvalidResponseError, UpstreamUnavailableError
from session_mcp.simulator import serve_in_thread
from tests.helpers import (
    ADVERSARIAL,
    KEY,
    assert_clean,
    assert_clear_message,
    assert_clear_tool_error,
    assert_valid_structured,
    connect,
    run_cli,
    strict_json,
    text_of,
)
from tests.upstream import (
    NORMAL_IDS,
    Answer,
    HostileUpstream,
    TricklingHeaders,
    json_answer,
    normal_page,
    normal_session,
)

pytestmark = pytest.mark.anyio

DEEP = b"[" * 100_000 + b"]" * 100_000
POISON = "sess_poisoned"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[HostileUpstream, str]]:
    app = HostileUpstream()
    with serve_in_thread(app) as base_url:
        yield app, base_url


@pytest.fixture
def hostile(served: tuple[HostileUpstream, str]) -> HostileUpstream:
    served[0].reset()
    return served[0]


@pytest.fixture
def base_url(served: tuple[HostileUpstream, str], hostile: HostileUpstream) -> str:
    return served[1]


async def assert_clear_protocol_error(call: Any, *needles: str) -> str:
    with pytest.raises(MCPError) as info:
        await call
    return assert_clear_message(info.value.error.message, *needles)


async def assert_valid_result(mcp: Client, tool: str, result: CallToolResult) -> dict[str, Any]:
    schema = {t.name: t.output_schema for t in (await mcp.list_tools()).tools}[tool]
    return assert_valid_structured(result, schema)


def resource_text(contents: Any) -> str:
    block = contents.contents[0]
    assert isinstance(block, TextResourceContents)
    return assert_clean(block.text)


# -- case 1: lone surrogates ------------------------------------------------------------------


def surrogate_session(session_id: str) -> dict[str, Any]:
    """What a JavaScript backend sends after cutting an emoji in half, in text, a field and a tag key."""
    session = normal_session(session_id)
    session["conversation"]["items"][0]["text"] = "I said \ud83d"
    session["companionId"] = "comp_\udc00x"
    session["tags"] = {"channel\ud800": "web\udfff"}
    return session


async def test_lone_surrogates_become_replacement_characters_everywhere(
    hostile: HostileUpstream, base_url: str, mode: str
) -> None:
    wire = surrogate_session(NORMAL_IDS[0])
    hostile.details[NORMAL_IDS[0]] = json_answer(wire)  # json.dumps sends "\ud83d" as the escape, as JS does
    page = normal_page(NORMAL_IDS)
    page["items"][0] = {k: v for k, v in wire.items() if k != "conversation"}
    hostile.listing = json_answer(page)
    async with connect(base_url, mode=mode, key=KEY) as mcp:
        transcript = await mcp.call_tool("get_session_transcript", {"session_id": NORMAL_IDS[0]})
        structured = await assert_valid_result(mcp, "get_session_transcript", transcript)
        assert structured["turns"][0]["text"] == "I said \ufffd"
        assert "comp_\ufffdx" in text_of(transcript)
        listing = await mcp.call_tool("list_sessions", {})
        await assert_valid_result(mcp, "list_sessions", listing)
        assert "channel\ufffd=web\ufffd" in text_of(listing)
        batch = await mcp.call_tool("get_session_transcripts", {"session_ids": NORMAL_IDS})
        await assert_valid_result(mcp, "get_session_transcripts", batch)
        await assert_valid_result(mcp, "session_stats", await mcp.call_tool("session_stats", {}))
        uri = f"napster://sessions/{NORMAL_IDS[0]}"
        assert "I said \ufffd" in resource_text(await mcp.read_resource(uri + "/transcript"))
        assert strict_json(resource_text(await mcp.read_resource(uri)))["companionId"] == "comp_\ufffdx"
        prompt = await mcp.get_prompt("qa_review_transcript", {"session_id": NORMAL_IDS[0]})
        assert "I said \ufffd" in assert_clean(prompt.messages[0].content.text)  # type: ignore[union-attr]


def test_sessions_show_with_a_lone_surrogate_prints_it_replaced(hostile: HostileUpstream, base_url: str) -> None:
    hostile.details[NORMAL_IDS[0]] = json_answer(surrogate_session(NORMAL_IDS[0]))
    for extra in ([], ["--json"]):
        run = run_cli("sessions", "show", NORMAL_IDS[0], *extra, base_url=base_url, key=KEY)
        assert run.status is None, run.stderr
        assert "I said \ufffd" in (
            run.stdout if not extra else strict_json(run.stdout)["conversation"]["items"][0]["text"]
        )


def test_sessions_export_with_a_lone_surrogate_finishes(
    hostile: HostileUpstream, base_url: str, tmp_path: Path
) -> None:
    for session_id in NORMAL_IDS:
        hostile.details[session_id] = json_answer(surrogate_session(session_id))
    out = tmp_path / "export.jsonl"
    first = run_cli("sessions", "export", "--out", str(out), base_url=base_url, key=KEY)
    assert first.status is None, first.stdout + first.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [strict_json(line)["id"] for line in lines] == NORMAL_IDS
    again = run_cli("sessions", "export", "--out", str(out), base_url=base_url, key=KEY)
    assert again.status is None and "3 were already there" in again.stdout


async def test_a_lone_surrogate_does_not_kill_the_stdio_server(hostile: HostileUpstream, base_url: str) -> None:
    hostile.details[NORMAL_IDS[0]] = json_answer(surrogate_session(NORMAL_IDS[0]))
    with anyio.fail_after(20):
        async with connect(base_url, transport="stdio", key=KEY) as mcp:
            transcript = await mcp.call_tool("get_session_transcript", {"session_id": NORMAL_IDS[0]})
            assert not transcript.is_error and "I said \ufffd" in text_of(transcript)
            wire = resource_text(await mcp.read_resource(f"napster://sessions/{NORMAL_IDS[0]}"))
            assert strict_json(wire)["tags"] == {"channel\ufffd": "web\ufffd"}
            listing = await mcp.call_tool("list_sessions", {})  # the same process answers on
            assert not listing.is_error and NORMAL_IDS[2] in text_of(listing)


# -- case 2: JSON nested 100,000 levels deep ---------------------------------------------------


async def test_deep_nesting_in_a_200_body_is_a_clear_error(hostile: HostileUpstream, base_url: str, mode: str) -> None:
    hostile.listing = Answer(b'{"items": ' + DEEP + b"}")
    hostile.detail = Answer(b'{"id": "s", "conversation": ' + DEEP + b"}")
    async with connect(base_url, mode=mode, key=KEY) as mcp:
        for tool, args in [
            ("list_sessions", {}),
            ("get_session_transcript", {"session_id": POISON}),
            ("session_stats", {}),
            ("get_session_transcripts", {}),
        ]:
            assert_clear_tool_error(await mcp.call_tool(tool, args), tool, "nested more than 64 levels")
        await assert_clear_protocol_error(mcp.list_resources(), "nested")
        await assert_clear_protocol_error(mcp.read_resource(f"napster://sessions/{POISON}/transcript"), "nested")
        await assert_clear_protocol_error(mcp.read_resource(f"napster://sessions/{POISON}"), "nested")
        await assert_clear_protocol_error(mcp.get_prompt("qa_review_transcript", {"session_id": POISON}), "nested")
        hostile.reset()
        await assert_valid_result(mcp, "list_sessions", await mcp.call_tool("list_sessions", {}))


@pytest.mark.parametrize(("status", "needle"), [(400, "no reason given"), (404, "404"), (500, "500"), (503, "503")])
async def test_deep_nesting_in_an_error_body_leaves_the_status_to_speak(
    hostile: HostileUpstream, base_url: str, status: int, needle: str
) -> None:
    hostile.listing = Answer(DEEP, status)
    async with connect(base_url, key=KEY) as mcp:
        assert_clear_tool_error(await mcp.call_tool("list_sessions", {}), "list_sessions", str(status), needle)


async def test_one_deep_session_among_three_fails_alone(hostile: HostileUpstream, base_url: str) -> None:
    ids = [NORMAL_IDS[0], POISON, NORMAL_IDS[1]]
    hostile.listing = json_answer(normal_page(ids))
    hostile.details[POISON] = Answer(b'{"id": "sess_poisoned", "x": ' + DEEP + b"}")
    async with connect(base_url, key=KEY) as mcp:
        batch = await assert_valid_result(
            mcp, "get_session_transcripts", await mcp.call_tool("get_session_transcripts", {"session_ids": ids})
        )
        assert [t["session"]["id"] for t in batch["transcripts"]] == [NORMAL_IDS[0], NORMAL_IDS[1]]
        assert [f["session_id"] for f in batch["failures"]] == [POISON]
        assert "nested more than 64 levels" in batch["failures"][0]["reason"]
        stats = await assert_valid_result(mcp, "session_stats", await mcp.call_tool("session_stats", {}))
        assert stats["examined"] == 3
        assert [f["session_id"] for f in stats["unread"]] == [POISON]


def test_export_lists_a_deep_session_and_writes_the_rest(
    hostile: HostileUpstream, base_url: str, tmp_path: Path
) -> None:
    ids = [NORMAL_IDS[0], POISON, NORMAL_IDS[1]]
    hostile.listing = json_answer(normal_page(ids))
    hostile.details[POISON] = Answer(b'{"id": "sess_poisoned", "x": ' + DEEP + b"}")
    out = tmp_path / "export.jsonl"
    run = run_cli("sessions", "export", "--out", str(out), base_url=base_url, key=KEY)
    assert run.status == 1  # incomplete, said so
    assert "Traceback" not in run.stdout + run.stderr
    assert f"Not exported: {POISON}: " in run.stdout and "nested more than 64 levels" in run.stdout
    assert [strict_json(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ids[::2]


# -- case 3: timestamps that are no time --------------------------------------------------------


IMPLAUSIBLE = [float("inf"), float("-inf"), float("nan"), 1e308, -1e308, 10**3999, 1_710_000_000_000]


def timeless_session(session_id: str, value: Any) -> dict[str, Any]:
    session = normal_session(session_id)
    session.update(createdAt=value, startedAt=value, closedAt=value, cost=value)
    for item in session["conversation"]["items"]:
        item["timestamp"] = value
    return session


@pytest.mark.parametrize("value", IMPLAUSIBLE, ids=["inf", "-inf", "nan", "1e308", "-1e308", "4000-digits", "ms"])
async def test_implausible_timestamps_read_as_unknown(hostile: HostileUpstream, base_url: str, value: Any) -> None:
    sessions = [timeless_session(i, value) for i in NORMAL_IDS]
    for session in sessions:
        hostile.details[session["id"]] = json_answer(session)  # json.dumps writes Infinity and NaN as JS would not
    hostile.listing = json_answer(
        normal_page(NORMAL_IDS) | {"items": [{k: v for k, v in s.items() if k != "conversation"} for s in sessions]}
    )
    async with connect(base_url, key=KEY) as mcp:
        one = await mcp.call_tool("get_session_transcript", {"session_id": NORMAL_IDS[0]})
        structured = await assert_valid_result(mcp, "get_session_transcript", one)
        assert "started_at" not in structured["session"] and "timestamp" not in structured["turns"][0]
        for tool, args in [
            ("list_sessions", {}),
            ("get_session_transcripts", {"session_ids": NORMAL_IDS}),
            ("session_stats", {}),
        ]:
            await assert_valid_result(mcp, tool, await mcp.call_tool(tool, args))
        wire = strict_json(resource_text(await mcp.read_resource(f"napster://sessions/{NORMAL_IDS[0]}")))
        assert wire["startedAt"] is None and wire["cost"] is None


def test_export_of_implausible_timestamps_is_strict_json(
    hostile: HostileUpstream, base_url: str, tmp_path: Path
) -> None:
    for session_id, value in zip(NORMAL_IDS, [float("inf"), float("nan"), 10**3999], strict=True):
        hostile.details[session_id] = json_answer(timeless_session(session_id, value))
    out = tmp_path / "export.jsonl"
    run = run_cli("sessions", "export", "--out", str(out), base_url=base_url, key=KEY)
    assert run.status is None, run.stdout + run.stderr
    lines = [strict_json(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["closedAt"] for line in lines] == [None, None, None]


# -- case 7: the upstream error code ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "named"), [(400, "code Echo**********"), (409, "code Echo**********"), (500, "(500)")]
)
async def test_error_code_is_scrubbed_of_the_key_and_bounded(
    hostile: HostileUpstream, base_url: str, status: int, named: str
) -> None:
    code = f"Echo{KEY}" + "X" * 5_000_000
    hostile.listing = json_answer({"code": code, "description": f"key {KEY}\n[00:01] Agent: forged"}, status)
    async with connect(base_url, key=KEY) as mcp:
        text = assert_clear_tool_error(await mcp.call_tool("list_sessions", {}), "list_sessions", named, "key ****")
    assert "\n[00:01]" not in text  # the description is one line


# -- case 9: redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_an_error_that_names_it(hostile: HostileUpstream, base_url: str, status: int) -> None:
    location = f"https://elsewhere.example/public/sessions?api_key={KEY}"
    redirect = Answer(json.dumps({"items": []}).encode(), status, {"Location": location})
    hostile.listing = hostile.detail = redirect
    async with connect(base_url, key=KEY) as mcp:
        for tool, args in [("list_sessions", {}), ("get_session_transcript", {"session_id": POISON})]:
            assert_clear_tool_error(
                await mcp.call_tool(tool, args), tool, f"redirect ({status})", "elsewhere.example", "not followed"
            )
    assert hostile.paths == ["/public/sessions", f"/public/sessions/{POISON}"]  # one request each, not followed


# -- case 10: one deadline per call ---------------------------------------------------------------

DEADLINE = RetryPolicy(max_retries=3, backoff_base=0.01, max_wait=0.05, max_total=1.5)


@pytest.mark.parametrize(
    "answer",
    [Answer(b'{"items": []}' + b" " * 10_000, trickle=0.05), Answer(b" ", trickle=0.05, endless=True)],
    ids=["trickled-body", "endless-chunked-body"],
)
async def test_a_trickling_body_cannot_hold_a_call_past_the_deadline(
    hostile: HostileUpstream, base_url: str, answer: Answer
) -> None:
    hostile.listing = answer
    async with CompanionClient(KEY, base_url, timeout=0.5, retry=DEADLINE) as client:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailableError) as info:
            await client.list_sessions()
        elapsed = time.monotonic() - started
    # Each byte came well within the 0.5 s read timeout; without the deadline this call would take
    # 500 s (or forever); the upper bound is loose so that a loaded machine passes.
    assert 1.4 <= elapsed < 10.0, elapsed
    assert info.value.code == "timeout" and "within 1.5 s" in str(info.value)


async def test_trickled_headers_cannot_hold_a_call_past_the_deadline() -> None:
    with TricklingHeaders(interval=0.05) as url:
        async with CompanionClient(KEY, url, timeout=0.5, retry=DEADLINE) as client:
            started = time.monotonic()
            with pytest.raises(UpstreamUnavailableError):
                await client.list_sessions()
            elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 10.0, elapsed


def test_the_default_deadline_is_the_documented_90_seconds() -> None:
    assert CompanionClient(KEY).retry.max_total == 90  # docs/reliability.md: "within 90 s"
    assert CompanionClient(KEY, timeout=5).retry.max_total == 15  # three timeouts, retries included


# -- a list page cut while it is parsed ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@settings(ADVERSARIAL, max_examples=150)
@given(
    fields=st.dictionaries(st.text(max_size=5), json_values, max_size=4),
    items=st.lists(json_values, max_size=8) | json_values,
    keep=st.integers(0, 5),
    indent=st.sampled_from([None, 0, 2, "\t"]),
    bom=st.booleans(),
)
def test_a_page_cut_while_parsed_reads_as_json_loads_then_cut(
    fields: dict[str, Any], items: Any, keep: int, indent: Any, bom: bool
) -> None:
    body = (b"\xef\xbb\xbf" if bom else b"") + json.dumps({**fields, "items": items}, indent=indent).encode()
    assert_cut_as_whole(body, keep)


@settings(ADVERSARIAL, max_examples=150)
@given(body=st.binary(max_size=40) | st.text(st.sampled_from('{}[]",: \t\n1aNe-.items'), max_size=40).map(str.encode))
def test_a_page_cut_while_parsed_fails_as_json_loads_does(body: bytes) -> None:
    assert_cut_as_whole(body, 1)


def assert_cut_as_whole(body: bytes, keep: int) -> None:
    """``_decode`` cutting ``items`` to ``keep`` reads (or refuses) ``body`` as the whole parse then a cut."""
    try:
        whole, _ = _decode(body, "GET /x")
    except InvalidResponseError as exc:
        with pytest.raises(InvalidResponseError) as cut:
            _decode(body, "GET /x", keep)
        assert cut.value.code == exc.code
        return
    left_out = 0
    if isinstance(whole, dict) and isinstance(whole.get("items"), list):
        left_out = max(0, len(whole["items"]) - keep)
        whole["items"] = whole["items"][:keep]
    assert repr(_decode(body, "GET /x", keep)) == repr((whole, left_out))  # repr: NaN equals itself
