"""The server over its real transports: stdio (the console script as a subprocess) and
Streamable HTTP (the server in a thread as ``--transport http`` serves it, and that command itself)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.types import TextResourceContents
from pydantic import SecretStr

from session_mcp.config import Settings
from session_mcp.simulator import Simulator
from session_mcp.simulator.data import DEFAULT_SESSION_COUNT
from tests.helpers import connect, script, serve_mcp

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


async def exercise(mcp: Client, expected_ids: list[str] | None = None) -> None:
    """What a host does first: list tools, list sessions, read a transcript, get a prompt."""
    names = {t.name for t in (await mcp.list_tools()).tools}
    assert {"list_sessions", "get_session_transcript", "create_connection"} <= names
    listed = await mcp.call_tool("list_sessions", {"page_size": 5})
    assert not listed.is_error
    assert listed.structured_content is not None
    ids = [row["id"] for row in listed.structured_content["sessions"]]
    assert len(ids) == 5
    assert listed.structured_content["filtered_count"] == DEFAULT_SESSION_COUNT  # the demo data (--demo)
    if expected_ids is not None:
        assert ids == expected_ids
    transcript = (await mcp.read_resource(f"napster://sessions/{ids[2]}/transcript")).contents[0]
    assert isinstance(transcript, TextResourceContents)
    assert transcript.mime_type == "text/markdown"
    assert transcript.text.startswith(f"# Session {ids[2]}")
    prompt = (await mcp.get_prompt("qa_review_transcript", {"session_id": ids[2]})).messages[0].content
    assert prompt.type == "text"
    text = prompt.text
    assert "<transcript>" in text
    assert f"# Session {ids[2]}" in text


# -- stdio ------------------------------------------------------------------------------------


async def test_stdio_console_script(mode: str) -> None:
    with anyio.fail_after(30):
        async with connect(None, Settings(demo=True), transport="stdio", mode=mode) as mcp:
            assert mcp.server_info is not None
            assert mcp.server_info.name == "session-mcp"
            await exercise(mcp)


async def test_stdio_read_only_leaves_out_create_connection() -> None:
    with anyio.fail_after(30):
        async with connect(None, Settings(demo=True, read_only=True), transport="stdio") as mcp:
            names = {t.name for t in (await mcp.list_tools()).tools}
    assert "create_connection" not in names
    assert "list_sessions" in names


# -- Streamable HTTP: the server in a thread, as `--transport http` runs it -------------------


async def test_streamable_http(base_url: str, simulator: Simulator, mode: str) -> None:
    with anyio.fail_after(30):
        async with connect(base_url, transport="http", mode=mode) as mcp:
            await exercise(mcp, [s["id"] for s in simulator.sessions_of("demo")[:5]])
    assert any(r.raw_path == "/public/sessions" for r in simulator.requests)


@asynccontextmanager
async def raw_http() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=10) as http:
        yield http


async def test_streamable_http_rejects_a_foreign_host_header(base_url: str, simulator: Simulator) -> None:
    with serve_mcp(base_url, api_key=SecretStr("demo")) as url:
        port = urlsplit(url).port
        async with raw_http() as http:
            evil = await http.post(url, headers={**MCP_HEADERS, "Host": "evil.example.com"}, json=INITIALIZE)
            assert evil.status_code == 421
            # A page in a browser elsewhere cannot drive it either.
            origin = await http.post(url, headers={**MCP_HEADERS, "Origin": "http://evil.example.com"}, json=INITIALIZE)
            assert origin.status_code == 403
            # The check is not a blanket refusal: loopback names pass.
            for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
                good = await http.post(url, headers={**MCP_HEADERS, "Host": host}, json=INITIALIZE)
                assert good.status_code == 200, (host, good.text)
                assert "session-mcp" in good.text


# -- Streamable HTTP: the real command --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_for_log(stream: Any, needle: bytes, limit: float = 20) -> bytes:
    """Read ``stream`` until ``needle`` appears; what was read, for the failure message."""
    seen = b""
    with anyio.fail_after(limit):
        while needle not in seen:
            chunk = await stream.receive()
            seen += chunk
    return seen


async def drain(stream: Any) -> None:
    """Keep reading the server's log so a full pipe never blocks it."""
    with suppress(anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        while True:
            await stream.receive()


async def stop(process: Any) -> None:
    if process.returncode is None:
        process.terminate()
    with anyio.move_on_after(10):
        await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_http_command(mode: str) -> None:
    port = free_port()
    command = [script(), "--demo", "--transport", "http", "--port", str(port), "--log-level", "INFO"]
    process = await anyio.open_process(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    async with process:
        try:
            assert process.stderr is not None
            # Said once its socket listens (connections queue until uvicorn accepts): an event, not a sleep.
            await wait_for_log(process.stderr, b"Streamable HTTP on")
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(drain, process.stderr)
                with anyio.fail_after(30):
                    async with Client(f"http://127.0.0.1:{port}/mcp", mode=mode, cache=None) as mcp:
                        await exercise(mcp)
                    async with raw_http() as http:
                        evil = await http.post(
                            f"http://127.0.0.1:{port}/mcp",
                            headers={**MCP_HEADERS, "Host": "evil.example.com"},
                            json=INITIALIZE,
                        )
                        assert evil.status_code == 421
                await stop(process)
        finally:
            await stop(process)
    assert process.returncode is not None


def test_attach_hint_gives_a_config_snippet_that_is_valid_json() -> None:
    import json

    from session_mcp.server.transport import attach_hint

    hint = attach_hint(["--demo", "--base-url", 'http://x/"q"'])
    snippet = next(line.strip() for line in hint.splitlines() if line.strip().startswith('{"mcpServers"'))
    config = json.loads(snippet)["mcpServers"]["napster-sessions"]
    assert config["args"] == ["--demo", "--base-url", 'http://x/"q"']
    assert "claude mcp add napster-sessions --" in hint


async def test_ctrl_c_at_a_terminal_stops_the_stdio_server_at_once() -> None:
    """stdin a terminal (a pty), as when a person starts it by hand: SIGINT ends it with status 130."""
    import os
    import signal

    terminal, tty = os.openpty()
    process = await anyio.open_process([script(), "--demo"], stdin=tty, stdout=subprocess.DEVNULL)
    os.close(tty)
    async with process:
        try:
            assert process.stderr is not None
            banner = await wait_for_log(process.stderr, b"(Ctrl+C to quit)...\n")
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(10):  # at once: no Enter, no Ctrl+D
                status = await process.wait()
            rest = b"".join([chunk async for chunk in process.stderr])
        finally:
            os.close(terminal)
            await stop(process)
    assert status == 130
    after_banner = (banner.split(b"(Ctrl+C to quit)...\n", 1)[1] + rest).decode()
    assert [line for line in after_banner.splitlines() if line.strip()] == ["session-mcp: stopped (Ctrl+C)."]
