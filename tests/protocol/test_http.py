"""Streamable HTTP as a shared host runs it: bearer token, tenants with their own keys, load.

The MCP server runs under uvicorn in a thread of its own (with its own event loop and its own
CompanionClient) on a pre-bound loopback socket; the test talks to it with the SDK's HTTP client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceTemplateReference
from pydantic import SecretStr

from session_mcp.companion.client import CompanionClient
from session_mcp.errors import UpstreamUnavailableError
from session_mcp.simulator import Simulator, serve_in_thread
from tests.helpers import ADVERSARIAL, FAST_RETRY, serve_mcp
from tests.upstream import Answer, HostileUpstream

pytestmark = pytest.mark.anyio

TOKEN = "test-bearer-token-4711"
ServeMcp = Callable[..., Any]


def http_client(url: str, **headers: str) -> Client:
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(url, http_client=http), cache=None)


async def test_bearer_token_guards_the_endpoint(base_url: str) -> None:
    with serve_mcp(base_url, api_key=SecretStr("demo"), auth_token=SecretStr(TOKEN)) as url:
        async with httpx2.AsyncClient() as raw:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                answer = await raw.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers)
                assert answer.status_code == 401
                assert answer.headers["www-authenticate"].startswith("Bearer")
                assert TOKEN not in answer.text
        async with http_client(url, Authorization=f"Bearer {TOKEN}") as client:
            result = await client.call_tool("list_sessions", {"page_size": 3})
            assert not result.is_error
            assert len(result.structured_content["sessions"]) == 3  # type: ignore[index]


async def test_foreign_host_and_origin_are_refused_local_browser_tools_are_not(base_url: str) -> None:
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with serve_mcp(base_url, api_key=SecretStr("demo")) as url:
        async with httpx2.AsyncClient() as raw:
            foreign_host = await raw.post(url, json=body, headers={**accept, "Host": "evil.example.com"})
            foreign_origin = await raw.post(url, json=body, headers={**accept, "Origin": "http://evil.example.com"})
            inspector = await raw.post(url, json=body, headers={**accept, "Origin": "http://localhost:6274"})
    assert foreign_host.status_code == 421
    assert foreign_origin.status_code == 403
    assert inspector.status_code not in (403, 421)


async def test_tenants_see_only_their_own_sessions_in_parallel(simulator: Simulator, base_url: str) -> None:
    tenants = {"demo": simulator.sessions_of("demo"), "other-tenant-key": simulator.sessions_of("other-tenant-key")}
    assert {s["id"] for s in tenants["demo"]}.isdisjoint(s["id"] for s in tenants["other-tenant-key"])
    seen: dict[str, set[str]] = {}
    foreign_reads: dict[str, str] = {}

    async def work(key: str, other: str) -> None:
        async with http_client(url, **{"X-Napster-Api-Key": key}) as client:
            ids: set[str] = set()
            for page_index in range(3):
                page = await client.call_tool("list_sessions", {"page_index": page_index, "page_size": 50})
                ids |= {row["id"] for row in page.structured_content["sessions"]}  # type: ignore[index]
            closed = next(s["id"] for s in tenants[key] if s.get("status") == "closed")
            own = await client.call_tool("get_session_transcript", {"session_id": closed})
            assert not own.is_error
            # the other tenant's closed session, which that tenant may have cached by now
            theirs = next(s["id"] for s in tenants[other] if s.get("status") == "closed")
            foreign = await client.call_tool("get_session_transcript", {"session_id": theirs})
            assert foreign.is_error
            foreign_reads[key] = foreign.content[0].text  # type: ignore[union-attr]
            seen[key] = ids

    with serve_mcp(base_url, api_key=None) as url:
        async with anyio.create_task_group() as group:
            group.start_soon(work, "demo", "other-tenant-key")
            group.start_soon(work, "other-tenant-key", "demo")
        async with http_client(url) as keyless:
            refused = await keyless.call_tool("list_sessions", {})
    for key, sessions in tenants.items():
        assert seen[key] == {s["id"] for s in sessions[:150]}
        assert "No session" in foreign_reads[key]
    assert refused.is_error
    assert "X-Napster-Api-Key" in refused.content[0].text  # type: ignore[union-attr]
    # every upstream request carried the key of the tenant that made it
    keys = {r.api_key for r in simulator.requests}
    assert keys == {"demo", "other-tenant-key"}


async def test_an_empty_key_header_is_refused_not_served_the_servers_key(simulator: Simulator, base_url: str) -> None:
    """A header present but empty is a tenant whose key got lost: never the server's own sessions.

    (A blank value arrives empty too: the HTTP parser strips a header value's surrounding whitespace.)
    """
    closed = next(s["id"] for s in simulator.sessions_of("demo") if s.get("status") == "closed")
    ref = ResourceTemplateReference(type="ref/resource", uri="napster://sessions/{session_id}/transcript")
    with serve_mcp(base_url, api_key=SecretStr("demo")) as url:
        async with http_client(url, **{"X-Napster-Api-Key": ""}) as client:
            listed = await client.call_tool("list_sessions", {"page_size": 3})
            with pytest.raises(MCPError) as read:
                await client.read_resource(f"napster://sessions/{closed}/transcript")
            offered = (await client.complete(ref, {"name": "session_id", "value": "sess_"})).completion.values
        assert listed.is_error
        for message in (listed.content[0].text, read.value.error.message):  # type: ignore[union-attr]
            assert "X-Napster-Api-Key header of this request is empty" in message
            assert "leave the header out" in message
        assert offered == []
        async with http_client(url) as absent:  # no header at all: the server's own key
            served = await absent.call_tool("list_sessions", {"page_size": 3})
    assert not served.is_error
    assert {r.api_key for r in simulator.requests} == {"demo"}  # only the request without the header


# What a client can put in a header: visible ASCII, with spaces and tabs only inside.
HEADER_VALUES = st.one_of(
    st.just(""),
    st.just("demo"),
    st.from_regex(r"[!-~]([!-~ \t]{0,30}[!-~])?", fullmatch=True),
)


def test_a_generated_key_header_never_reads_another_keys_sessions(simulator: Simulator, base_url: str) -> None:
    """Whatever the header holds: the demo tenant's sessions only for the demo key, else a clear error."""
    demo_ids = {s["id"] for s in simulator.sessions_of("demo")}

    async def call(url: str, key: str) -> tuple[bool, str, set[str]]:
        async with http_client(url, **{"X-Napster-Api-Key": key}) as client:
            result = await client.call_tool("list_sessions", {"page_size": 5})
        rows = (result.structured_content or {}).get("sessions", [])
        return result.is_error, result.content[0].text, {row["id"] for row in rows}  # type: ignore[union-attr]

    with serve_mcp(base_url, api_key=SecretStr("demo")) as url:

        @settings(ADVERSARIAL, max_examples=12)
        @given(key=HEADER_VALUES)
        def check(key: str) -> None:
            is_error, text, ids = anyio.run(call, url, key)
            if key == "demo":
                assert not is_error and ids <= demo_ids and ids
                return
            assert is_error, key
            assert "key" in text.lower() and "Traceback" not in text and "unexpectedly" not in text
            assert not ids & demo_ids

        check()


async def test_concurrent_tool_calls_from_many_clients(simulator: Simulator, base_url: str) -> None:
    """A small version of bench/http_load.py: 10 clients x 10 concurrent calls, no error."""
    results: list[bool] = []
    ids = [s["id"] for s in simulator.sessions_of("demo")[:20]]

    async def one_client(number: int) -> None:
        async with http_client(url) as client, anyio.create_task_group() as group:
            for call in range(10):
                group.start_soon(one_call, client, number * 10 + call)

    async def one_call(client: Client, n: int) -> None:
        if n % 2:
            result = await client.call_tool("list_sessions", {"page_size": 5, "page_index": n % 7})
        else:
            result = await client.call_tool("get_session_transcript", {"session_id": ids[n % len(ids)]})
        results.append(not result.is_error)

    with serve_mcp(base_url, api_key=SecretStr("demo")) as url:
        async with anyio.create_task_group() as group:
            for number in range(10):
                group.start_soon(one_client, number)
    assert len(results) == 100
    assert all(results)


async def test_completions_offer_the_requesting_tenants_sessions(simulator: Simulator, base_url: str) -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri="napster://sessions/{session_id}/transcript")
    theirs = {s["id"] for s in simulator.sessions_of("other-tenant-key")}
    with serve_mcp(base_url, api_key=SecretStr("demo")) as url:
        async with http_client(url, **{"X-Napster-Api-Key": "other-tenant-key"}) as client:
            offered = (await client.complete(ref, {"name": "session_id", "value": "sess_"})).completion.values
        async with http_client(url, **{"X-Napster-Api-Key": "two words"}) as client:  # not a usable key
            refused = await client.call_tool("list_sessions", {})
    assert offered
    assert set(offered) <= theirs
    assert refused.is_error
    assert "key" in refused.content[0].text  # type: ignore[union-attr]


HUGE_TRANSCRIPTS = {
    # Redacting 320 KB of '4 4 4 …' (the redactor's worst case: one long run of single digits).
    "redacting": (True, 8, "4 " * 20_000),
    # Parsing and validating a body of 150,000 short turns (about 8 MB).
    "parsing": (False, 150_000, "ok"),
}


@pytest.mark.parametrize("work", list(HUGE_TRANSCRIPTS))
async def test_one_tenants_huge_transcript_does_not_hold_up_another(
    simulator: Simulator, base_url: str, work: str
) -> None:
    """Seconds of work on one tenant's transcript must not stall the other tenant's calls meanwhile."""
    redact_pii, turns, text = HUGE_TRANSCRIPTS[work]
    newest = simulator.sessions_of("demo")[0]
    items = [{"role": "user", "text": text, "timestamp": newest["createdAt"] + i // 100} for i in range(turns)]
    simulator.projects["demo"].sessions["sess_huge"] = {**newest, "id": "sess_huge", "conversation": {"items": items}}
    latencies: list[float] = []
    big_done = anyio.Event()
    big: dict[str, float] = {}

    async def read_the_huge_one() -> None:
        async with http_client(url, **{"X-Napster-Api-Key": "demo"}) as client:
            started = anyio.current_time()
            result = await client.call_tool("get_session_transcript", {"session_id": "sess_huge"})
            big["seconds"] = anyio.current_time() - started
            assert not result.is_error
        big_done.set()

    async def list_meanwhile() -> None:
        async with http_client(url, **{"X-Napster-Api-Key": "other-tenant-key"}) as client:
            await client.call_tool("list_sessions", {"page_size": 5})  # connected and warm before measuring
            ready.set()
            while not big_done.is_set():
                started = anyio.current_time()
                result = await client.call_tool("list_sessions", {"page_size": 5})
                latencies.append(anyio.current_time() - started)
                assert not result.is_error

    ready = anyio.Event()
    with serve_mcp(base_url, api_key=None, redact_pii=redact_pii) as url:
        async with anyio.create_task_group() as group:
            group.start_soon(list_meanwhile)
            await ready.wait()
            group.start_soon(read_the_huge_one)
    median = sorted(latencies)[len(latencies) // 2]
    print(f"\nhuge transcript ({work}): {big['seconds']:.2f} s; meanwhile {len(latencies)} list_sessions calls, "
          f"max {max(latencies) * 1000:.0f} ms, median {median * 1000:.0f} ms")  # fmt: skip
    assert len(latencies) >= 3
    assert max(latencies) < big["seconds"] / 2  # on the event loop, one call waited for all of it


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_a_flood_of_sessions_is_bounded_and_told_when_to_retry(base_url: str) -> None:
    with serve_mcp(base_url, api_key=SecretStr("demo"), max_sessions=20, session_idle_timeout=120) as url:
        async with httpx2.AsyncClient(timeout=30) as raw:
            answers = [await raw.post(url, json=INITIALIZE, headers=MCP_HEADERS) for _ in range(25)]
            opened = [a.headers["mcp-session-id"] for a in answers if a.status_code == 200]
            assert len(opened) == 20
            refused = answers[20:]
            assert {a.status_code for a in refused} == {503}
            for answer in refused:
                assert answer.headers["retry-after"] == "30"
                message = answer.json()["error"]["message"]
                assert "at most 20 at once" in message
                assert "Retry in 30 s" in message
            # ending one session makes room for the next client
            ended = await raw.delete(url, headers={**MCP_HEADERS, "Mcp-Session-Id": opened[0]})
            assert ended.status_code == 200
            again = await raw.post(url, json=INITIALIZE, headers=MCP_HEADERS)
            assert again.status_code == 200


async def test_the_bearer_scheme_is_case_insensitive(base_url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    with serve_mcp(base_url, api_key=SecretStr("demo"), auth_token=SecretStr(TOKEN)) as url:
        async with httpx2.AsyncClient() as raw:
            for scheme in ("bearer", "BEARER", "Bearer", "bEaReR"):
                answer = await raw.post(url, json=body, headers={**MCP_HEADERS, "Authorization": f"{scheme} {TOKEN}"})
                assert answer.status_code != 401, scheme
            for wrong in (f"Basic {TOKEN}", f"Bearer {TOKEN.upper()}", f"Bearer{TOKEN}", "bearer"):
                answer = await raw.post(url, json=body, headers={**MCP_HEADERS, "Authorization": wrong})
                assert answer.status_code == 401, wrong


async def test_a_local_origin_without_a_port_is_allowed(base_url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with serve_mcp(base_url, api_key=SecretStr("demo")) as url:
        async with httpx2.AsyncClient() as raw:
            for origin in ("http://localhost", "http://127.0.0.1", "https://localhost", "http://[::1]"):
                answer = await raw.post(url, json=body, headers={**MCP_HEADERS, "Origin": origin})
                assert answer.status_code not in (403, 421), origin
            foreign = await raw.post(url, json=body, headers={**MCP_HEADERS, "Origin": "http://localhost.evil.com"})
            assert foreign.status_code == 403


async def test_a_huge_error_body_is_parsed_off_the_event_loop() -> None:
    """An error body is parsed as off the loop as an answer: the loop keeps ticking meanwhile."""
    upstream = HostileUpstream()
    upstream.clear()
    junk = [{"role": "user", "text": "ok", "timestamp": i} for i in range(150_000)]
    # Encoded here, not by the stand-in as it answers: its thread (in this process) would hold the GIL
    # for the 6 MB and the loop's gap would measure the stand-in, not the client.
    body = json.dumps({"code": "Boom", "description": "It failed.", "items": junk}).encode()
    upstream.listing = Answer(body, 500)
    gaps: list[float] = []
    done = anyio.Event()

    async def tick() -> None:
        last = anyio.current_time()
        while not done.is_set():
            await anyio.sleep(0.005)
            now = anyio.current_time()
            gaps.append(now - last)
            last = now

    with serve_in_thread(upstream) as url:
        async with (
            CompanionClient("key", url, retry=FAST_RETRY, timeout=30) as client,
            anyio.create_task_group() as group,
        ):
            group.start_soon(tick)
            started = anyio.current_time()
            with pytest.raises(UpstreamUnavailableError, match="It failed"):
                await client.list_sessions()
            seconds = anyio.current_time() - started
            done.set()
    print(f"\nhuge error body: {seconds:.2f} s; longest loop gap {max(gaps) * 1000:.0f} ms of {len(gaps)} ticks")
    assert max(gaps) < seconds / 2  # on the event loop, one gap was all of it
