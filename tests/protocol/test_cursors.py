"""Cursors cannot be forged (issue 15, item 7): every cursor the server hands out is signed.

A cursor of a windowed or filtered ``list_sessions`` carries where the scan stopped, the window
its first call fixed and a digest of its arguments; ``resources/list`` has a cursor too. Text
that looks like one (say, planted in a transcript: "use cursor X") or a real one with any field
changed must be refused with a clear error, never widen the window, renumber rows or skip
sessions. Real parts: the SDK's ``Client`` against ``build_server``, a second server as a real
``session-mcp`` process over stdio, the CLI as a real process, the simulator over loopback HTTP.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError, StdioServerParameters
from mcp.types import INVALID_PARAMS, CallToolResult
from pydantic import SecretStr

from session_mcp.companion.client import CompanionClient
from session_mcp.config import ConfigError, Settings, load_settings
from session_mcp.sessions.cursors import CURSOR_PREFIX
from session_mcp.simulator import Simulator
from tests.helpers import ADVERSARIAL, ANCHOR, FAST_RETRY, SwitchableApp, connect, run_process, simulator_of, text_of

pytestmark = pytest.mark.anyio

NOW = datetime.fromtimestamp(ANCHOR, UTC)
WINDOWED = {"since": "48h", "status": ["closed", "failed"], "page_size": 3}
NOT_OURS = "not made by this server"


@asynccontextmanager
async def server(client: CompanionClient, **settings: Any) -> AsyncIterator[Client]:
    """An MCP session with a server at the demo data's anchor (``since`` counts from it).

    Without a store: these pin the scan's cursors (a windowed list with a store pages with keyset
    cursors instead, refused alike: tests/protocol/test_stored_answers.py)."""
    async with connect(client, Settings(**{"no_store": True, **settings}), clock=lambda: NOW) as mcp:
        yield mcp


def answer(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


def refused(result: CallToolResult, *needles: str) -> str:
    """A cursor refused: an error result of one line that says what to do, no traceback."""
    assert result.is_error, "a forged or foreign cursor was accepted"
    text = text_of(result)
    assert "\n" not in text and "Traceback" not in text, text
    assert "without cursor" in text, text
    for needle in needles:
        assert needle in text, text
    return text


def split(cursor: str) -> tuple[str, list[Any], str]:
    """(prefix, payload fields, ``.mac``) of a list cursor; the MAC is empty for an unsigned one."""
    prefix, rest = cursor[:3], cursor[3:]
    body, dot, mac = rest.partition(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return prefix, fields, dot + mac


def join(prefix: str, fields: list[Any], mac: str) -> str:
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=") + mac


def tampered(value: Any) -> Any:
    """Another value of the same field: a page further, an earlier window start, another id."""
    if value is None:
        return 0  # e.g. a window from 1970 where there was none
    if isinstance(value, str):
        return value[::-1] + "x"
    if isinstance(value, float):
        return value - 86_400  # a day earlier: a wider window, or items "already read" read again
    return 1 - value if value in (0, 1) else value + 1


# -- list_sessions ------------------------------------------------------------------------------


async def test_a_real_cursor_with_any_field_changed_is_refused(client: CompanionClient, simulator: Simulator) -> None:
    async with server(client) as mcp:
        first = answer(await mcp.call_tool("list_sessions", WINDOWED))
        cursor = first["next_cursor"]
        prefix, fields, mac = split(cursor)
        assert len(fields) == 11
        second = answer(await mcp.call_tool("list_sessions", {**WINDOWED, "cursor": cursor}))
        assert second["first_number"] == 4  # the real one reads on
        for index, value in enumerate(fields):
            forged = join(prefix, [*fields[:index], tampered(value), *fields[index + 1 :]], mac)
            simulator.requests.clear()
            refused(await mcp.call_tool("list_sessions", {**WINDOWED, "cursor": forged}), NOT_OURS)
            assert not simulator.requests, f"field {index}: a refused cursor sends no request"
        for forged in (cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), cursor.rpartition(".")[0], cursor + "A"):
            refused(await mcp.call_tool("list_sessions", {**WINDOWED, "cursor": forged}), NOT_OURS)


async def test_a_cursor_of_one_window_is_refused_for_a_wider_one(client: CompanionClient) -> None:
    async with server(client) as mcp:
        cursor = answer(await mcp.call_tool("list_sessions", {**WINDOWED, "since": "24h"}))["next_cursor"]
        for wider in ({"since": "7d"}, {"since": "24h", "until": "1h"}, {"since": ""}):
            arguments = {**WINDOWED, "since": "24h", **wider, "cursor": cursor}
            refused(await mcp.call_tool("list_sessions", arguments), "other filters", "since and until")
        assert answer(await mcp.call_tool("list_sessions", {**WINDOWED, "since": "24h", "cursor": cursor}))


async def test_a_cursor_of_another_key_is_refused(client: CompanionClient) -> None:
    async with server(client) as mcp:
        cursor = answer(await mcp.call_tool("list_sessions", WINDOWED))["next_cursor"]
    other = client.with_api_key("other-tenant-key")
    async with server(other) as mcp:
        refused(await mcp.call_tool("list_sessions", {**WINDOWED, "cursor": cursor}), NOT_OURS)


async def test_a_configured_secret_is_shared_and_another_refuses(client: CompanionClient) -> None:
    shared = SecretStr("replicas-share-this-secret-0123456789")
    async with server(client, cursor_secret=shared) as mcp:
        cursor = answer(await mcp.call_tool("list_sessions", WINDOWED))["next_cursor"]
    async with server(client, cursor_secret=shared) as replica:
        assert answer(await replica.call_tool("list_sessions", {**WINDOWED, "cursor": cursor}))["first_number"] == 4
    async with server(client, cursor_secret=SecretStr("another-deployment-secret-0123456789")) as other:
        refused(await other.call_tool("list_sessions", {**WINDOWED, "cursor": cursor}), NOT_OURS)
    async with server(client) as unconfigured:  # this process's own random secret
        refused(await unconfigured.call_tool("list_sessions", {**WINDOWED, "cursor": cursor}), NOT_OURS)


async def test_a_cursor_from_another_server_process_is_refused(
    client: CompanionClient, process_env: dict[str, str]
) -> None:
    """The server's secret is random per process: a cursor of this one means nothing to a new process,
    and one configured secret makes them agree (HTTP replicas)."""
    arguments = {"status": ["closed", "failed"], "page_size": 3}  # no window: the process's clock is real
    async with server(client) as mcp:
        cursor = answer(await mcp.call_tool("list_sessions", arguments))["next_cursor"]
    params = StdioServerParameters(command=sys.executable, args=["-m", "session_mcp"], env=process_env)
    with anyio.fail_after(30):
        async with Client(params, cache=None) as other:
            refused(await other.call_tool("list_sessions", {**arguments, "cursor": cursor}), NOT_OURS)
    secret = "replicas-share-this-secret-0123456789"
    async with server(client, cursor_secret=SecretStr(secret)) as mcp:
        cursor = answer(await mcp.call_tool("list_sessions", arguments))["next_cursor"]
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "session_mcp"],
        env=process_env | {"SESSION_MCP_CURSOR_SECRET": secret},
    )
    with anyio.fail_after(30):
        async with Client(params, cache=None) as replica:
            result = answer(await replica.call_tool("list_sessions", {**arguments, "cursor": cursor}))
    assert result["first_number"] == 4


def test_the_cursor_secret_is_checked_and_never_shown() -> None:
    secret = "a-secret-of-at-least-16-characters"
    loaded = load_settings({}, {"NAPSTER_API_KEY": "k", "SESSION_MCP_CURSOR_SECRET": secret})
    assert loaded.cursor_secret is not None and loaded.cursor_secret.get_secret_value() == secret
    assert secret not in repr(loaded) and secret not in str(loaded)
    with pytest.raises(ConfigError, match="SESSION_MCP_CURSOR_SECRET is too short") as caught:
        load_settings({}, {"NAPSTER_API_KEY": "k", "SESSION_MCP_CURSOR_SECRET": "short-secret"})
    assert "short-secret" not in str(caught.value)


# -- resources/list ---------------------------------------------------------------------------


async def test_a_resources_list_cursor_cannot_be_forged(client: CompanionClient, simulator: Simulator) -> None:
    async with server(client) as mcp:
        cursor = (await mcp.list_resources()).next_cursor
        assert cursor is not None
        second = await mcp.list_resources(cursor=cursor)
        assert second.resources
        body, _, mac = cursor.partition(".")
        forged_page = base64.urlsafe_b64encode(b"3").decode().rstrip("=")  # page 3: skip pages 1 and 2
        unsigned = base64.urlsafe_b64encode(json.dumps({"p": 3}).encode()).decode()  # the old cursor's form
        for forged in (cursor[:3] + forged_page + "." + mac, unsigned, body, cursor + "A"):
            simulator.requests.clear()
            with pytest.raises(MCPError) as caught:
                await mcp.list_resources(cursor=forged)
            assert caught.value.error.code == INVALID_PARAMS
            assert "not made by this server" in caught.value.error.message
            assert not simulator.requests
    async with server(client, cursor_secret=SecretStr("another-deployment-secret-0123456789")) as other:
        with pytest.raises(MCPError, match="not made by this server"):
            await other.list_resources(cursor=cursor)


# -- the command line ---------------------------------------------------------------------------


def run_list(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_process("sessions", "list", *args, env=env)


def test_the_cli_cursor_works_in_the_next_run_and_cannot_be_forged(process_env: dict[str, str]) -> None:
    """Each run is its own process: the CLI's secret comes from the key, so the next run opens it."""
    first = run_list("--status", "closed", "--page-size", "3", env=process_env)
    assert first.returncode == 0, first.stderr
    match = re.search(r"use --cursor (\S+) and the same filters", first.stdout)
    assert match, first.stdout
    cursor = match.group(1)
    second = run_list("--status", "closed", "--page-size", "3", "--cursor", cursor, env=process_env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("Sessions 4-6 ")
    prefix, fields, mac = split(cursor)
    forged = join(prefix, [fields[0], fields[1] + 2, *fields[2:]], mac)  # skip two sessions
    done = run_list("--status", "closed", "--page-size", "3", "--cursor", forged, env=process_env)
    assert done.returncode == 2 and done.stdout == ""
    assert NOT_OURS in done.stderr and "Traceback" not in done.stderr
    other_key = run_list(
        "--status", "closed", "--page-size", "3", "--cursor", cursor, env=process_env | {"NAPSTER_API_KEY": "other"}
    )
    assert other_key.returncode == 2 and NOT_OURS in other_key.stderr


# -- any text as a cursor: a clear error, never a traceback ------------------------------------


@dataclass
class Env:
    portal: BlockingPortal
    mcp: Client
    cursor: str  # a real one, for mutations


SIM = simulator_of({"demo": 7})


@pytest.fixture(scope="module")
def env(upstream: tuple[SwitchableApp, str]) -> Iterator[Env]:
    upstream[0].simulator = SIM

    @asynccontextmanager
    async def connect() -> AsyncIterator[tuple[Client, str]]:
        async with (
            CompanionClient("demo", upstream[1], retry=FAST_RETRY, timeout=5) as companion,
            server(companion) as mcp,
        ):
            yield mcp, answer(await mcp.call_tool("list_sessions", WINDOWED))["next_cursor"]

    with start_blocking_portal(backend="asyncio") as portal, portal.wrap_async_context_manager(connect()) as opened:
        yield Env(portal, *opened)


def mutations(cursor: str) -> st.SearchStrategy[str]:
    """A real cursor with one character replaced, cut, or grown."""
    position = st.integers(0, len(cursor) - 1)
    char = st.characters(codec="utf-8")
    return st.one_of(
        st.builds(lambda i, c: cursor[:i] + c + cursor[i + 1 :], position, char),
        st.builds(lambda i: cursor[:i], position),
        st.builds(lambda t: cursor + t, st.text(min_size=1, max_size=20)),
    )


@settings(ADVERSARIAL, max_examples=60)
@given(data=st.data())
def test_any_text_as_a_cursor_is_a_clear_error(env: Env, upstream: tuple[SwitchableApp, str], data: Any) -> None:
    upstream[0].simulator = SIM
    payload = st.lists(st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False), st.text(max_size=12)))
    text = data.draw(
        st.one_of(
            st.text(max_size=400),
            st.text(max_size=200).map(lambda t: CURSOR_PREFIX + t),
            payload.map(lambda fields: join(CURSOR_PREFIX, fields, "." + "A" * 22)),
            mutations(env.cursor),
        ).filter(lambda t: t and t != env.cursor)
    )
    SIM.requests.clear()
    result = env.portal.call(env.mcp.call_tool, "list_sessions", {**WINDOWED, "cursor": text})
    assert result.is_error, f"{text!r} was accepted as a cursor"
    message = text_of(result)
    assert "Traceback" not in message and "\n" not in message, message
    assert "cursor" in message, message
    assert not SIM.requests, "a refused cursor sends no request"
