"""The HTTP server bounds its own sockets: read deadlines, a connection limit, a port in use refused.

Attackers here are raw sockets on 127.0.0.1 against the server as ``--transport http`` builds it
(``transport.http_server``), or the real command in a subprocess. Each waits on an event (the
server closing, a line on stderr, the process ending), never on a sleep.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx2
import pytest
from pydantic import SecretStr

from session_mcp.cli.main import build_parser
from session_mcp.server.transport import KEEP_ALIVE_SECONDS
from tests.helpers import clean_environment, serve_mcp

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bounds", "version": "1"}},
}
# The old server never closed these: a wait this long means "not closed" (a bound, not a sleep).
PATIENCE = 15.0


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def seconds_until_closed(port: int, opening: bytes, trickle: bytes = b"", answered: bytes = b"") -> float:
    """Send ``opening``, then ``trickle`` a byte per 0.2 s; seconds until the server closes the socket.

    ``answered``: a request sent (and its answer read) first, on the same connection kept alive.
    What the server sends meanwhile is read and dropped; ``PATIENCE`` seconds without a close fail.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as sock:
        if answered:
            sock.sendall(answered)
            assert sock.recv(65_536).startswith(b"HTTP/1.1 ")
        started = time.monotonic()
        sock.sendall(opening)
        rest = iter(trickle)
        while time.monotonic() - started < PATIENCE:
            readable, _, _ = select.select([sock], [], [], 0.2)  # the attacker's pace, ended early by a close
            if readable:
                try:
                    if not sock.recv(65_536):
                        return time.monotonic() - started
                except ConnectionResetError:
                    return time.monotonic() - started
            elif (byte := next(rest, None)) is not None:
                try:
                    sock.sendall(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    return time.monotonic() - started
    pytest.fail(f"the server kept the connection open for {PATIENCE:g} s")


def test_headers_that_never_end_are_cut_off(base_url: str) -> None:
    """Slowloris: nothing at all, a header left open, or one a byte at a time: closed at the deadline."""
    with serve_mcp(base_url, api_key=SecretStr("demo"), header_timeout=1) as url:
        port = port_of(url)
        host = f"Host: 127.0.0.1:{port}\r\n".encode()
        silent = seconds_until_closed(port, b"")
        partial = seconds_until_closed(port, b"POST /mcp HTTP/1.1\r\n" + host + b"X-Slow: ")
        trickled = seconds_until_closed(port, b"POST /mcp HTTP/1.1\r\n", trickle=b"X-Slow: " + b"a" * 200)
        # A connection kept alive after an answer: the same deadline for its next request's headers.
        again = seconds_until_closed(
            port, b"POST /mcp HTTP/1.1\r\n", trickle=b"X" * 200, answered=b"GET / HTTP/1.1\r\n" + host + b"\r\n"
        )
    print(f"\nheaders cut off after {silent:.2f} / {partial:.2f} / {trickled:.2f} / {again:.2f} s (deadline 1 s)")
    for seconds in (silent, partial, trickled, again):
        assert 0.9 < seconds < 4, seconds


def test_a_body_that_never_ends_is_cut_off(base_url: str) -> None:
    with serve_mcp(base_url, api_key=SecretStr("demo"), body_timeout=1) as url:
        port = port_of(url)
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json, text/event-stream\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        ).encode()
        stalled = seconds_until_closed(port, head + b'{"jsonrpc": ')
        trickled = seconds_until_closed(port, head, trickle=b" " * 1000)
    print(f"\nbody cut off after {stalled:.2f} / {trickled:.2f} s (deadline 1 s)")
    for seconds in (stalled, trickled):
        assert 0.9 < seconds < 4, seconds


@contextmanager
def held_connections(port: int, count: int) -> Iterator[None]:
    """``count`` keep-alive connections the server has answered once, so it counts them as open."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        for sock in sockets:
            sock.sendall(f"GET /nothing HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert sock.recv(65_536).startswith(b"HTTP/1.1 ")
        yield
    finally:
        for sock in sockets:
            sock.close()


def test_connections_beyond_the_limit_get_503(base_url: str) -> None:
    with serve_mcp(base_url, api_key=SecretStr("demo"), max_connections=3) as url:
        with held_connections(port_of(url), 2), httpx2.Client(timeout=10) as client:  # the third is within the limit
            served = client.post(url, json=INITIALIZE, headers=MCP_HEADERS)
        with held_connections(port_of(url), 3), httpx2.Client(timeout=10) as client:
            refused = client.post(url, json=INITIALIZE, headers=MCP_HEADERS)
    assert served.status_code == 200
    assert refused.status_code == 503


def session_mcp(*args: str) -> list[str]:
    return [sys.executable, "-m", "session_mcp", *args]


def test_a_port_in_use_is_one_line_and_exit_2_at_once() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            session_mcp("--demo", "--transport", "http", "--port", str(port)),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_environment(),
        )
        seconds = time.monotonic() - started
    print(f"\nport in use: exit {done.returncode} after {seconds:.2f} s: {done.stderr.strip()}")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"session-mcp: cannot listen on 127.0.0.1:{port}: ")
    assert "choose another --port" in line
    assert "Streamable HTTP" not in line
    assert seconds < 5  # was 2-7 s, exit 3, after announcing the address it never served


@pytest.mark.parametrize("token", [None, "start-line-token-8150"], ids=["no token", "token"])
def test_the_start_up_line_says_whether_bearer_auth_is_on(token: str | None) -> None:
    env = clean_environment(**({"SESSION_MCP_AUTH_TOKEN": token} if token else {}))
    command = session_mcp("--demo", "--transport", "http", "--port", "0")
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    ) as process:
        try:
            assert process.stderr is not None
            line = process.stderr.readline().decode()
            url = line.split(" on ", 1)[1].split(",", 1)[0]  # the port it really listens on (0 picks one)
            answer = httpx2.post(url, json=INITIALIZE, headers=MCP_HEADERS, timeout=10)
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert line.startswith("session-mcp: Streamable HTTP on http://127.0.0.1:")
    if token:
        assert "bearer auth on" in line and token not in line
        assert answer.status_code == 401
    else:
        assert "bearer auth off (set SESSION_MCP_AUTH_TOKEN" in line
        assert answer.status_code == 200


def test_help_names_the_auth_token_variable() -> None:
    assert "SESSION_MCP_AUTH_TOKEN" in " ".join(build_parser().format_help().split())


def test_the_server_keeps_an_idle_connection_longer_than_clients_do() -> None:
    """The client must close an idle connection first: a server that closes at the same moment resets
    a request already on its way (the keep-alive race bench/http_load.py met under load)."""
    assert httpx2.Limits().keepalive_expiry < KEEP_ALIVE_SECONDS  # httpx2 is what the SDK's clients use
