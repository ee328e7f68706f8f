"""Per-call latency of list_sessions (page_size 20) over stdio, against its floor.

session-mcp runs as a stdio child process (the venv's console script) against a
``session-mcp simulator`` child on a loopback port with no added latency. The floor is what no
MCP server over stdio could beat: the median of a hello-world MCPServer tool called the same way,
plus the median of the one HTTP GET list_sessions needs, made directly with httpx2. The three are
measured interleaved (one of each per round) after a warm-up. Bounded: 3 x 220 calls, 120 s.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable

import anyio
import httpx2
from _common import API_KEY, goal, hello_params, median, percentile, print_table, session_mcp_params, simulator_process
from mcp import Client

WARMUP = 20
CALLS = 200
PAGE_SIZE = 20
DEADLINE_SECONDS = 120
GOAL_RATIO = 1.2

Call = Callable[[], Awaitable[object]]


async def timed(call: Call) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def measure(base_url: str) -> dict[str, list[float]]:
    async with (
        httpx2.AsyncClient(base_url=base_url, headers={"X-Api-Key": API_KEY}, timeout=10) as http,
        Client(hello_params(), cache=None) as hello,
        Client(session_mcp_params(base_url), cache=None) as server,
    ):

        async def direct_get() -> None:
            response = await http.get("/public/sessions", params={"pageSize": PAGE_SIZE})
            response.raise_for_status()
            assert len(response.json()["items"]) == PAGE_SIZE

        async def hello_call() -> None:
            result = await hello.call_tool("hello", {"name": "bench"})
            assert not result.is_error

        async def list_call() -> None:
            result = await server.call_tool("list_sessions", {"page_size": PAGE_SIZE})
            assert not result.is_error, result.content
            assert len((result.structured_content or {})["sessions"]) == PAGE_SIZE

        calls: dict[str, Call] = {"list_sessions": list_call, "hello": hello_call, "http GET": direct_get}
        samples: dict[str, list[float]] = {name: [] for name in calls}
        with anyio.fail_after(DEADLINE_SECONDS):
            for round_number in range(WARMUP + CALLS):
                for name, call in calls.items():
                    elapsed = await timed(call)
                    if round_number >= WARMUP:
                        samples[name].append(elapsed)
            # Part of each call above, on the caller's side: the SDK Client re-validates every
            # structuredContent against the tool's outputSchema (jsonschema). Timed alone here.
            for name, client, tool, arguments in (
                ("list_sessions", server, "list_sessions", {"page_size": PAGE_SIZE}),
                ("hello", hello, "hello", {"name": "bench"}),
            ):
                check = functools.partial(
                    client.session.validate_tool_result, tool, await client.call_tool(tool, arguments)
                )
                samples[f"{name}: client schema check"] = [await timed(check) for _ in range(CALLS)]
        return samples


def main() -> None:
    with simulator_process() as base_url:
        samples = anyio.run(measure, base_url)
    medians = {name: median(values) for name, values in samples.items()}
    rows = [
        [
            name,
            len(values),
            f"{medians[name] * 1000:.2f}",
            f"{percentile(values, 0.9) * 1000:.2f}",
            f"{min(values) * 1000:.2f}",
        ]
        for name, values in samples.items()
    ]
    print(f"over stdio / loopback HTTP, {WARMUP} warm-up rounds, then {CALLS} calls each (interleaved);")
    print("the 'client schema check' rows time one part of the calls above on its own")
    print_table(["call", "n", "median ms", "p90 ms", "min ms"], rows)
    floor = medians["hello"] + medians["http GET"]
    ratio = medians["list_sessions"] / floor
    print(
        f"floor = hello median + http GET median = {medians['hello'] * 1000:.2f} + {medians['http GET'] * 1000:.2f}"
        f" = {floor * 1000:.2f} ms"
    )
    print(f"ratio = list_sessions median / floor = {medians['list_sessions'] * 1000:.2f} / {floor * 1000:.2f}"
          f" = {ratio:.2f}")  # fmt: skip
    check = medians["list_sessions: client schema check"] - medians["hello: client schema check"]
    print(
        f"info: the SDK Client's outputSchema check (jsonschema, in the caller) takes "
        f"{medians['list_sessions: client schema check'] * 1000:.2f} ms of each list_sessions call vs "
        f"{medians['hello: client schema check'] * 1000:.2f} ms for hello; without that difference the ratio "
        f"would be {(medians['list_sessions'] - check) / floor:.2f}"
    )
    goal(f"list_sessions median <= {GOAL_RATIO:g}x floor", ratio <= GOAL_RATIO, ratio)


if __name__ == "__main__":
    main()
