"""A generative hostile upstream (issue 8, deliverable 11): any answer, every surface.

Hypothesis builds list and session answers (``tests/strategies_upstream.py``) that the stand-in
of ``tests/upstream.py`` serves over loopback HTTP. Every tool, both resources,
``resources/list``, every prompt and the ``sessions`` commands then run against them, and for
every answer:

- it is a result or a clear error: never the SDK's bare "Error executing tool X" nor
  "Internal server error", never a traceback, never the key, at most ``ERROR_BOUND`` characters,
  never "Invalid arguments" (the arguments are fine: upstream is to blame);
- its text is valid UTF-8 and within ``SESSION_MCP_MAX_CHARS``; ``structuredContent`` is strict
  JSON (no NaN/Infinity) and fits the tool's ``outputSchema``; the JSON resource, ``--json``
  output and export lines parse strictly;
- a list holds no more rows than asked, ``resources/list`` at most 50; no rendering of a
  transcript (tool, resource, QA prompt, ``sessions show``) has more turn lines than the session
  has turns: no field forges one;
- the server survives: after each answer, a normal upstream gets a normal ``list_sessions``.

One MCP session stays open for the module on a blocking portal, so hypothesis drives plain
synchronous tests. Run with ``-s`` to see how many bodies a run generates and how long it takes.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult, TextResourceContents

from session_mcp.cli.main import EXIT_FATAL
from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server.directory import memory_of
from session_mcp.server.resources import RESOURCE_PAGE_SIZE
from session_mcp.simulator import serve_in_thread
from tests.helpers import (
    ADVERSARIAL,
    ERROR_BOUND,
    FAST_RETRY,
    KEY,
    CliRun,
    assert_clean,
    assert_clear_message,
    assert_clear_tool_error,
    assert_valid_structured,
    connect,
    run_cli,
    strict_json,
    text_of,
)
from tests.strategies_upstream import connection_answers, detail_answers, directory_answers, listing_answers
from tests.upstream import NORMAL_IDS, Answer, HostileUpstream

TARGET = "sess_target"  # the id every single-session call asks for: the hostile detail answers it
TOOL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_sessions", {}),
    ("list_sessions", {"page_size": 5}),
    ("get_session_transcript", {"session_id": TARGET}),
    ("get_session_transcripts", {"session_ids": [TARGET, NORMAL_IDS[0]]}),
    ("session_stats", {"limit": 40}),
    ("review_sessions", {"limit": 5}),
    ("review_sessions", {"session_ids": [TARGET, NORMAL_IDS[0]]}),
    ("create_connection", {"companion_id": "comp_support", "voice_id": "alloy"}),
    ("create_connection", {"agent_id": "agent_support"}),
    ("search_transcripts", {"query": "refund"}),
    ("list_companions", {}),
    ("list_companions", {"page_size": 3}),
    ("list_agents", {"page_size": 5}),
    ("list_sessions", {"companion_id": "comp_unknown"}),  # an empty answer checks the companion list
    ("annotate_session", {"session_id": TARGET, "reviewer": "ana", "verdict": "note", "comment": "checked"}),
]
PROMPTS: dict[str, dict[str, Any]] = {
    "qa_review_transcript": {"session_id": TARGET},
    "summarize_sessions": {},
    "qa_triage": {},
}
MAX_CHARS = Settings().max_chars
# The command line retries 429 and 502/503 with the shipped backoff (seconds): the tools, whose
# client retries fast, cover those statuses; the commands get every other answer.
cli_listings = listing_answers.filter(lambda answer: answer.status not in (429, 502, 503))
cli_details = detail_answers.filter(lambda answer: answer.status not in (429, 502, 503))
TURN_LINE = re.compile(r"^\[(?:(?:\d+:)?\d{2}:\d{2}|--:--)\] ", re.MULTILINE)
CUT_NOTE = re.compile(r"^Cut to SESSION_MCP_MAX_CHARS: \d+ of (\d+) conversation items left out")
BODIES: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()  # "tool result" / "tool error", to see the rendering is reached


def examples(count: int, **options: Any) -> Any:
    return settings(ADVERSARIAL, max_examples=count, **options)


@dataclass
class Env:
    portal: BlockingPortal
    mcp: Client
    companion: CompanionClient
    app: HostileUpstream
    base_url: str
    schemas: dict[str, dict[str, Any] | None]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"Env({self.base_url})")  # not the schemas, in a falsifying example

    def call_tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        if name == "create_connection":
            # One connection POST per 5 s per key: forget the last one, so each call meets the answer.
            self.companion._shared.last_connection_at.clear()
        return self.portal.call(self.mcp.call_tool, name, arguments)

    def install(
        self, listing: Answer, detail: Answer, connection: Answer | None = None, directory: Answer | None = None
    ) -> None:
        """Serve ``listing`` for the list, ``detail`` for every session but the normal ones,
        ``connection`` (if given) for the connection POSTs and ``directory`` (if given) for both
        directory lists."""
        self.app.reset()
        memory_of(self.companion).forget()  # the directory read lately: this example's answers are new
        self.app.listing, self.app.detail = listing, detail
        BODIES["list"] += 1
        BODIES["session"] += 1
        if connection is not None:
            self.app.connection = connection
            BODIES["connection"] += 1
        if directory is not None:
            self.app.companions = self.app.agents = directory
            BODIES["directory"] += 1

    def next_call_is_normal(self) -> None:
        self.app.reset()
        result = self.call_tool("list_sessions", {})
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        assert [row["id"] for row in result.structured_content["sessions"]] == NORMAL_IDS


@asynccontextmanager
async def opened(
    base_url: str,
) -> AsyncIterator[tuple[Client, CompanionClient, dict[str, dict[str, Any] | None]]]:
    async with (
        CompanionClient(KEY, base_url, retry=FAST_RETRY, timeout=5) as companion,
        connect(companion) as mcp,  # its session store in a temporary folder, as connect gives every test
    ):
        yield mcp, companion, {tool.name: tool.output_schema for tool in (await mcp.list_tools()).tools}


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    app = HostileUpstream()
    with (
        serve_in_thread(app) as base_url,
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(opened(base_url)) as (mcp, companion, schemas),
    ):
        started = time.monotonic()
        yield Env(portal, mcp, companion, app, base_url, schemas)
        elapsed = time.monotonic() - started
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(BODIES.items()))
    print(f"\ngenerative hostile upstream: {sum(BODIES.values())} bodies ({kinds}) in {elapsed:.1f} s")
    print("tool outcomes: " + ", ".join(f"{name} {count}" for name, count in sorted(OUTCOMES.items())))


def check_tool(env: Env, tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
    OUTCOMES[f"{tool} {'error' if result.is_error else 'result'}"] += 1
    text = text_of(result)
    assert len(text) <= MAX_CHARS + ERROR_BOUND, (tool, len(text))
    if result.is_error:
        assert_clear_tool_error(result, tool)
        assert "Invalid arguments" not in text, text  # the arguments were fine: upstream is to blame
        return
    structured = assert_valid_structured(result, env.schemas[tool])
    if tool == "list_sessions":
        assert len(structured["sessions"]) <= arguments.get("page_size", 20)
    if tool in ("list_companions", "list_agents"):
        assert len(structured[tool.removeprefix("list_")]) <= arguments.get("page_size", 20)
    if tool == "get_session_transcript":
        assert len(TURN_LINE.findall(text)) == len(structured["turns"]), text[:2_000]  # no forged turn


def check_cli(run: CliRun, *, json_output: bool = False) -> None:
    """A command succeeded (0), left sessions out (1, saying which) or failed (2) with one clear line."""
    assert_clean(run.stdout)
    assert_clean(run.stderr)
    assert run.status in (None, 0, 1, EXIT_FATAL), run
    if run.status == EXIT_FATAL:
        message = run.stderr.strip()
        assert_clear_message(message)
        assert message.startswith("session-mcp: ") and "\n" not in message, message
    elif json_output and run.status is None:
        strict_json(run.stdout)


def turn_count(wire: Any) -> int:
    """How many turns a session's JSON holds (or, cut to the budget, says it has): no rendering of
    it may show more turn lines."""
    cut = CUT_NOTE.search(str(wire.get("note", ""))) if isinstance(wire, dict) else None
    if cut:
        return int(cut.group(1))
    conversation = wire.get("conversation") if isinstance(wire, dict) else None
    return len((conversation or {}).get("items") or [])


def test_the_generated_calls_cover_every_tool_and_prompt(env: Env) -> None:
    assert {tool for tool, _ in TOOL_CALLS} == set(env.schemas), "a new tool: add a call of it to TOOL_CALLS"
    prompts = env.portal.call(env.mcp.list_prompts).prompts
    assert {prompt.name for prompt in prompts} == set(PROMPTS), "a new prompt: add it to PROMPTS"


@examples(40)
@given(listing=listing_answers, detail=detail_answers, connection=connection_answers, directory=directory_answers)
def test_every_tool_survives_any_upstream(
    env: Env, listing: Answer, detail: Answer, connection: Answer, directory: Answer
) -> None:
    env.install(listing, detail, connection, directory)
    for tool, arguments in TOOL_CALLS:
        check_tool(env, tool, arguments, env.call_tool(tool, arguments))
    env.next_call_is_normal()


@examples(30)
@given(listing=listing_answers, detail=detail_answers)
def test_resources_and_prompts_survive_any_upstream(env: Env, listing: Answer, detail: Answer) -> None:
    env.install(listing, detail)
    uri = f"napster://sessions/{TARGET}"
    turns: int | None = None  # of the session, once its JSON resource was read
    calls = [
        (env.mcp.list_resources,),
        (env.mcp.read_resource, uri),
        (env.mcp.read_resource, uri + "/transcript"),
        *((env.mcp.get_prompt, name, arguments) for name, arguments in PROMPTS.items()),
    ]
    for call, *arguments in calls:
        try:
            answer = env.portal.call(call, *arguments)
        except MCPError as exc:
            assert_clear_message(exc.error.message)
            continue
        texts = [assert_clean(text) for text in texts_of(answer)]
        if call == env.mcp.list_resources:
            assert len(answer.resources) <= RESOURCE_PAGE_SIZE
        elif arguments == [uri]:
            turns = turn_count(strict_json(texts[0]))
        elif turns is not None:
            assert all(len(TURN_LINE.findall(text)) <= turns for text in texts), "a forged turn line"
    env.next_call_is_normal()


def texts_of(answer: Any) -> list[str]:
    """The text of a resource read, a prompt or a resource listing."""
    if hasattr(answer, "contents"):
        return [block.text for block in answer.contents if isinstance(block, TextResourceContents)]
    if hasattr(answer, "messages"):
        return [message.content.text for message in answer.messages]
    return [f"{r.uri} {r.name} {r.title} {r.description}" for r in answer.resources]


@examples(15)
@given(listing=cli_listings, detail=cli_details, session_id=st.sampled_from([TARGET, NORMAL_IDS[0]]))
def test_the_session_commands_survive_any_upstream(env: Env, listing: Answer, detail: Answer, session_id: str) -> None:
    env.install(listing, detail)
    shown = run_cli("sessions", "show", session_id, "--json", base_url=env.base_url, key=KEY)
    check_cli(shown, json_output=True)
    table = run_cli("sessions", "show", session_id, base_url=env.base_url, key=KEY)
    check_cli(table)
    if shown.status is None:
        assert len(TURN_LINE.findall(table.stdout)) <= turn_count(strict_json(shown.stdout)), "a forged turn line"
    for extra in ([], ["--json"]):
        check_cli(run_cli("sessions", "list", *extra, base_url=env.base_url, key=KEY), json_output=bool(extra))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "export.jsonl"
        export = run_cli("sessions", "export", "--out", str(out), "--limit", "5", base_url=env.base_url, key=KEY)
        check_cli(export)
        if out.exists():
            for line in out.read_bytes().decode("utf-8").splitlines():  # strict UTF-8
                strict_json(line)
    env.next_call_is_normal()
