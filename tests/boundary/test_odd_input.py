"""Odd input from outside, end to end: the real command line and the MCP protocol.

A rules file nested thousands deep, a pattern repeated 4,294,967,295 times, a rules file with a
byte-order mark, and times from year 1 to 9999 get the right answer or one clear line (exit
status 2 on the command line, a tool error or ``MCPError`` over MCP), never a traceback. The
parsers' own generated-input tests are in ``unit/qa/test_rules.py`` and ``unit/sessions/test_scan.py``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR, assert_one_clear_error, connect, listed_ids, run_main, started_in

Wire = dict[str, Any]
NOW = datetime.fromtimestamp(ANCHOR, UTC)
SEP_21 = datetime(2026, 9, 21, tzinfo=UTC)
Y2K = datetime(2000, 1, 1, tzinfo=UTC)  # the earliest session time the server reads
DEEP = "a = " + "[" * 5000 + "]" * 5000 + "\n"
HUGE_REPEAT = '[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "x{4294967295}"\n'
DISCLOSURE = '[[rules]]\nid = "recording_disclosure"\ntype = "required_phrase"\nphrase = "this call is recorded"\n'


# -- the command line ------------------------------------------------------------------------


def test_sessions_list_since_year_one_lists_every_session(process_env: dict[str, str], simulator: Simulator) -> None:
    done = run_main(
        "sessions", "list", "--since", "0001-01-01", "--until", "2026-09-21", "--page-size", "100", env=process_env
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr  # not an OverflowError in the scan
    expected = [
        s["id"] for s in simulator.sessions_of("demo") if started_in(s, datetime(2000, 1, 1, tzinfo=UTC), SEP_21)
    ]
    assert listed_ids(done.stdout) == expected[:100]
    assert "Window (UTC): 2000-01-01T00:00:00Z to 2026-09-21T00:00:00Z" in done.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--until", "0001-01-01"], ["until='0001-01-01'", "no session time before 2000-01-01"]),
        (["--since", "9999-12-31T23:59:59-01:00"], ["since=", "after now"]),  # past year 9999 in UTC
    ],
)
def test_sessions_list_with_a_time_no_session_can_have_is_one_clear_line(
    process_env: dict[str, str], simulator: Simulator, args: list[str], needles: list[str]
) -> None:
    assert_one_clear_error(run_main("sessions", "list", *args, env=process_env), *needles)
    assert not simulator.requests


def test_a_far_future_until_gives_a_cursor_that_works(process_env: dict[str, str]) -> None:
    first = run_main("sessions", "list", "--since", "2026-09-14", "--until", "9999-12-31", env=process_env)
    assert first.returncode == 0, first.stderr
    cursor = re.search(r"--cursor (\S+)", first.stdout)
    assert cursor is not None, first.stdout
    args = ("--since", "2026-09-14", "--until", "9999-12-31", "--cursor", cursor.group(1))
    second = run_main("sessions", "list", *args, env=process_env)
    assert second.returncode == 0, second.stderr  # the window's end fits what a cursor carries
    assert listed_ids(second.stdout) and not set(listed_ids(second.stdout)) & set(listed_ids(first.stdout))


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (DEEP, "nested too deeply"),
        (HUGE_REPEAT, "rule 'x': pattern: a repeat count is too large"),
        ("[checks.slow_response]\nseconds = 1" + "0" * 5000 + "\n", "a number has more than 4,300 digits"),
    ],
    ids=["nested", "huge-repeat", "huge-number"],
)
def test_qa_with_an_odd_rules_file_is_one_clear_line(
    process_env: dict[str, str], simulator: Simulator, tmp_path: Path, content: str, needle: str
) -> None:
    rules = tmp_path / "team.toml"
    rules.write_text(content)
    done = run_main("qa", "--rules", str(rules), "--no-cache", "--limit", "2", env=process_env)
    assert_one_clear_error(done, f"rules file {rules}: ", needle)
    assert not simulator.requests  # refused before any request
    served = run_main("--qa-rules", str(rules), env=process_env)  # the MCP server refuses it at start-up
    assert_one_clear_error(served, "--qa-rules: ", needle)


def test_qa_reads_a_rules_file_with_a_byte_order_mark(process_env: dict[str, str], tmp_path: Path) -> None:
    rules = tmp_path / "team.toml"
    rules.write_bytes(codecs.BOM_UTF8 + DISCLOSURE.encode())
    done = run_main("qa", "--rules", str(rules), "--no-cache", "--limit", "3", env=process_env)
    assert done.returncode == 0, done.stderr
    assert "recording_disclosure" in done.stdout


# -- the MCP protocol ------------------------------------------------------------------------


@pytest.fixture
async def mcp(client: CompanionClient) -> AsyncIterator[Client]:
    async with connect(client, Settings(demo=True), clock=lambda: NOW) as connected:
        yield connected


LIMITED = {"get_session_transcripts": {"limit": 2, "detail": "digest"}, "review_sessions": {"limit": 2}}


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["list_sessions", "session_stats", "get_session_transcripts", "review_sessions"])
@pytest.mark.parametrize(
    ("since", "until"),
    [("0001-01-01", ""), ("0001-01-01T00:00:00+01:00", ""), ("", "9999-12-31"), ("7d", "9999-12-31T23:59:59-01:00")],
)
async def test_every_windowed_tool_reads_a_window_beyond_the_calendar(
    mcp: Client, simulator: Simulator, tool: str, since: str, until: str
) -> None:
    result = await mcp.call_tool(tool, {"since": since, "until": until, **LIMITED.get(tool, {})})
    assert not result.is_error, result.content[0].text  # not "date value out of range"
    data = result.structured_content
    scan = data.get("scan", data)  # review_sessions says its window at the top
    assert scan["window_end"] == "2026-09-21T14:13:20Z"  # an end after now is now
    if since != "7d":
        assert scan.get("window_start") in (None, "2000-01-01T00:00:00Z")
    if tool == "session_stats":
        assert result.structured_content["per_day"][-1]["day"] == "2026-09-21"  # no empty days up to 2099


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["list_sessions", "session_stats", "get_session_transcripts", "review_sessions"])
@pytest.mark.parametrize(
    ("since", "until", "needle"),
    [("", "0001-01-01", "no session time before 2000-01-01"), ("9999-12-31T23:59:59-01:00", "", "after now")],
)
async def test_every_windowed_tool_refuses_a_window_no_session_can_be_in(
    mcp: Client, simulator: Simulator, tool: str, since: str, until: str, needle: str
) -> None:
    result = await mcp.call_tool(tool, {"since": since, "until": until})
    text = result.content[0].text
    assert result.is_error and needle in text and "\n" not in text, text
    assert not simulator.requests


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("window", "says"),
    [
        ("0001-01-01 to 9999-12-31", "since='2000-01-01T00:00:00Z', until='2100-01-01T00:00:00Z'"),
        ("since 0001-01-01", "since='2000-01-01T00:00:00Z'"),
    ],
)
async def test_the_summary_prompt_reads_a_window_beyond_the_calendar(mcp: Client, window: str, says: str) -> None:
    prompt = await mcp.get_prompt("summarize_sessions", {"window": window})
    content = prompt.messages[0].content
    assert content.type == "text" and says in content.text


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("window", "needle"),
    [("9999-12-31", "after now"), ("after 9999-12-31", "after now"), ("2026-13-45", "cannot read")],
)
async def test_the_summary_prompt_refuses_an_odd_window_in_one_line(mcp: Client, window: str, needle: str) -> None:
    with pytest.raises(MCPError) as caught:
        await mcp.get_prompt("summarize_sessions", {"window": window})
    assert needle in str(caught.value) and "\n" not in str(caught.value)
