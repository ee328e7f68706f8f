"""Secrets: the API key appears in no output and no log; a connection token only where it was asked for.

A recognisable key is configured, a representative set of calls is made (every tool, both
resources, resources/list, both prompts, completions, and failing calls: 401, 404, 500, timeouts,
invalid JSON, a crash), and everything that comes back or gets logged is scanned: tool text and
structured content, resource and prompt text, completion values, error messages and data, and every
log record of every logger at DEBUG, formatted with its traceback. The same is done for the stdio
server run as a subprocess, whose stderr must show the X-Api-Key header only redacted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, PromptReference, ResourceTemplateReference

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.simulator import Fault, Simulator
from tests.helpers import FAST_RETRY, SwitchableApp, connect, script, simulator_of

pytestmark = pytest.mark.anyio

CANARY = "sk-live-CANARY-7f3a9"
REDACTED = "**********"

TRANSCRIPT = "napster://sessions/{session_id}/transcript"


@pytest.fixture
def simulator(upstream: tuple[SwitchableApp, str]) -> Simulator:
    sim = simulator_of({CANARY: 7})
    upstream[0].simulator = sim
    return sim


class FormattedRecords(logging.Handler):
    """Every record as a handler would write it: message, arguments and traceback included."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # format() appends exc_info and stack_info


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[FormattedRecords]:
    """DEBUG for every logger, captured by caplog and by a formatting handler on each of them."""
    handler = FormattedRecords()
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level in saved:
            logger.setLevel(level)
            logger.removeHandler(handler)


@dataclasses.dataclass
class Seen:
    """Every piece of text the calls produced, labelled by where it came from."""

    texts: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    token: str | None = None

    def add(self, where: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        self.texts.append((where, text))

    def tool(self, where: str, result: CallToolResult) -> CallToolResult:
        for block in result.content:
            self.add(f"{where} text", getattr(block, "text", block.model_dump()))
        if result.structured_content is not None:
            self.add(f"{where} structured", result.structured_content)
        return result

    async def expect_error(self, where: str, call: Awaitable[Any]) -> MCPError:
        with pytest.raises(MCPError) as caught:
            await call
        self.add(f"{where} error", f"{caught.value} {caught.value.error.message} {caught.value.error.data}")
        self.add(f"{where} repr", repr(caught.value))
        return caught.value


def leaks(seen: Seen, log_lines: list[str], secret: str, allowed: Callable[[str], bool]) -> list[str]:
    places = [where for where, text in seen.texts if secret in text and not allowed(where)]
    places += [f"log: {line[:120]}" for line in log_lines if secret in line]
    return places


@asynccontextmanager
async def mcp_for(base_url: str, mode: str, **options: Any) -> AsyncIterator[Client]:
    async with (
        CompanionClient(CANARY, base_url, retry=FAST_RETRY, **options) as companion,
        connect(companion, mode=mode) as mcp,
    ):
        yield mcp


async def exercise(mcp: Client, slow: Client, simulator: Simulator, seen: Seen) -> None:
    """Every tool, resource, prompt and completion, then the failures."""
    ids = [s["id"] for s in simulator.sessions_of(CANARY)]
    closed = next(s["id"] for s in simulator.sessions_of(CANARY) if s.get("status") == "closed")

    # -- successes --
    seen.add("tools/list", [t.model_dump() for t in (await mcp.list_tools()).tools])
    for name, args in [
        ("list_sessions", {"page_size": 5}),
        ("get_session_transcript", {"session_id": closed}),
        ("get_session_transcripts", {"session_ids": ids[:3]}),
        ("session_stats", {"limit": 10}),
    ]:
        result = seen.tool(name, await mcp.call_tool(name, args))
        assert not result.is_error, result.content
    created = seen.tool(
        "create_connection",
        await mcp.call_tool("create_connection", {"companion_id": "comp_support", "voice_id": "alloy"}),
    )
    assert not created.is_error, created.content
    seen.token = created.structured_content["token"]
    assert seen.token and len(seen.token) > 20
    for uri in (TRANSCRIPT.format(session_id=closed), f"napster://sessions/{ids[1]}"):
        seen.add(f"read {uri}", [c.model_dump() for c in (await mcp.read_resource(uri)).contents])
    seen.add("resources/list", (await mcp.list_resources()).model_dump())
    seen.add("resources/templates/list", (await mcp.list_resource_templates()).model_dump())
    seen.add("prompts/list", (await mcp.list_prompts()).model_dump())
    seen.add("prompt summarize", (await mcp.get_prompt("summarize_sessions", {"count": "5"})).model_dump())
    seen.add("prompt qa", (await mcp.get_prompt("qa_review_transcript", {"session_id": closed})).model_dump())
    template = ResourceTemplateReference(type="ref/resource", uri=TRANSCRIPT)
    seen.add(
        "complete session_id", (await mcp.complete(template, {"name": "session_id", "value": "sess_"})).model_dump()
    )
    prompt = PromptReference(type="ref/prompt", name="summarize_sessions")
    seen.add("complete companion_id", (await mcp.complete(prompt, {"name": "companion_id", "value": "c"})).model_dump())

    # -- failures --
    project = simulator.projects.pop(CANARY)  # the key is revoked upstream: 401
    assert seen.tool("401", await mcp.call_tool("list_sessions", {})).is_error
    await seen.expect_error("401 resource", mcp.read_resource(TRANSCRIPT.format(session_id=ids[0])))
    simulator.projects[CANARY] = project
    assert seen.tool("404", await mcp.call_tool("get_session_transcript", {"session_id": "sess_0000dead"})).is_error
    await seen.expect_error("404 resource", mcp.read_resource("napster://sessions/sess_0000dead"))
    await seen.expect_error("404 prompt", mcp.get_prompt("qa_review_transcript", {"session_id": "sess_0000dead"}))
    simulator.inject(Fault(status=500, times=2))
    assert seen.tool("500", await mcp.call_tool("list_sessions", {})).is_error
    await seen.expect_error("500 resources/list", mcp.list_resources())
    simulator.inject(Fault(kind="malformed_json"))
    assert seen.tool("invalid json", await mcp.call_tool("get_session_transcript", {"session_id": ids[5]})).is_error
    simulator.inject(Fault(kind="bad_schema"))
    assert seen.tool("bad schema", await mcp.call_tool("list_sessions", {})).is_error
    simulator.inject(Fault(kind="delay", seconds=1.0, times=4))
    assert seen.tool("timeout", await slow.call_tool("list_sessions", {})).is_error
    simulator.faults.clear()
    again = {"companion_id": "comp_support", "voice_id": "alloy"}
    assert seen.tool("create_connection again", await mcp.call_tool("create_connection", again)).is_error
    assert seen.tool("key as id", await mcp.call_tool("get_session_transcript", {"session_id": CANARY})).is_error
    assert seen.tool("bad arguments", await mcp.call_tool("list_sessions", {"page_size": "many", "x": 1})).is_error
    assert seen.tool("overlong filter", await mcp.call_tool("list_sessions", {"search": "x" * 70_000})).is_error


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_no_secret_in_results_errors_or_logs(
    mode: str, simulator: Simulator, base_url: str, logs: FormattedRecords, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Seen()
    async with mcp_for(base_url, mode, timeout=5) as mcp, mcp_for(base_url, mode, timeout=0.2) as slow:
        await exercise(mcp, slow, simulator, seen)
    assert seen.token is not None
    assert all(r.api_key == CANARY for r in simulator.requests), "the key does reach upstream, in its header"

    log_lines = logs.lines + [f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any(REDACTED in line and "x-api-key" in line.lower() for line in log_lines), "the request log ran"
    assert not any("Traceback" in line for line in logs.lines), "no call may crash the server"
    key_leaks = leaks(seen, log_lines, CANARY, allowed=lambda where: False)
    token_leaks = leaks(seen, log_lines, seen.token, allowed=lambda where: where.startswith("create_connection "))
    print(f"\n[{mode}] scanned {len(seen.texts)} outputs and {len(log_lines)} log lines: "
          f"{len(key_leaks)} key hits, {len(token_leaks)} token hits outside create_connection")  # fmt: skip
    assert key_leaks == []
    assert token_leaks == []
    assert any(seen.token in text for where, text in seen.texts if where == "create_connection text")
    assert any(seen.token in text for where, text in seen.texts if where == "create_connection structured")


def test_reprs_hide_the_key() -> None:
    client = CompanionClient(CANARY, "http://127.0.0.1:9")
    settings = Settings(api_key=client._http._api_key)
    for text in (repr(client), str(client), repr(settings), str(settings), repr(client._http._api_key)):
        assert CANARY not in text


async def test_stdio_server_stderr_never_shows_the_key(simulator: Simulator, base_url: str, tmp_path: Path) -> None:
    """The real command over stdio with DEBUG logs: the key header is logged, and only redacted."""
    params = StdioServerParameters(
        command=script(),
        env={
            "NAPSTER_API_BASE_URL": base_url,
            "NAPSTER_API_KEY": CANARY,
            "SESSION_MCP_LOG_LEVEL": "DEBUG",
            "XDG_DATA_HOME": str(tmp_path),  # its session store in the test's folder, not the user's
        },
    )
    closed = next(s["id"] for s in simulator.sessions_of(CANARY) if s.get("status") == "closed")
    outputs: list[str] = []
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), cache=None) as mcp:
            for name, args in [
                ("list_sessions", {"page_size": 3}),
                ("get_session_transcript", {"session_id": closed}),
                ("create_connection", {"companion_id": "comp_support", "voice_id": "alloy"}),
                ("get_session_transcript", {"session_id": "sess_0000dead"}),
                ("get_session_transcript", {"session_id": CANARY}),
            ]:
                result = await mcp.call_tool(name, args)
                outputs.append(json.dumps([result.model_dump(mode="json")]))
            simulator.inject(Fault(status=500))
            assert (await mcp.call_tool("list_sessions", {})).is_error
            simulator.inject(Fault(kind="malformed_json"))
            assert (await mcp.call_tool("list_sessions", {})).is_error
            resource = await mcp.read_resource(TRANSCRIPT.format(session_id=closed))
            outputs.append(json.dumps(resource.model_dump(mode="json")))
        errlog.seek(0)
        stderr = errlog.read()

    token = json.loads(outputs[2])[0]["structured_content"]["token"]
    assert any(r.api_key == CANARY for r in simulator.requests), "the subprocess reached the simulator with the key"
    header_lines = [line for line in stderr.splitlines() if "x-api-key" in line.lower()]
    print(f"\nstdio stderr: {len(stderr.splitlines())} lines, {len(header_lines)} with the key header")
    assert header_lines, stderr[-2_000:]
    assert all(re.search(r"'x-api-key': '\*{10}'", line, re.IGNORECASE) for line in header_lines), header_lines[:3]
    assert CANARY not in stderr
    assert token not in stderr
    assert CANARY not in "".join(outputs)
    assert sum(token in output for output in outputs) == 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_batch_does_not_echo_the_key(mode: str, simulator: Simulator, base_url: str) -> None:
    async with mcp_for(base_url, mode, timeout=5) as mcp:
        single = await mcp.call_tool("get_session_transcript", {"session_id": CANARY})
        batch = await mcp.call_tool("get_session_transcripts", {"session_ids": [CANARY, "x" + CANARY]})
    assert single.is_error and CANARY not in single.content[0].text  # type: ignore[union-attr]
    assert not batch.is_error
    assert CANARY not in batch.content[0].text  # type: ignore[union-attr]
    assert CANARY not in json.dumps(batch.structured_content)


@pytest.mark.parametrize("args", [{"search": CANARY}, {"tags": {"note": CANARY}}], ids=["search", "tags"])
async def test_key_given_as_a_filter_is_refused_and_never_logged(
    args: dict[str, Any], simulator: Simulator, base_url: str, logs: FormattedRecords
) -> None:
    """A filter holding the key would travel in the URL (logged by us, proxies and upstream): refused."""
    async with mcp_for(base_url, "auto", timeout=5) as mcp:
        result = await mcp.call_tool("list_sessions", args)
    assert result.is_error
    assert CANARY not in result.content[0].text  # type: ignore[union-attr]
    assert not simulator.requests
    assert not [line for line in logs.lines if CANARY in line]
