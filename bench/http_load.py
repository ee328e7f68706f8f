"""Streamable HTTP under load: 500 concurrent tool calls from 25 clients against `session-mcp --transport http`.

Starts `session-mcp simulator` and `session-mcp --transport http` as real processes on 127.0.0.1,
then opens 25 MCP clients that each make 20 calls at once (list_sessions and
get_session_transcript, alternating). Prints throughput and latency percentiles; the goal is 0
errors. Bounded: 500 calls, 120 s at most.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

CLIENTS = 25
CALLS_PER_CLIENT = 20
DEADLINE_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command() -> str:
    return shutil.which("session-mcp") or str(Path(sys.executable).parent / "session-mcp")


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until something listens on the port (bounded), or the process died."""
    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit(f"process exited early with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


async def load(url: str, session_ids: list[str]) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0

    async def one_client(number: int) -> None:
        http = httpx2.AsyncClient(timeout=60)
        async with (
            Client(streamable_http_client(url, http_client=http), cache=None) as client,
            anyio.create_task_group() as group,
        ):
            for call in range(CALLS_PER_CLIENT):
                group.start_soon(one_call, client, number * CALLS_PER_CLIENT + call)

    async def one_call(client: Client, n: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            if n % 2:
                result = await client.call_tool("list_sessions", {"page_size": 20, "page_index": n % 10})
            else:
                result = await client.call_tool(
                    "get_session_transcript", {"session_id": session_ids[n % len(session_ids)]}
                )
            errors += bool(result.is_error)
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with anyio.fail_after(DEADLINE_SECONDS):
        async with anyio.create_task_group() as group:
            for number in range(CLIENTS):
                group.start_soon(one_client, number)
    return latencies, errors, time.perf_counter() - started


def main() -> None:
    sim_port, mcp_port = free_port(), free_port()
    env = {**os.environ, "NAPSTER_API_KEY": "demo", "NAPSTER_API_BASE_URL": f"http://127.0.0.1:{sim_port}"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    simulator = subprocess.Popen([command(), "simulator", "--port", str(sim_port)], **quiet)  # type: ignore[call-overload]
    server = subprocess.Popen(  # type: ignore[call-overload]
        [command(), "--transport", "http", "--port", str(mcp_port), "--read-only"], env=env, **quiet
    )
    try:
        wait_for_port(sim_port, simulator)
        wait_for_port(mcp_port, server)
        page = httpx2.get(f"http://127.0.0.1:{sim_port}/public/sessions?pageSize=50", headers={"X-Api-Key": "demo"})
        ids = [item["id"] for item in page.json()["items"] if item.get("status") == "closed"]
        latencies, errors, elapsed = anyio.run(load, f"http://127.0.0.1:{mcp_port}/mcp", ids)
    finally:
        for process in (server, simulator):
            process.terminate()
            process.wait(timeout=10)
    ordered = sorted(latencies)
    calls = len(latencies)
    print(f"{'calls':<22}{calls} ({CLIENTS} clients x {CALLS_PER_CLIENT} concurrent)")
    print(f"{'errors':<22}{errors}")
    print(f"{'wall time':<22}{elapsed:.2f} s")
    print(f"{'throughput':<22}{calls / elapsed:.0f} calls/s")
    print(f"{'latency p50':<22}{statistics.median(ordered) * 1000:.0f} ms")
    print(f"{'latency p99':<22}{ordered[min(calls - 1, int(0.99 * calls))] * 1000:.0f} ms")
    print(f"goal: 0 errors -> {'MET' if errors == 0 and calls == CLIENTS * CALLS_PER_CLIENT else 'NOT MET'}")


if __name__ == "__main__":
    main()
