"""The task "summarize yesterday's sessions" on the demo data: this server against the anchor way.

This server: one ``session_stats(since='yesterday')`` call for the figures, then one
``get_session_transcripts(since='yesterday')`` call (whole sessions while the budget holds, digest
lines for the rest), or the same with ``detail='digest'``. The anchor way, as a server without time
windows makes a model do it: ``list_sessions`` pages (20 a page, the default) until a page reaches
past yesterday, then one ``get_session_transcript`` call per session of yesterday, picked by eye.

The MCP server runs in memory (``Client(build_server(...))``) with its clock at the data's anchor;
its CompanionClient talks to a Simulator served over real HTTP on 127.0.0.1 that adds 50 ms to every
answer. Each run has a fresh client and session cache, as one task of a newly started server. Two
days: the anchor of the tests (a Monday, so yesterday is a quiet Sunday) and a Friday (yesterday a
busy Thursday). Each variant runs REPEATS times; the table shows the median wall time. Bounded:
about 150 tool calls, 120 s.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from _common import ANCHOR, API_KEY, goal, median, print_table, serve_simulator
from mcp import Client

from session_mcp.companion.cache import SessionCache
from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server import build_server
from session_mcp.simulator import Simulator

LATENCY = 0.05
REPEATS = 3
DEADLINE_SECONDS = 120
PAGE_SIZE = 20  # list_sessions' default: what a model asks for when nothing says otherwise
DAYS = {"Monday (yesterday: Sunday)": ANCHOR, "Friday (yesterday: Thursday)": ANCHOR - 3 * 86_400}


@dataclass
class Run:
    seconds: float
    tool_calls: int
    upstream_requests: int
    chars: int
    sessions: int  # of yesterday's, how many the model saw (whole, as a digest line or in a transcript)


Variant = Callable[[Client, datetime], Awaitable[tuple[int, int, int]]]


def text_of(result: object) -> str:
    assert not getattr(result, "is_error", True), result
    return result.content[0].text  # type: ignore[attr-defined, no-any-return]


async def this_server(client: Client, _: datetime, detail: str = "full") -> tuple[int, int, int]:
    stats = text_of(await client.call_tool("session_stats", {"since": "yesterday"}))
    arguments = {"since": "yesterday"} | ({"detail": detail} if detail != "full" else {})
    batch = await client.call_tool("get_session_transcripts", arguments)
    data = batch.structured_content or {}
    seen = len(data["transcripts"]) + len(data["digests"])
    return 2, len(stats) + len(text_of(batch)), seen


async def this_server_digest(client: Client, now: datetime) -> tuple[int, int, int]:
    return await this_server(client, now, "digest")


async def anchor_way(client: Client, now: datetime) -> tuple[int, int, int]:
    """List pages until one reaches past yesterday, then read yesterday's sessions one by one."""
    start = datetime.combine(now.date(), datetime.min.time(), UTC) - timedelta(days=1)
    end = start + timedelta(days=1)
    calls = chars = 0
    yesterday: list[str] = []
    page_index = 0
    while True:
        result = await client.call_tool("list_sessions", {"page_size": PAGE_SIZE, "page_index": page_index})
        calls += 1
        chars += len(text_of(result))
        rows = (result.structured_content or {})["sessions"]
        for row in rows:
            moment = datetime.fromisoformat(row.get("started_at") or row["created_at"])
            if start <= moment < end:
                yesterday.append(row["id"])
        oldest = min(datetime.fromisoformat(r.get("started_at") or r["created_at"]) for r in rows)
        if oldest < start or not (result.structured_content or {})["has_more"]:
            break
        page_index += 1
    for session_id in yesterday:
        chars += len(text_of(await client.call_tool("get_session_transcript", {"session_id": session_id})))
        calls += 1
    return calls, chars, len(yesterday)


async def run_variant(simulator: Simulator, base_url: str, now: datetime, variant: Variant) -> Run:
    """One timed run with a fresh CompanionClient (and session cache) and a fresh in-memory MCP client."""
    async with (
        CompanionClient(API_KEY, base_url, cache=SessionCache()) as api,
        Client(build_server(api, Settings(base_url=base_url), clock=lambda: now), cache=None) as client,
    ):
        await client.list_tools()  # the handshake and schemas are not what is measured
        before = len(simulator.requests)
        started = time.perf_counter()
        calls, chars, sessions = await variant(client, now)
        elapsed = time.perf_counter() - started
        return Run(elapsed, calls, len(simulator.requests) - before, chars, sessions)


VARIANTS: dict[str, Variant] = {
    "this server: stats + one batch": this_server,
    "this server: stats + one digest call": this_server_digest,
    "anchor way: list pages + one call per session": anchor_way,
}


async def measure_day(anchor: int) -> tuple[dict[str, list[Run]], int]:
    simulator = Simulator(api_keys={API_KEY: 7}, anchor=anchor, latency=LATENCY)
    now = datetime.fromtimestamp(anchor, UTC)
    start = datetime.combine(now.date(), datetime.min.time(), UTC) - timedelta(days=1)
    expected = sum(
        1
        for s in simulator.sessions_of(API_KEY)
        if start <= datetime.fromtimestamp(s.get("startedAt") or s["createdAt"], UTC) < start + timedelta(days=1)
    )
    runs: dict[str, list[Run]] = {name: [] for name in VARIANTS}
    with serve_simulator(simulator) as base_url:
        for _ in range(REPEATS):
            for name, variant in VARIANTS.items():
                runs[name].append(await run_variant(simulator, base_url, now, variant))
    return runs, expected


async def measure() -> dict[str, tuple[dict[str, list[Run]], int]]:
    with anyio.fail_after(DEADLINE_SECONDS):
        return {day: await measure_day(anchor) for day, anchor in DAYS.items()}


def main() -> None:
    results = anyio.run(measure)
    print(f"'Summarize yesterday's sessions' on the demo data, upstream latency {LATENCY * 1000:.0f} ms/request,")
    print(f"median wall time of {REPEATS} runs each; characters are the text the model reads.")
    fewer = True
    speedup = 0.0
    for day, (runs, expected) in results.items():
        print(f"\n{day}: {expected} sessions yesterday")
        anchor_runs = runs["anchor way: list pages + one call per session"]
        anchor_time = median([r.seconds for r in anchor_runs])
        rows = []
        for name, variant_runs in runs.items():
            seconds = median([r.seconds for r in variant_runs])
            last = variant_runs[-1]
            assert last.sessions == expected, (name, last.sessions, expected)
            rows.append(
                [
                    name,
                    last.tool_calls,
                    last.upstream_requests,
                    f"{seconds:.3f} s",
                    f"{anchor_time / seconds:.1f}x",
                    f"{last.chars:,}",
                    f"{last.sessions}/{expected}",
                ]
            )
        print_table(["variant", "MCP calls", "upstream reqs", "wall time", "speedup", "chars read", "sessions"], rows)
        ours = runs["this server: stats + one batch"][-1]
        fewer = fewer and ours.tool_calls < anchor_runs[-1].tool_calls and ours.chars < anchor_runs[-1].chars
        speedup = anchor_time / median([r.seconds for r in runs["this server: stats + one batch"]])  # the busy day
    print(
        "\nthis server's two calls carry the figures (per companion, failures and why, cost, tool failures) that "
        "the anchor way leaves the model to work out from the rows it read."
    )
    goal(
        "fewer MCP calls and chars on both days, and faster on the busy day (stats + one batch)",
        fewer and speedup > 1,
        speedup,
    )


if __name__ == "__main__":
    main()
