"""50 transcripts: one get_session_transcripts call vs 50 sequential get_session_transcript calls.

The MCP server runs in memory (``Client(build_server(...))``); its CompanionClient talks to a
Simulator served over real HTTP on 127.0.0.1 that adds 50 ms to every answer. Each variant gets a
fresh CompanionClient with a disabled session cache, so no variant is served from another's reads.
Each variant runs REPEATS times; the table shows medians. Bounded: about 200 tool calls, 120 s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from _common import ANCHOR, API_KEY, goal, median, print_table, serve_simulator
from mcp import Client

from session_mcp.companion.cache import SessionCache
from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server import build_server
from session_mcp.simulator import Simulator

COUNT = 50
LATENCY = 0.05
REPEATS = 3
DEADLINE_SECONDS = 120
GOAL_SPEEDUP = 8.0


@dataclass
class Run:
    seconds: float
    tool_calls: int
    upstream_requests: int
    chars: int
    transcripts: int


Variant = Callable[[Client, list[str]], Awaitable[tuple[int, int, int]]]


async def batch_by_ids(client: Client, ids: list[str]) -> tuple[int, int, int]:
    result = await client.call_tool("get_session_transcripts", {"session_ids": ids})
    assert not result.is_error, result.content
    data = result.structured_content or {}
    assert not data.get("failures"), data.get("failures")
    return 1, len(result.content[0].text), len(data["transcripts"])  # type: ignore[union-attr]


async def batch_by_limit(client: Client, ids: list[str]) -> tuple[int, int, int]:
    result = await client.call_tool("get_session_transcripts", {"limit": len(ids)})
    assert not result.is_error, result.content
    data = result.structured_content or {}
    return 1, len(result.content[0].text), len(data["transcripts"])  # type: ignore[union-attr]


async def sequential(client: Client, ids: list[str]) -> tuple[int, int, int]:
    chars = 0
    for session_id in ids:
        result = await client.call_tool("get_session_transcript", {"session_id": session_id})
        assert not result.is_error, result.content
        chars += len(result.content[0].text)  # type: ignore[union-attr]
    return len(ids), chars, len(ids)


async def run_variant(
    simulator: Simulator, base_url: str, ids: list[str], variant: Variant, concurrency: int = 8
) -> Run:
    """One timed run with a fresh, cache-less CompanionClient and a fresh in-memory MCP client."""
    settings = Settings(base_url=base_url, concurrency=concurrency)
    async with (
        CompanionClient(API_KEY, base_url, cache=SessionCache(max_entries=0)) as api,
        Client(build_server(api, settings), cache=None) as client,
    ):
        await client.list_tools()  # the handshake and schemas are not what is measured
        before = len(simulator.requests)
        started = time.perf_counter()
        calls, chars, transcripts = await variant(client, ids)
        elapsed = time.perf_counter() - started
        return Run(elapsed, calls, len(simulator.requests) - before, chars, transcripts)


async def measure(simulator: Simulator, base_url: str, ids: list[str]) -> dict[str, list[Run]]:
    variants: dict[str, tuple[Variant, int]] = {
        "batch, session_ids": (batch_by_ids, 8),
        "batch, limit=50": (batch_by_limit, 8),
        "sequential": (sequential, 8),
        "batch, session_ids, concurrency=16 (info)": (batch_by_ids, 16),
    }
    runs: dict[str, list[Run]] = {name: [] for name in variants}
    with anyio.fail_after(DEADLINE_SECONDS):
        for _ in range(REPEATS):
            for name, (variant, concurrency) in variants.items():
                runs[name].append(await run_variant(simulator, base_url, ids, variant, concurrency))
    return runs


def main() -> None:
    simulator = Simulator(api_keys={API_KEY: 7}, anchor=ANCHOR, latency=LATENCY)
    ids = [s["id"] for s in simulator.sessions_of(API_KEY) if s.get("status") == "closed"][:COUNT]
    assert len(ids) == COUNT
    with serve_simulator(simulator) as base_url:
        runs = anyio.run(measure, simulator, base_url, ids)
    sequential_time = median([r.seconds for r in runs["sequential"]])
    rows = []
    for name, variant_runs in runs.items():
        seconds = median([r.seconds for r in variant_runs])
        last = variant_runs[-1]
        rows.append(
            [
                name,
                f"{seconds:.3f} s",
                f"{sequential_time / seconds:.1f}x",
                last.tool_calls,
                last.upstream_requests,
                last.transcripts,
                f"{last.chars:,}",
            ]
        )
    print(f"{COUNT} transcripts, upstream latency {LATENCY * 1000:.0f} ms/request, median of {REPEATS} runs each")
    print_table(["variant", "wall time", "speedup", "MCP calls", "upstream reqs", "transcripts", "text chars"], rows)
    batch_time = median([r.seconds for r in runs["batch, session_ids"]])
    speedup = sequential_time / batch_time
    rounds = math.ceil(COUNT / 8)
    print(
        f"bound: concurrency 8 (SESSION_MCP_CONCURRENCY default) -> at least {rounds} upstream rounds x "
        f"{LATENCY * 1000:.0f} ms = {rounds * LATENCY * 1000:.0f} ms for the batch; sequential is at least "
        f"{COUNT} x {LATENCY * 1000:.0f} ms = {COUNT * LATENCY * 1000:.0f} ms -> ideal speedup {COUNT / rounds:.2f}x"
    )
    batch_over = batch_time - rounds * LATENCY
    sequential_over = sequential_time - COUNT * LATENCY
    print(
        f"overhead beyond upstream latency: batch {batch_over * 1000:.0f} ms, sequential "
        f"{sequential_over * 1000:.0f} ms ({sequential_over / COUNT * 1000:.1f} ms per call)"
    )
    goal(f"batch (session_ids) >= {GOAL_SPEEDUP:g}x faster than sequential", speedup >= GOAL_SPEEDUP, speedup)


if __name__ == "__main__":
    main()
