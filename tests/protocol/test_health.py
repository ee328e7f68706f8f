"""``/healthz`` and ``/readyz`` over real HTTP, with and without a bearer token; request ids; JSON logs
of the real command that parse line by line and never hold a planted secret."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from session_mcp.simulator import Simulator
from tests.helpers import SwitchableApp, clean_environment, script, serve_mcp, simulator_of
from tests.protocol.test_transports import free_port, stop, wait_for_log

pytestmark = pytest.mark.anyio

TOKEN = "tok-planted-BEARER-0001"


def root(url: str) -> str:
    return url.removesuffix("/mcp")


async def get(url: str, path: str, **headers: str | bytes) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.get(root(url) + path, headers=headers)


@pytest.mark.parametrize("token", [None, TOKEN])
async def test_health_and_readiness_answer_without_the_token(
    base_url: str, simulator: Simulator, tmp_path: Path, token: str | None
) -> None:
    auth = SecretStr(token) if token else None
    with serve_mcp(base_url, api_key=SecretStr("demo"), auth_token=auth, store=tmp_path / "s.sqlite3") as url:
        alive = await get(url, "/healthz", Host="lb.internal")  # a balancer's own Host name is fine here
        assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
        assert alive.headers["cache-control"] == "no-store"
        ready = await get(url, "/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
        asked = len(simulator.requests)
        assert (await get(url, "/readyz")).status_code == 200
        assert len(simulator.requests) == asked, "a second probe within seconds asks upstream again"
        if token:  # the token still guards the MCP endpoint
            assert (await get(url, "/mcp")).status_code == 401
            assert (await get(url, "/mcp", Authorization=f"Bearer {TOKEN}")).status_code != 401


async def test_readiness_says_why_in_one_word_and_reveals_nothing(
    base_url: str, simulator: Simulator, tmp_path: Path
) -> None:
    planted = "sk-live-PLANTED-WRONG-KEY-77"
    with serve_mcp(base_url, api_key=SecretStr(planted), store=tmp_path / "s.sqlite3") as url:
        answer = await get(url, "/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "reason": "unauthorized"}
    assert planted not in answer.text and "127.0.0.1" not in answer.text and "http" not in answer.text
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with serve_mcp(base_url, api_key=SecretStr("demo"), store=blocker / "s.sqlite3") as url:
        answer = await get(url, "/readyz")
    assert (answer.status_code, answer.json()) == (503, {"status": "not ready", "reason": "store"})
    assert str(tmp_path) not in answer.text


async def test_without_a_key_of_its_own_readiness_checks_the_store_only(base_url: str, simulator: Simulator) -> None:
    with serve_mcp(base_url, api_key=None, no_store=True) as url:
        answer = await get(url, "/readyz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ready"})
    assert not simulator.requests


async def test_every_answer_carries_a_request_id(base_url: str, simulator: Simulator) -> None:
    with serve_mcp(base_url, api_key=SecretStr("demo"), no_store=True) as url:
        given = await get(url, "/healthz", **{"X-Request-Id": "lb-7f3a.1"})
        assert given.headers["x-request-id"] == "lb-7f3a.1"
        for bad in (b"has space", b"x" * 200, "caf\u00e9".encode(), b"a;b"):
            made = await get(url, "/healthz", **{"X-Request-Id": bad})
            assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"]), made.headers["x-request-id"]
        first, second = (
            (await get(url, "/healthz")).headers["x-request-id"],
            (await get(url, "/healthz")).headers["x-request-id"],
        )
        assert first != second


# -- the real command: JSON logs with a secret planted everywhere ------------------------------------

KEY = "sk-live-PLANTED-SERVER-KEY-01"
TENANT_KEY = "sk-live-PLANTED-TENANT-KEY-02"
URL_PASSWORD = "PLANTED-url-password-03"
CURSOR_SECRET = "PLANTED-cursor-secret-0004"
PLANTED = (KEY, TENANT_KEY, URL_PASSWORD, CURSOR_SECRET, TOKEN)


async def test_json_logs_parse_line_by_line_and_hold_no_secret(
    upstream: tuple[SwitchableApp, str], tmp_path: Path
) -> None:
    app, base = upstream
    app.simulator = simulator_of({KEY: 7, TENANT_KEY: 8})
    port = free_port()
    env = clean_environment(
        NAPSTER_API_KEY=KEY,
        NAPSTER_API_BASE_URL=base.replace("http://", f"http://user:{URL_PASSWORD}@"),
        SESSION_MCP_AUTH_TOKEN=TOKEN,
        SESSION_MCP_CURSOR_SECRET=CURSOR_SECRET,
        SESSION_MCP_STORE=str(tmp_path / "s.sqlite3"),
    )
    command = [script(), "--transport", "http", "--port", str(port), "--log-format", "json", "--log-level", "DEBUG"]
    process = await anyio.open_process(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    log, chunks = b"", list[bytes]()
    async with process:
        try:
            assert process.stderr is not None
            log = await wait_for_log(process.stderr, b"Streamable HTTP on")
            url = f"http://127.0.0.1:{port}/mcp"
            async with anyio.create_task_group() as group:
                group.start_soon(collect, process.stderr, chunks.append)
                with anyio.fail_after(30):
                    assert (await get(url, "/readyz", **{"X-Request-Id": "probe-1"})).status_code == 200
                    headers = {
                        "Authorization": f"Bearer {TOKEN}",
                        "X-Napster-Api-Key": TENANT_KEY,
                        "X-Request-Id": "r-42",
                    }
                    async with tenant(url, headers) as mcp:
                        listed = await mcp.call_tool("list_sessions", {"page_size": 2, "since": "7d"})
                        assert not listed.is_error
                        missing = await mcp.call_tool("get_session_transcript", {"session_id": "sess_nope"})
                        assert missing.is_error
                    refused = await get(url, "/mcp", Authorization=f"Bearer {KEY}")  # the wrong secret as a token
                    assert refused.status_code == 401
                await stop(process)
                group.cancel_scope.cancel()
        finally:
            await stop(process)
    text = (log + b"".join(chunks)).decode()
    lines = text.splitlines()
    assert len(lines) >= 4, text
    entries = [json.loads(line) for line in lines]  # every line one JSON object
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    for secret in PLANTED:
        assert secret not in text, secret
    assert any("Streamable HTTP on" in e["message"] for e in entries)
    assert any(e.get("request_id") == "probe-1" and "GET /readyz 200" in e["message"] for e in entries), text
    assert any(e.get("request_id") == "r-42" and "POST /mcp 200" in e["message"] for e in entries), text
    assert any(" 401 " in e["message"] and e.get("request_id") for e in entries), text


def tenant(url: str, headers: dict[str, str]) -> Client:
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=30)), cache=None)


async def collect(stream: Any, keep: Any) -> None:
    """Read the server's log to its end (a full pipe would block the server), keeping every chunk."""
    try:
        while True:
            keep(await stream.receive())
    except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        return
