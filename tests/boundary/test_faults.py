"""The fault matrix: every upstream failure, seen through an MCP tool call.

Each row drives the server through the SDK's in-memory ``Client`` while the ``CompanionClient``
talks real HTTP to the simulator (or to a closed port). For every row the model must get an
``isError`` result whose text says what to do, with no traceback and no API key in it; the
number of upstream requests shows whether the failure was retried; and the same MCP session
answers the next call normally.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.simulator import Fault, Simulator, bind_loopback, serve_in_thread
from tests.helpers import FAST_RETRY, SwitchableApp, connect, simulator_of, text_of

pytestmark = pytest.mark.anyio

KEY = "sk-live-FAULT-KEY-0001"
WRONG_KEY = "sk-live-WRONG-KEY-0002"
MB = 1024 * 1024
HUGE = 50 * MB
UNKNOWN_ID = "sess_00000000deadbeef"


@dataclasses.dataclass(frozen=True)
class Row:
    """One condition of the matrix and what the model must see for it."""

    id: str
    tool: str = "list_sessions"
    faults: tuple[Fault, ...] = ()
    expect: tuple[str, ...] = ()  # substrings of the tool result text
    hint: str = "try again"  # the part that tells the model (or user) what to do
    requests: int = 1  # upstream requests recorded for the call: > 1 means it was retried
    retries: int | None = None  # retries the client logged; None: requests - 1
    succeeds: bool = False  # a transient fault that the retries absorb
    api_key: str = KEY
    unreachable: bool = False  # the client points at a closed port
    timeout: float = 5.0
    max_response_bytes: int = 32 * MB  # the shipped default (SESSION_MCP_MAX_RESPONSE_MB=32)
    min_seconds: float = 0.0  # the call must take at least this long (a Retry-After honoured)
    peak_memory_below: int | None = None  # tracemalloc peak growth during the call, in bytes


ROWS = [
    Row(
        "400-with-body",
        faults=(Fault(status=400, code="InvalidFilter"),),
        expect=("400", "InvalidFilter", "Injected fault 400"),
        hint="Check the arguments",
    ),
    Row("400-no-body", faults=(Fault(status=400, with_body=False),), expect=("400", "no reason given"), hint="Check"),
    Row("401-wrong-key", api_key=WRONG_KEY, expect=("401", "Unauthorized", "API key"), hint="Check NAPSTER_API_KEY"),
    Row(
        "403", faults=(Fault(status=403, code="Forbidden"),), expect=("403", "Forbidden"), hint="Check NAPSTER_API_KEY"
    ),
    Row(
        "404-unknown-id",
        tool="get_session_transcript",
        expect=(UNKNOWN_ID, "404"),
        hint="Call list_sessions",
    ),
    Row(
        "409",
        faults=(Fault(status=409, code="ConcurrentSessionLimitReached"),),
        expect=("409", "ConcurrentSessionLimitReached", "limit"),
        hint="try again",
    ),
    Row(
        "429-retry-after-then-ok",
        faults=(Fault(status=429, times=2, retry_after=0.02),),
        requests=3,
        succeeds=True,
        min_seconds=0.035,  # two waits of Retry-After 0.02 s, less clock slack
    ),
    Row(
        "429-retries-exhausted",
        faults=(Fault(status=429, times=10, retry_after=0.02),),
        expect=("429", "rate limiting"),
        hint="Wait 0.02 s",
        requests=4,
        min_seconds=0.055,
    ),
    Row(
        "429-retry-after-too-long",
        faults=(Fault(status=429, times=10, retry_after=30),),
        expect=("429",),
        hint="Wait 30 s",
        requests=1,
    ),
    Row("500", faults=(Fault(status=500, times=10),), expect=("500",), hint="try again", requests=1),
    Row("502-transient", faults=(Fault(status=502, times=2),), requests=3, succeeds=True),
    Row("502-persistent", faults=(Fault(status=502, times=10),), expect=("502",), hint="try again", requests=4),
    Row(
        "503-transient",
        tool="get_session_transcript",
        faults=(Fault(status=503, times=3),),
        requests=4,
        succeeds=True,
    ),
    Row(
        "503-persistent",
        tool="get_session_transcript",
        faults=(Fault(status=503, times=10),),
        expect=("503",),
        hint="try again",
        requests=4,
    ),
    Row(
        "read-timeout",
        faults=(Fault(kind="delay", seconds=2.0, times=10),),
        timeout=0.3,
        expect=("did not answer", "in time"),
        hint="try again",
        requests=4,
        min_seconds=1.1,  # four attempts of 0.3 s, less clock slack
    ),
    Row(
        "connection-refused",
        unreachable=True,
        expect=("Could not reach",),
        hint="Check the network",
        requests=0,  # nothing reaches the simulator...
        retries=3,  # ...but the client tried four times
    ),
    Row(
        "invalid-json",
        faults=(Fault(kind="malformed_json"),),
        expect=("not JSON",),
        hint="check it and try again",
    ),
    Row(
        "bad-schema-list",
        faults=(Fault(kind="bad_schema"),),
        expect=("does not fit the documented shape", "items"),
        hint="report it",
    ),
    Row(
        "bad-schema-session",
        tool="get_session_transcript",
        faults=(Fault(kind="bad_schema"),),
        expect=("does not fit the documented shape", "id:", "conversation"),
        hint="report it",
    ),
    Row(
        "50MB-declared-length",
        faults=(Fault(kind="huge_body", size=HUGE, declare_length=True),),
        expect=("over the 33,554,432-byte limit", "declares 52,428,813 bytes", "refused unread"),
        hint="raise SESSION_MCP_MAX_RESPONSE_MB",
        peak_memory_below=2 * MB,  # refused from the Content-Length alone: nothing read
    ),
    Row(
        "50MB-undeclared-length",
        faults=(Fault(kind="huge_body", size=HUGE, declare_length=False),),
        max_response_bytes=4 * MB,  # as SESSION_MCP_MAX_RESPONSE_MB=4 would set it
        expect=("over the 4,194,304-byte limit", "reading stopped"),
        hint="raise SESSION_MCP_MAX_RESPONSE_MB",
        peak_memory_below=10 * MB,  # bounded by the cap, not by the 50 MB body
    ),
]


@pytest.fixture
def simulator(upstream: tuple[SwitchableApp, str]) -> Simulator:
    """A simulator that accepts only the recognisable key, installed behind the HTTP server."""
    sim = simulator_of({KEY: 7})
    upstream[0].simulator = sim
    return sim


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed): connections are refused."""
    sock = bind_loopback()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@contextmanager
def serve_on(port: int, app: SwitchableApp) -> Iterator[None]:
    """The simulator served on ``port`` from now on (the API coming back up)."""
    with serve_in_thread(app, port=port):
        yield


@asynccontextmanager
async def mcp_for(row: Row, base_url: str) -> AsyncIterator[Client]:
    async with (
        CompanionClient(
            row.api_key,
            base_url,
            retry=FAST_RETRY,
            timeout=row.timeout,
            max_response_bytes=row.max_response_bytes,
        ) as companion,
        connect(companion) as mcp,
    ):
        yield mcp


def assert_clean(text: str, tool: str) -> None:
    """Readable, no internals, no secrets, more than the SDK's bare crash message."""
    assert "Traceback" not in text and 'File "' not in text, text
    assert KEY not in text and WRONG_KEY not in text, text
    assert text.strip() != f"Error executing tool {tool}", "a crash, not a handled error"


async def follow_up_is_normal(mcp: Client, simulator: Simulator) -> None:
    """The same MCP session answers an ordinary call correctly."""
    result = await mcp.call_tool("list_sessions", {"page_size": 5})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    shown = [row["id"] for row in result.structured_content["sessions"]]
    assert shown == [s["id"] for s in simulator.sessions_of(KEY)[:5]]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_fault_row(
    row: Row, simulator: Simulator, upstream: tuple[SwitchableApp, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="session_mcp.companion.http")
    port = closed_port() if row.unreachable else None
    base_url = f"http://127.0.0.1:{port}" if port is not None else upstream[1]
    args: dict[str, Any] = {}
    if row.tool == "get_session_transcript":
        args["session_id"] = UNKNOWN_ID if UNKNOWN_ID in row.expect else simulator.sessions_of(KEY)[0]["id"]
    for fault in row.faults:
        simulator.inject(dataclasses.replace(fault))  # a fresh copy: faults count down as they fire

    async with mcp_for(row, base_url) as mcp:
        if row.peak_memory_below is not None:
            tracemalloc.start()
            baseline = tracemalloc.get_traced_memory()[0]
        started = time.monotonic()
        try:
            result = await mcp.call_tool(row.tool, args)
        finally:
            elapsed = time.monotonic() - started
            if row.peak_memory_below is not None:
                peak = tracemalloc.get_traced_memory()[1] - baseline
                tracemalloc.stop()
        text = text_of(result)
        print(f"\n{row.id}: {len(simulator.requests)} request(s), {elapsed:.2f} s: {text.splitlines()[0][:400]}")

        assert len(simulator.requests) == row.requests, [r.raw_path for r in simulator.requests]
        retries = [
            r.getMessage()
            for r in caplog.records
            if r.name == "session_mcp.companion.http" and "; retry " in r.getMessage()
        ]
        assert len(retries) == (row.retries if row.retries is not None else max(row.requests - 1, 0)), retries
        assert elapsed >= row.min_seconds
        if row.succeeds:
            assert not result.is_error, text
            assert result.structured_content is not None
        else:
            assert result.is_error, text
            assert_clean(text, row.tool)
            for part in row.expect:
                assert part in text, (part, text)
            assert row.hint in text, (row.hint, text)
        if row.peak_memory_below is not None:
            print(f"{row.id}: peak memory growth {peak / MB:.1f} MB")
            assert peak < row.peak_memory_below, f"read {peak:,} bytes into memory"

        # The API recovers (faults gone, key fixed, port open): the same session works normally.
        simulator.faults.clear()
        if row.api_key != KEY:
            simulator.projects[row.api_key] = simulator.projects[KEY]
        if port is not None:
            with serve_on(port, upstream[0]):
                await follow_up_is_normal(mcp, simulator)
        else:
            await follow_up_is_normal(mcp, simulator)
