"""Streamable HTTP under load: 500 concurrent tool calls from 25 clients against `session-mcp --transport http`.

Starts `session-mcp simulator` and `session-mcp --transport http` as real processes on 127.0.0.1,
then opens 25 MCP clients that each make 20 calls at once (list_sessions and
get_session_transcript, alternating). Prints throughput and latency percentiles; the goal is 0
errors. Bounded: 500 calls, 120 s at most.

Every call counts: one that fails, for any reason, is an error in the figures. Two things the
clients' HTTP transport (``Transport``) handles on purpose:

- **The keep-alive race.** The server (uvicorn) closes a connection idle for 5 s, and the
  client (httpx2) reuses one idle for less than 5 s by its own clock. Under load the server's
  timer can fire while the next request already waits unread on the socket; closing it resets
  the connection and the request fails with ``ReadError`` (connection reset) before any answer.
  The request never reached the server, so it is sent once more, and the retry is counted and
  printed. Only this case: a reused connection, no answer yet. Anything else fails the call.
- **One failed request fails one call.** The SDK's Streamable HTTP client sends each request in
  a task of its transport's task group and does not catch transport errors there (python-sdk
  #915): one ``ReadError`` cancels every call in flight on that client and re-raises from the
  client's exit, so the bench crashed and the other calls vanished from the figures. Here a
  POST that fails is answered with a JSON-RPC error for that one request, which the waiting
  call raises and the bench counts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from _common import goal, percentile, session_mcp_command, simulator_process, stop
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

CLIENTS = 25
CALLS_PER_CLIENT = 20
DEADLINE_SECONDS = 120
CONNECTION_FAILED = -32000  # a JSON-RPC server error code: the request got no answer


@dataclass
class Tally:
    """What the clients saw: one latency per call, the failed calls by reason, the retried resets."""

    latencies: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    retried_resets: int = 0

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1

    @property
    def errors(self) -> int:
        return sum(self.failures.values())


def reset_before_answer(exc: httpx2.TransportError) -> bool:
    """The connection was reset or closed before any response: what the keep-alive race looks like."""
    if isinstance(exc, httpx2.RemoteProtocolError):
        return "without sending a response" in str(exc)
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ConnectionResetError):
        cause = cause.__cause__ or cause.__context__  # httpx2 <- httpcore2 <- anyio <- the OSError
    return isinstance(exc, httpx2.ReadError) and cause is not None


class Attempt:
    """One try of a request: did it open a connection of its own, or reuse one from the pool?"""

    def __init__(self, request: httpx2.Request) -> None:
        self.connected = False
        request.extensions = {**request.extensions, "trace": self.trace}  # httpcore2 reports its steps here

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        self.connected = self.connected or event.startswith("connection.connect_tcp.")


class Transport(httpx2.AsyncBaseTransport):
    """httpx2's own transport, plus the two cases of the module docstring: a retried race, a failed POST."""

    def __init__(self, tally: Tally) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.tally = tally

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            attempt = Attempt(request)
            try:
                return await self.inner.handle_async_request(request)
            except httpx2.TransportError as exc:
                if attempt.connected or not reset_before_answer(exc):
                    raise
                self.tally.retried_resets += 1
                return await self.inner.handle_async_request(request)
        except httpx2.TransportError as exc:
            if request.method != "POST":
                raise  # the GET stream and the closing DELETE: the SDK catches their errors itself
            message = f"the request got no answer: {type(exc).__name__} {exc}".strip()
            error = {"jsonrpc": "2.0", "id": None, "error": {"code": CONNECTION_FAILED, "message": message}}
            return httpx2.Response(502, json=error, request=request)  # the SDK answers the request with it

    async def aclose(self) -> None:
        await self.inner.aclose()


async def load(url: str, session_ids: list[str], clients: int = CLIENTS, calls: int = CALLS_PER_CLIENT) -> Tally:
    """``clients`` MCP clients at once, each with ``calls`` tool calls at once; every call is tallied."""
    tally = Tally()

    async def one_client(number: int) -> None:
        async with (
            httpx2.AsyncClient(transport=Transport(tally), timeout=60) as http,
            Client(streamable_http_client(url, http_client=http), cache=None) as client,
            anyio.create_task_group() as group,
        ):
            for call in range(calls):
                group.start_soon(one_call, client, number * calls + call)

    async def one_call(client: Client, n: int) -> None:
        started = time.perf_counter()
        try:
            if n % 2:
                result = await client.call_tool("list_sessions", {"page_size": 20, "page_index": n % 10})
            else:
                result = await client.call_tool(
                    "get_session_transcript", {"session_id": session_ids[n % len(session_ids)]}
                )
            if result.is_error:
                tally.fail("tool error")
        except Exception as exc:  # any failure of the call is a failed call, counted by its kind
            tally.fail(type(exc).__name__)
        tally.latencies.append(time.perf_counter() - started)

    with anyio.fail_after(DEADLINE_SECONDS):
        async with anyio.create_task_group() as group:
            for number in range(clients):
                group.start_soon(one_client, number)
    return tally


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def main() -> None:
    mcp_port = free_port()
    with simulator_process() as base_url:
        env = {**os.environ, "NAPSTER_API_KEY": "demo", "NAPSTER_API_BASE_URL": base_url}
        server = subprocess.Popen(
            [session_mcp_command(), "--transport", "http", "--port", str(mcp_port), "--read-only"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(mcp_port, server)
            page = httpx2.get(f"{base_url}/public/sessions?pageSize=50", headers={"X-Api-Key": "demo"})
            ids = [item["id"] for item in page.json()["items"] if item.get("status") == "closed"]
            started = time.perf_counter()
            tally = anyio.run(load, f"http://127.0.0.1:{mcp_port}/mcp", ids)
            elapsed = time.perf_counter() - started
        finally:
            stop(server)
    calls = len(tally.latencies)
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(tally.failures.items()))
    print(f"{'calls':<22}{calls} ({CLIENTS} clients x {CALLS_PER_CLIENT} concurrent)")
    print(f"{'errors':<22}{tally.errors}{f' ({reasons})' if reasons else ''}")
    print(f"{'resets retried':<22}{tally.retried_resets} (keep-alive race: reused connection reset before an answer)")
    print(f"{'wall time':<22}{elapsed:.2f} s")
    print(f"{'throughput':<22}{calls / elapsed:.0f} calls/s")
    print(f"{'latency p50':<22}{percentile(tally.latencies, 0.5) * 1000:.0f} ms")
    print(f"{'latency p99':<22}{percentile(tally.latencies, 0.99) * 1000:.0f} ms")
    goal("0 errors", tally.errors == 0 and calls == CLIENTS * CALLS_PER_CLIENT, tally.errors)


if __name__ == "__main__":
    main()
