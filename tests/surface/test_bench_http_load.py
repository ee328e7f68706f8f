"""bench/http_load.py when connections are reset: a keep-alive race is retried and counted, a request that
gets no answer is one failed call, and the bench never crashes.

A TCP proxy on 127.0.0.1 stands between the bench's clients and the real MCP server (Streamable
HTTP under uvicorn in a thread, against the test's simulator) and resets chosen requests the way
uvicorn's keep-alive timer does under load: it closes the connection with the request unread, so
the client reads ECONNRESET before any answer.
"""

from __future__ import annotations

import socket
import struct
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream
from pydantic import SecretStr

from session_mcp.simulator import Simulator
from tests.helpers import ROOT, serve_mcp

sys.path.append(str(ROOT / "bench"))
import http_load  # a script of bench/, beside its _common.py

pytestmark = pytest.mark.anyio

POISON = "sess_0000000000000bad"  # a session id whose every request the proxy resets
Rule = Callable[[bytes, bool], bool]  # (bytes from the client, on a reused connection) -> reset now?


def reset(stream: SocketStream) -> None:
    """Close with SO_LINGER 0: the peer gets RST, as when a socket closes with data unread."""
    stream.extra(SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@asynccontextmanager
async def resetting_proxy(target: str, rule: Rule) -> AsyncIterator[str]:
    """A proxy for the ``/mcp`` URL ``target`` that resets a client connection when ``rule`` says so."""
    host_port = target.split("//", 1)[1].split("/", 1)[0]
    upstream_port = int(host_port.rsplit(":", 1)[1])
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(SocketAttribute.local_port)

    async def handle(client: SocketStream) -> None:
        answered = False  # bytes went back: the next request from the client reuses this connection
        async with client, await anyio.connect_tcp("127.0.0.1", upstream_port) as server:

            async def up() -> None:
                async for data in client:
                    if rule(data, answered):
                        reset(client)
                        break
                    await server.send(data)
                group.cancel_scope.cancel()

            async def down() -> None:
                nonlocal answered
                async for data in server:
                    answered = True
                    await client.send(data)
                group.cancel_scope.cancel()

            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                async with anyio.create_task_group() as group:
                    group.start_soon(up)
                    group.start_soon(down)

    async with listener, anyio.create_task_group() as serving:
        serving.start_soon(listener.serve, handle)
        yield f"http://127.0.0.1:{port}/mcp"
        serving.cancel_scope.cancel()


def first_reused_request() -> Rule:
    """Reset the first request sent on a reused connection, once: the keep-alive race."""
    done = False

    def rule(data: bytes, reused: bool) -> bool:
        nonlocal done
        hit = reused and not done
        done = done or hit
        return hit

    return rule


def poisoned(data: bytes, reused: bool) -> bool:
    return POISON.encode() in data


async def test_a_keep_alive_race_is_retried_and_counted(simulator: Simulator, base_url: str) -> None:
    ids = [s["id"] for s in simulator.sessions_of("demo")[:5]]
    with serve_mcp(base_url, api_key=SecretStr("demo"), read_only=True) as url:
        async with resetting_proxy(url, first_reused_request()) as proxied:
            tally = await http_load.load(proxied, ids, clients=2, calls=4)
    assert tally.retried_resets == 1
    assert tally.failures == {}
    assert len(tally.latencies) == 8


async def test_a_request_without_an_answer_is_one_failed_call(simulator: Simulator, base_url: str) -> None:
    ids = [POISON, *(s["id"] for s in simulator.sessions_of("demo")[:2])]
    with serve_mcp(base_url, api_key=SecretStr("demo"), read_only=True) as url:
        async with resetting_proxy(url, poisoned) as proxied:
            tally = await http_load.load(proxied, ids, clients=2, calls=6)
    # calls 0..11: the even ones read ids[n % 3], so calls 0 and 6 ask for the poisoned id
    assert tally.failures == {"MCPError": 2}
    assert tally.errors == 2
    assert len(tally.latencies) == 12  # every call is in the figures, none vanished with a crash
