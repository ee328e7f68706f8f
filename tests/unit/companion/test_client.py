"""CompanionClient against the simulator over real HTTP: filters, paging, errors, inputs, secrets."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, unquote

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_mcp.companion.client import MAX_SESSION_ID_LENGTH, CompanionClient, validate_session_id
from session_mcp.companion.http import RetryPolicy
from session_mcp.errors import (
    AuthenticationError,
    BadRequestError,
    CompanionError,
    ConflictError,
    InvalidInputError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    UpstreamUnavailableError,
)
from session_mcp.simulator import Fault, Simulator, bind_loopback
from session_mcp.simulator.data import DEFAULT_SESSION_COUNT
from tests.helpers import FAST_RETRY, simulator_of

pytestmark = pytest.mark.anyio

SECRET_KEY = "sk-test-SECRET-123"
WRONG_KEY = "sk-wrong-SECRET-456"


def ids(items: Any) -> list[str]:
    return [item["id"] if isinstance(item, dict) else item.id for item in items]


def transcript(session: dict[str, Any]) -> str:
    return "\n".join(item["text"] for item in (session.get("conversation") or {}).get("items", []))


def requests_to(simulator: Simulator, method: str, path: str) -> int:
    return sum(1 for r in simulator.requests if r.method == method and r.raw_path == path)


async def collect(client: CompanionClient, **filters: Any) -> list[str]:
    return [s.id async for s in client.iter_sessions(**filters)]


# -- list filters --------------------------------------------------------------------------


@pytest.mark.parametrize("companion_id", ["comp_support", "comp_booking", "comp_sales", "comp_tutor", "comp_none"])
async def test_companion_filter(simulator: Simulator, client: CompanionClient, companion_id: str) -> None:
    expected = [s for s in simulator.sessions_of("demo") if s["companionId"] == companion_id]
    page = await client.list_sessions(companion_id=companion_id, page_size=100)
    assert ids(page.items) == ids(expected[:100])
    assert page.filtered_count == len(expected)
    assert page.total_count == len(simulator.sessions_of("demo"))
    assert all(item.companion_id == companion_id for item in page.items)


async def test_external_client_filter(simulator: Simulator, client: CompanionClient) -> None:
    demo = simulator.sessions_of("demo")
    counts = Counter(s.get("externalClientId") for s in demo if s.get("externalClientId"))
    external, count = counts.most_common(1)[0]
    assert count >= 2
    page = await client.list_sessions(external_client_id=external, page_size=100)
    assert ids(page.items) == ids(s for s in demo if s.get("externalClientId") == external)
    assert page.filtered_count == count
    assert (await client.list_sessions(external_client_id="user_nobody")).items == []


@pytest.mark.parametrize("term", ["Dr. Okafor", "okafor", "REFUND", "ラーメン", "Kaffee... bitte?", "🙌"])
async def test_search_looks_into_transcripts(simulator: Simulator, client: CompanionClient, term: str) -> None:
    expected = [s for s in simulator.sessions_of("demo") if term.casefold() in transcript(s).casefold()]
    assert expected
    found = await collect(client, search=term)
    assert found == ids(expected)


async def test_search_without_a_match_is_empty(simulator: Simulator, client: CompanionClient) -> None:
    page = await client.list_sessions(search="xylophone quartet")
    assert page.items == []
    assert page.filtered_count == 0
    assert page.total_count == len(simulator.sessions_of("demo"))


@pytest.mark.parametrize(
    "tags",
    [
        {"channel": "web"},
        {"channel": "phone", "environment": "production"},
        {"environment": "staging"},
        {"escalation": "suggested"},
        {"channel": "web,ios"},
        {"channel:web": "x"},
    ],
)
async def test_tags_filter(simulator: Simulator, client: CompanionClient, tags: dict[str, str]) -> None:
    expected = [
        s for s in simulator.sessions_of("demo") if all((s.get("tags") or {}).get(k) == v for k, v in tags.items())
    ]
    found = await collect(client, tags=tags)
    assert found == ids(expected)
    if "," not in str(tags) and ":" not in str(tags):
        assert found  # the real tags do match something


async def test_filters_combine(simulator: Simulator, client: CompanionClient) -> None:
    expected = [
        s
        for s in simulator.sessions_of("demo")
        if s["companionId"] == "comp_support"
        and (s.get("tags") or {}).get("escalation") == "suggested"
        and "bank" in transcript(s).casefold()
    ]
    assert expected
    page = await client.list_sessions(
        companion_id="comp_support", tags={"escalation": "suggested"}, search="Bank", page_size=100
    )
    assert len(expected) < 100
    assert ids(page.items) == ids(expected)
    assert page.filtered_count == len(expected)


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 20), (3, 7), (2, 100), (11, 20), (12, 20), (50, 100)])
async def test_page_index_and_size(simulator: Simulator, client: CompanionClient, index: int, size: int) -> None:
    page = await client.list_sessions(page_index=index, page_size=size)
    assert ids(page.items) == ids(simulator.sessions_of("demo")[index * size : (index + 1) * size])
    assert page.page_index == index
    assert page.page_size == size
    assert page.filtered_count == len(simulator.sessions_of("demo"))
    query = simulator.requests[-1].query
    assert f"pageIndex={index}" in query
    assert f"pageSize={size}" in query


async def test_default_page_is_the_newest_twenty(simulator: Simulator, client: CompanionClient) -> None:
    page = await client.list_sessions()
    assert ids(page.items) == ids(simulator.sessions_of("demo")[:20])
    assert page.items[0].state == "started"


# -- paging --------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [100, 7, 1])
async def test_iter_sessions_reads_every_session_once(
    simulator: Simulator, client: CompanionClient, page_size: int
) -> None:
    total = len(simulator.sessions_of("demo"))
    found = await collect(client, page_size=page_size)
    assert len(found) == len(set(found)) == total
    assert found == ids(simulator.sessions_of("demo"))
    # no page is read twice and none after the last
    assert len(simulator.requests) == math.ceil(total / page_size)


async def test_iter_pages_holds_a_slot_for_each_list_request(simulator: Simulator, client: CompanionClient) -> None:
    """A pacer's slot: the sync's list requests take turns with its detail requests."""
    held: list[int] = []

    @asynccontextmanager
    async def slot() -> AsyncIterator[None]:
        before = len(simulator.requests)
        yield
        held.append(len(simulator.requests) - before)

    pages = [page async for page in client.iter_pages(page_size=100, slot=slot)]
    assert held == [1] * len(pages) and len(pages) == len(simulator.requests) > 1


async def test_iter_sessions_with_a_filter_stops_at_filtered_count(
    simulator: Simulator, client: CompanionClient
) -> None:
    expected = [s for s in simulator.sessions_of("demo") if s["companionId"] == "comp_booking"]
    found = await collect(client, companion_id="comp_booking", page_size=9)
    assert found == ids(expected)
    assert len(simulator.requests) == math.ceil(len(expected) / 9)


@pytest.mark.parametrize(("limit", "page_size"), [(25, 10), (5, 100), (240, 100), (1000, 50)])
async def test_iter_sessions_with_limit(
    simulator: Simulator, client: CompanionClient, limit: int, page_size: int
) -> None:
    found = await collect(client, limit=limit, page_size=page_size)
    assert found == ids(simulator.sessions_of("demo")[:limit])
    assert len(simulator.requests) == math.ceil(min(limit, len(simulator.sessions_of("demo"))) / page_size)


async def test_iter_sessions_with_limit_zero_sends_nothing(simulator: Simulator, client: CompanionClient) -> None:
    assert await collect(client, limit=0) == []
    assert len(simulator.requests) == 0


async def test_iter_sessions_survives_a_server_that_caps_the_page_size(
    simulator: Simulator, client: CompanionClient
) -> None:
    # The largest pageSize upstream accepts is not documented: it may answer fewer than asked.
    simulator.max_page_size = 30
    found = await collect(client, page_size=100)
    assert found == ids(simulator.sessions_of("demo"))
    assert len(simulator.requests) == math.ceil(len(found) / 30)


async def test_iter_sessions_never_yields_an_id_twice_when_the_list_shifts(
    simulator: Simulator, client: CompanionClient
) -> None:
    seen: list[str] = []
    newest = simulator.sessions_of("demo")[0]
    async for session in client.iter_sessions(page_size=50):
        seen.append(session.id)
        if len(seen) == 1:
            # A new session arrives while the list is read: every later page shifts by one.
            simulator.projects["demo"].sessions["sess_brand_new"] = dict(
                newest, id="sess_brand_new", createdAt=newest["createdAt"] + 1
            )
    assert len(seen) == len(set(seen))
    assert set(ids(simulator.sessions_of("demo"))) - set(seen) <= {"sess_brand_new"}


# -- one session ---------------------------------------------------------------------------


async def test_get_session_of_a_marathon_transcript(simulator: Simulator, client: CompanionClient) -> None:
    wire = max(simulator.sessions_of("demo"), key=lambda s: len((s.get("conversation") or {}).get("items", [])))
    assert len(wire["conversation"]["items"]) > 2000
    session = await client.get_session(wire["id"])
    assert len(session.turns) == len(wire["conversation"]["items"])
    assert [t.text for t in session.turns] == [i["text"] for i in wire["conversation"]["items"]]
    assert [t.role for t in session.turns[:2]] == ["agent", "user"]
    assert session.turns[-1].timestamp == wire["conversation"]["items"][-1]["timestamp"]
    assert session.to_wire() == wire


async def test_get_session_keeps_unknown_fields(simulator: Simulator, client: CompanionClient) -> None:
    wire = next(s for s in simulator.sessions_of("demo") if "sentiment" in s)
    session = await client.get_session(wire["id"])
    assert session.extra_fields["sentiment"] == wire["sentiment"]
    assert session.extra_fields["region"] == "eu-west"
    states = next(s for s in simulator.sessions_of("demo") if "functionStates" in s)
    session = await client.get_session(states["id"])
    assert session.to_wire()["functionStates"] == states["functionStates"]  # the earlier name, kept as sent


async def test_get_session_of_a_never_started_session(simulator: Simulator, client: CompanionClient) -> None:
    wire = next(s for s in simulator.sessions_of("demo") if s.get("status") == "pending")
    session = await client.get_session(wire["id"])
    assert session.started_at is None
    assert session.conversation is None
    assert session.turns == []


async def test_get_session_sends_the_id_as_one_path_segment(simulator: Simulator, client: CompanionClient) -> None:
    session_id = next(iter(simulator.projects["demo"].sessions))
    assert (await client.get_session(session_id)).id == session_id
    assert simulator.requests[-1].raw_path == "/public/sessions/" + session_id
    assert simulator.requests[-1].query == ""


@pytest.mark.parametrize(
    ("session_id", "raw"),
    [
        ("sess_é", "sess_%C3%A9"),
        ("a;b", "a%3Bb"),
        ("a+b", "a%2Bb"),
        ("a:b@c", "a%3Ab%40c"),
        ("...", "..."),
        ("x" * MAX_SESSION_ID_LENGTH, "x" * MAX_SESSION_ID_LENGTH),
    ],
)
async def test_odd_but_safe_ids_are_percent_encoded(
    simulator: Simulator, client: CompanionClient, session_id: str, raw: str
) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.get_session(session_id)
    assert info.value.code == "SessionNotFound"
    assert [r.raw_path for r in simulator.requests] == ["/public/sessions/" + raw]


# -- error classes -------------------------------------------------------------------------


async def test_400_names_code_and_description(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(400, code="InvalidFilter")
    with pytest.raises(BadRequestError) as info:
        await client.list_sessions()
    error = info.value
    assert (error.status, error.code, error.description) == (400, "InvalidFilter", "Injected fault 400")
    assert "InvalidFilter" in str(error)
    assert "Injected fault 400" in str(error)
    assert len(simulator.requests) == 1


async def test_400_without_a_body(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(400, with_body=False)
    with pytest.raises(BadRequestError) as info:
        await client.list_sessions()
    assert info.value.code is None
    assert info.value.description is None
    assert "no reason given" in str(info.value)


async def test_401_for_a_wrong_key(simulator: Simulator, base_url: str) -> None:
    async with CompanionClient(api_key=WRONG_KEY, base_url=base_url, retry=FAST_RETRY) as wrong:
        with pytest.raises(AuthenticationError) as info:
            await wrong.list_sessions()
    assert info.value.status == 401
    assert info.value.code == "Unauthorized"
    assert "NAPSTER_API_KEY" in str(info.value)
    assert len(simulator.requests) == 1  # never retried


async def test_403(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(403, code="Forbidden")
    with pytest.raises(AuthenticationError) as info:
        await client.get_session("sess_x")
    assert (info.value.status, info.value.code) == (403, "Forbidden")
    assert len(simulator.requests) == 1


async def test_404_names_the_id(simulator: Simulator, client: CompanionClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.get_session("sess_doesnotexist")
    assert (info.value.status, info.value.code) == (404, "SessionNotFound")
    assert "sess_doesnotexist" in str(info.value)
    assert len(simulator.requests) == 1


async def test_404_on_the_list(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(404)
    with pytest.raises(InvalidResponseError) as info:  # the list always exists: the base URL is wrong (issue 15)
        await client.list_sessions()
    assert "/public/sessions" in str(info.value) and "check NAPSTER_API_BASE_URL" in str(info.value)


async def test_409(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(409, code="ConcurrentSessionLimitReached")
    with pytest.raises(ConflictError) as info:
        await client.list_sessions()
    assert (info.value.status, info.value.code) == (409, "ConcurrentSessionLimitReached")
    assert len(simulator.requests) == 1


async def test_429_is_retried_after_retry_after_and_then_succeeds(
    simulator: Simulator, client: CompanionClient
) -> None:
    simulator.fail_next(429, times=2, retry_after=0.01, code="RequestRateLimitExceeded")
    page = await client.list_sessions()
    assert len(page.items) == 20
    assert len(simulator.requests) == 3


async def test_429_past_the_retry_bound(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(429, times=10, retry_after=0.01, code="RequestRateLimitExceeded")
    with pytest.raises(RateLimitedError) as info:
        await client.list_sessions()
    assert info.value.retry_after == 0.01
    assert info.value.code == "RequestRateLimitExceeded"
    assert info.value.status == 429
    assert len(simulator.requests) == FAST_RETRY.max_retries + 1


async def test_429_without_retry_after(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(429, times=10)
    with pytest.raises(RateLimitedError) as info:
        await client.get_session("sess_x")
    assert info.value.retry_after is None
    assert len(simulator.requests) == FAST_RETRY.max_retries + 1


async def test_429_asking_for_longer_than_the_client_waits_is_not_retried_early(
    simulator: Simulator, client: CompanionClient
) -> None:
    # Retrying before Retry-After only earns another 429: give the caller the wait instead.
    simulator.fail_next(429, times=10, retry_after=60)
    with pytest.raises(RateLimitedError) as info:
        await client.list_sessions()
    assert info.value.retry_after == 60
    assert "60" in str(info.value)
    assert len(simulator.requests) == 1


async def test_500_is_not_retried(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(500, times=10)
    with pytest.raises(UpstreamUnavailableError) as info:
        await client.list_sessions()
    assert info.value.status == 500
    assert len(simulator.requests) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_are_retried_then_succeed(
    simulator: Simulator, client: CompanionClient, status: int
) -> None:
    simulator.fail_next(status, times=2)
    session_id = simulator.sessions_of("demo")[3]["id"]
    assert (await client.get_session(session_id)).id == session_id
    assert len(simulator.requests) == 3


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_errors_past_the_retry_bound(simulator: Simulator, client: CompanionClient, status: int) -> None:
    simulator.fail_next(status, times=10, with_body=status != 504)
    with pytest.raises(UpstreamUnavailableError) as info:
        await client.list_sessions()
    assert info.value.status == status
    assert "try again" in str(info.value)
    assert len(simulator.requests) == FAST_RETRY.max_retries + 1


async def test_no_retry_starts_past_max_total(simulator: Simulator, base_url: str) -> None:
    policy = RetryPolicy(max_retries=50, backoff_base=0.02, max_wait=10, max_total=1.0)
    simulator.inject(Fault(status=429, times=100, retry_after=5))
    async with CompanionClient(api_key="demo", base_url=base_url, retry=policy) as c:
        with pytest.raises(RateLimitedError):
            await c.list_sessions()
    assert len(simulator.requests) == 1  # waiting the 5 s Retry-After would pass the 1 s deadline


async def test_read_timeout(simulator: Simulator, base_url: str) -> None:
    policy = RetryPolicy(max_retries=1, backoff_base=0.001, max_wait=0.01, max_total=5.0)
    simulator.inject(Fault(kind="delay", seconds=1.0, times=5))
    async with CompanionClient(api_key="demo", base_url=base_url, retry=policy, timeout=0.2) as slow:
        with pytest.raises(UpstreamUnavailableError) as info:
            await slow.list_sessions()
    assert info.value.code == "timeout"
    assert "SESSION_MCP_TIMEOUT" in str(info.value)
    assert len(simulator.requests) == 2  # timed out, retried once, timed out


async def test_connection_refused(upstream: Any) -> None:
    sock = bind_loopback()
    port = sock.getsockname()[1]
    sock.close()
    base = f"http://127.0.0.1:{port}"
    async with CompanionClient(api_key="demo", base_url=base, retry=FAST_RETRY) as nowhere:
        with pytest.raises(UpstreamUnavailableError) as info:
            await nowhere.get_session("sess_x")
    assert info.value.code == "unreachable"
    assert base in str(info.value)
    assert "Traceback" not in str(info.value)


async def test_invalid_json(simulator: Simulator, client: CompanionClient) -> None:
    simulator.inject(Fault(kind="malformed_json", times=10))
    with pytest.raises(InvalidResponseError) as info:
        await client.list_sessions()
    assert info.value.code == "invalid_json"
    assert len(simulator.requests) == 1


async def test_schema_break_on_the_list_names_the_field(simulator: Simulator, client: CompanionClient) -> None:
    simulator.inject(Fault(kind="bad_schema"))
    with pytest.raises(InvalidResponseError) as info:
        await client.list_sessions()
    assert info.value.code == "invalid_shape"
    assert "items" in str(info.value)
    assert "not a list" not in str(info.value)  # values are left out
    assert len(simulator.requests) == 1


async def test_schema_break_on_a_session_names_the_field(simulator: Simulator, client: CompanionClient) -> None:
    simulator.inject(Fault(kind="bad_schema"))
    session_id = simulator.sessions_of("demo")[9]["id"]
    with pytest.raises(InvalidResponseError) as info:
        await client.get_session(session_id)
    assert info.value.code == "invalid_shape"
    assert "id" in str(info.value)
    assert "conversation" in str(info.value)
    assert "createdAt" not in str(info.value)  # a timestamp that is no number reads as unknown
    assert client.cache.stats().entries == 0


@pytest.mark.parametrize("declare_length", [True, False])
async def test_huge_body_is_refused(simulator: Simulator, base_url: str, declare_length: bool) -> None:
    simulator.inject(Fault(kind="huge_body", size=3 * 1024 * 1024, declare_length=declare_length))
    async with CompanionClient(
        api_key="demo", base_url=base_url, retry=FAST_RETRY, max_response_bytes=1024 * 1024
    ) as small:
        with pytest.raises(InvalidResponseError) as info:
            await small.list_sessions()
        assert info.value.code == "too_large"
        assert "SESSION_MCP_MAX_RESPONSE_MB" in str(info.value)
        # with a Content-Length the body is refused from the header, unread
        declared = 11 + 48 * 65_536 + 2  # '{"items": [' + 3 MiB of blanks + ']}'
        assert (f"declares {declared:,} bytes" in str(info.value)) is declare_length
        assert len(simulator.requests) == 1
        # the connection pool is still usable afterwards
        assert len((await small.list_sessions()).items) == 20


# -- input checks --------------------------------------------------------------------------

HOSTILE_IDS = [
    "../x",
    "a/b",
    "%2F",
    "..%2Fx",
    "?x",
    "sess?x=1",
    "#",
    "sess#frag",
    "\x00",
    "sess\x00",
    "\n",
    "sess\r\nX-Api-Key: stolen",
    " ",
    "sess 1",
    "\t",
    "\x7f",
    "a\\b",
    "sess\u2028",
    "",
    ".",
    "..",
    "x" * 300,
    "x" * (MAX_SESSION_ID_LENGTH + 1),
]


@pytest.mark.parametrize("session_id", HOSTILE_IDS)
async def test_hostile_ids_send_no_request(simulator: Simulator, client: CompanionClient, session_id: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        await client.get_session(session_id)
    assert len(str(info.value)) < 300
    assert len(simulator.requests) == 0


@pytest.mark.parametrize("session_id", [None, 123, b"sess_x", ["sess_x"]])
async def test_non_string_ids_send_no_request(simulator: Simulator, client: CompanionClient, session_id: Any) -> None:
    with pytest.raises(InvalidInputError):
        await client.get_session(session_id)
    assert len(simulator.requests) == 0


@pytest.mark.parametrize(
    "arguments",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"page_size": -5},
        {"page_size": True},
        {"page_size": 10.0},
        {"page_index": -1},
        {"page_index": "1"},
        {"page_index": None},
        {"search": "a\x00b"},
        {"companion_id": "comp\nx"},
        {"external_client_id": 5},
        {"tags": {"channel": 5}},
        {"tags": {1: "x"}},
    ],
)
async def test_bad_list_arguments_send_no_request(
    simulator: Simulator, client: CompanionClient, arguments: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError):
        await client.list_sessions(**arguments)
    assert len(simulator.requests) == 0


async def test_bad_page_size_in_iter_sessions_sends_no_request(simulator: Simulator, client: CompanionClient) -> None:
    with pytest.raises(InvalidInputError):
        await collect(client, page_size=0)
    assert len(simulator.requests) == 0


@given(st.text(max_size=40))
def test_an_id_is_refused_or_stays_one_path_segment(session_id: str) -> None:
    try:
        checked = validate_session_id(session_id)
    except InvalidInputError:
        return
    segment = quote(checked, safe="")
    assert checked not in ("", ".", "..")
    assert not set(segment) & set("/?#\\ \t\r\n\x00")
    assert unquote(segment) == checked


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        CompanionClient(api_key="")


async def test_closing_a_derived_client_keeps_the_shared_pool_open(
    simulator: Simulator, client: CompanionClient
) -> None:
    async with client.with_api_key("other-tenant-key") as other:
        await other.list_sessions(page_size=1)
    assert len((await client.list_sessions(page_size=3)).items) == 3
    assert [r.api_key for r in simulator.requests] == ["other-tenant-key", "demo"]


async def test_with_api_key_refuses_an_empty_key(client: CompanionClient) -> None:
    with pytest.raises(InvalidInputError):
        client.with_api_key("")


# -- connections ---------------------------------------------------------------------------


async def test_create_connection(simulator: Simulator, client: CompanionClient) -> None:
    created = await client.create_connection(
        "comp_support",
        "alloy",
        settings={"instructions": "be brief"},
        external_client_id="qa_bot-1",
        tags={"qa": "yes"},
    )
    assert created.token.startswith("eyJ")
    assert created.connection.id.startswith("sess_")
    assert requests_to(simulator, "POST", "/public/connections") == 1
    page = await client.list_sessions(external_client_id="qa_bot-1")
    assert ids(page.items) == [created.connection.id]
    assert page.items[0].tags == {"qa": "yes"}
    assert page.total_count == DEFAULT_SESSION_COUNT + 1
    session = await client.get_session(created.connection.id)
    assert session.state == "pending"
    assert session.companion_id == "comp_support"


async def test_a_second_connection_within_5_s_is_refused_locally(simulator: Simulator, client: CompanionClient) -> None:
    await client.create_connection("comp_support", "alloy")
    with pytest.raises(RateLimitedError) as info:
        await client.create_connection("comp_booking", "shimmer")
    assert info.value.retry_after is not None
    assert 0 < info.value.retry_after <= 5
    assert requests_to(simulator, "POST", "/public/connections") == 1
    # the interval is per key: another tenant may connect now
    other = client.with_api_key("other-tenant-key")
    await other.create_connection("comp_support", "alloy")
    assert requests_to(simulator, "POST", "/public/connections") == 2


async def test_concurrent_connections_send_one_request(simulator: Simulator, client: CompanionClient) -> None:
    outcomes: list[str] = []

    async def connect() -> None:
        try:
            await client.create_connection("comp_support", "alloy")
            outcomes.append("created")
        except RateLimitedError:
            outcomes.append("refused")

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(connect)
    assert sorted(outcomes) == ["created", "refused", "refused"]
    assert requests_to(simulator, "POST", "/public/connections") == 1


async def test_create_connection_is_never_retried(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(503, times=5, path_prefix="/public/connections")
    with pytest.raises(UpstreamUnavailableError) as info:
        await client.create_connection("comp_support", "alloy")
    assert info.value.status == 503
    assert requests_to(simulator, "POST", "/public/connections") == 1
    assert len(simulator.requests) == 1


async def test_create_connection_refused_by_upstream_rate_limit(simulator: Simulator, client: CompanionClient) -> None:
    # Another process with the same key connected a moment ago.
    simulator.projects["demo"].last_connection_at = simulator.clock()
    with pytest.raises(RateLimitedError) as info:
        await client.create_connection("comp_support", "alloy")
    assert info.value.code == "RequestRateLimitExceeded"
    assert info.value.retry_after is not None
    assert 1 <= info.value.retry_after <= 5
    assert len(simulator.requests) == 1


async def test_create_connection_for_a_bad_companion(simulator: Simulator, client: CompanionClient) -> None:
    with pytest.raises(BadRequestError) as info:
        await client.create_connection("comp_unknown", "alloy")
    assert info.value.status == 400
    assert info.value.description == "Companion not found or not ready"
    assert "Companion not found" in str(info.value)
    assert len(simulator.requests) == 1


async def test_create_connection_with_a_bad_voice(simulator: Simulator, client: CompanionClient) -> None:
    with pytest.raises(BadRequestError) as info:
        await client.create_connection("comp_support", "no such voice")
    assert info.value.description == "Invalid voiceId"


async def test_create_agent_connection(simulator: Simulator, client: CompanionClient) -> None:
    created = await client.create_agent_connection(
        "agent_booking", "websocket", external_client_id="qa_bot-2", tags={"qa": "yes"}, initial_speech="Greet"
    )
    assert requests_to(simulator, "POST", "/public/agents/agent_booking/connections") == 1
    assert simulator.projects["demo"].connection_bodies == [
        {"channelType": "websocket", "externalClientId": "qa_bot-2", "tags": {"qa": "yes"}, "initialSpeech": "Greet"}
    ]
    session = await client.get_session(created.connection.id)
    assert (session.session_type, session.companion_id, session.state) == ("websocket", "comp_booking", "pending")


async def test_create_agent_connection_defaults_to_webrtc(simulator: Simulator, client: CompanionClient) -> None:
    await client.create_agent_connection("agent_support")
    assert simulator.projects["demo"].connection_bodies == [{"channelType": "webrtc"}]


@pytest.mark.parametrize("agent_id", ["", "..", "a/b", "a?b", "a#b", "a%2F", "a b", "a\x00", "x" * 257])
async def test_an_unsafe_agent_id_sends_nothing(simulator: Simulator, client: CompanionClient, agent_id: str) -> None:
    with pytest.raises(InvalidInputError, match="agent id"):
        await client.create_agent_connection(agent_id)
    assert not simulator.requests


async def test_an_agent_id_is_one_encoded_segment(simulator: Simulator, client: CompanionClient) -> None:
    with pytest.raises(NotFoundError):
        await client.create_agent_connection("agent_ü:@")
    (request,) = simulator.requests
    assert request.raw_path == "/public/agents/" + quote("agent_ü:@", safe="") + "/connections"


async def test_a_bad_channel_type_sends_nothing(simulator: Simulator, client: CompanionClient) -> None:
    with pytest.raises(InvalidInputError, match="channel_type"):
        await client.create_agent_connection("agent_support", "sip")  # type: ignore[arg-type]
    assert not simulator.requests


async def test_both_connection_calls_share_the_5_s_interval(simulator: Simulator, client: CompanionClient) -> None:
    await client.create_agent_connection("agent_support")
    with pytest.raises(RateLimitedError):
        await client.create_connection("comp_support", "alloy")
    assert len(simulator.requests) == 1


async def test_the_local_refusal_after_a_failed_call_does_not_claim_a_connection(
    simulator: Simulator, client: CompanionClient
) -> None:
    with pytest.raises(NotFoundError):
        await client.create_agent_connection("agent_nobody")
    with pytest.raises(RateLimitedError) as info:
        await client.create_agent_connection("agent_support")
    message = str(info.value)
    assert "connection was created" not in message.lower()
    assert "sent a connection request" in message and "whether or not it succeeded" in message
    assert "was not sent" in message and "Try again in" in message
    assert len(simulator.requests) == 1


@pytest.mark.parametrize("external", ["", "has space", "x" * 33, "ü", "a/b", "a.b", "a\n"])
async def test_create_connection_with_a_bad_external_id_sends_nothing(
    simulator: Simulator, client: CompanionClient, external: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        await client.create_connection("comp_support", "alloy", external_client_id=external)
    assert "external" in str(info.value).lower()
    assert len(simulator.requests) == 0
    # and the refused call does not use up the 5 s interval
    await client.create_connection("comp_support", "alloy", external_client_id="ok_id")
    assert len(simulator.requests) == 1


@pytest.mark.parametrize(
    ("companion_id", "voice_id", "optional"),
    [("", "alloy", {}), ("  ", "alloy", {}), ("comp_support", "", {}), ("comp_support", "alloy", {"tags": {"a": 1}})],
)
async def test_create_connection_with_bad_arguments_sends_nothing(
    simulator: Simulator, client: CompanionClient, companion_id: str, voice_id: str, optional: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError):
        await client.create_connection(companion_id, voice_id, **optional)
    assert len(simulator.requests) == 0


# -- secrets -------------------------------------------------------------------------------


async def test_repr_has_no_key(base_url: str) -> None:
    async with CompanionClient(api_key=SECRET_KEY, base_url=base_url) as c:
        for text in (repr(c), str(c), repr(c.with_api_key(WRONG_KEY)), repr(vars(c))):
            assert SECRET_KEY not in text
            assert WRONG_KEY not in text
        assert "SECRET" not in repr(c)


@pytest.fixture
async def secret_client(upstream: Any) -> AsyncIterator[tuple[Simulator, CompanionClient]]:
    sim = simulator_of({SECRET_KEY: 7})
    upstream[0].simulator = sim
    async with CompanionClient(api_key=SECRET_KEY, base_url=upstream[1], retry=FAST_RETRY, timeout=5) as c:
        yield sim, c


def exception_texts(error: BaseException) -> list[str]:
    texts: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return texts


async def test_secrets_never_leak_into_errors_or_logs(
    secret_client: tuple[Simulator, CompanionClient], caplog: pytest.LogCaptureFixture
) -> None:
    sim, client = secret_client
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []

    async def attempt(call: Any) -> Any:
        try:
            return await call
        except CompanionError as exc:
            errors.append(exc)
            return None

    closed_id = next(s["id"] for s in sim.sessions_of(SECRET_KEY) if s.get("status") == "closed")
    assert (await attempt(client.list_sessions(search="refund", tags={"channel": "web"}))) is not None
    assert (await attempt(client.get_session(closed_id))) is not None
    [s async for s in client.iter_sessions(limit=30, page_size=10)]
    await attempt(client.get_session("sess_missing"))
    await attempt(client.get_session("../etc/passwd"))
    for status in (400, 403, 409, 500):
        sim.fail_next(status, code="Injected")
        await attempt(client.list_sessions())
    sim.fail_next(429, times=2, retry_after=0.01)
    await attempt(client.list_sessions())
    sim.fail_next(503, times=10)
    await attempt(client.list_sessions())
    sim.faults.clear()
    sim.inject(Fault(kind="malformed_json"))
    await attempt(client.list_sessions())
    sim.inject(Fault(kind="bad_schema"))
    await attempt(client.get_session(closed_id + "x"))
    assert sim.faults == []
    created = await attempt(client.create_connection("comp_support", "alloy"))
    await attempt(client.create_connection("comp_support", "alloy"))
    wrong = client.with_api_key(WRONG_KEY)
    await attempt(wrong.list_sessions())
    await attempt(wrong.get_session(closed_id))
    nowhere_sock = bind_loopback()
    port = nowhere_sock.getsockname()[1]
    nowhere_sock.close()
    async with CompanionClient(api_key=SECRET_KEY, base_url=f"http://127.0.0.1:{port}", retry=FAST_RETRY) as nowhere:
        await attempt(nowhere.list_sessions())

    assert created is not None
    assert len(errors) == 13
    assert {type(e) for e in errors} >= {
        NotFoundError,
        InvalidInputError,
        BadRequestError,
        AuthenticationError,
        ConflictError,
        UpstreamUnavailableError,
        InvalidResponseError,
        RateLimitedError,
    }
    secrets = (SECRET_KEY, WRONG_KEY, created.token)
    for error in errors:
        for text in exception_texts(error):
            for secret in secrets:
                assert secret not in text, (type(error).__name__, text)
    assert caplog.records
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, (record.name, text)
    for secret in secrets:
        assert secret not in caplog.text
    request_logs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("-> ")]
    assert request_logs
    assert all("'x-api-key': '**********'" in line for line in request_logs)
    # the upstream did get the real key, in the header
    assert {r.api_key for r in sim.requests} == {SECRET_KEY, WRONG_KEY}


async def test_the_key_pasted_as_a_session_id_is_neither_sent_nor_repeated(
    simulator: Simulator, client: CompanionClient
) -> None:
    with pytest.raises(InvalidInputError) as info:
        await client.get_session("demo")
    assert "demo" not in str(info.value)
    assert not simulator.requests


async def test_a_numeric_error_code_keeps_the_error_body(simulator: Simulator, client: CompanionClient) -> None:
    simulator.fail_next(400, code=1234)  # type: ignore[arg-type]  # a future API sending numbers
    with pytest.raises(BadRequestError) as info:
        await client.list_sessions()
    assert info.value.code == "1234"
    assert "Injected fault 400" in str(info.value)


async def test_a_keyless_client_sends_nothing(simulator: Simulator, base_url: str) -> None:
    async with CompanionClient(api_key=None, base_url=base_url, retry=FAST_RETRY) as keyless:
        with pytest.raises(AuthenticationError) as info:
            await keyless.list_sessions()
    assert "NAPSTER_API_KEY" in str(info.value)
    assert not simulator.requests


@pytest.mark.parametrize(
    "filters", [{"search": "x demo x"}, {"tags": {"note": "demo"}}, {"tags": {"demo": "v"}}, {"companion_id": "demo"}]
)
async def test_a_filter_holding_the_key_is_refused_before_any_request(
    simulator: Simulator, client: CompanionClient, filters: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError) as info:
        await client.list_sessions(**filters)
    assert "demo" not in str(info.value)
    assert not simulator.requests


async def test_paging_trusts_the_counts_when_the_api_serves_fewer_than_it_says(
    simulator: Simulator, client: CompanionClient
) -> None:
    simulator.max_page_size, simulator.echo_page_size = 50, True  # serves 50, claims 100
    ids = [s.id async for s in client.iter_sessions(page_size=100)]
    assert ids == [s["id"] for s in simulator.sessions_of("demo")]


async def test_paging_stops_when_the_api_ignores_the_page_index(simulator: Simulator, client: CompanionClient) -> None:
    simulator.honour_page_index, simulator.send_counts = False, False  # the same full page, forever
    ids = [s.id async for s in client.iter_sessions(page_size=20)]
    assert ids == [s["id"] for s in simulator.sessions_of("demo")[:20]]
    assert len(simulator.requests) == 2  # the second page brought nothing new: stop


async def test_nulls_where_values_are_expected_do_not_spoil_the_session(
    simulator: Simulator, client: CompanionClient
) -> None:
    session = next(s for s in simulator.sessions_of("demo") if s.get("status") == "closed")
    session["conversation"]["items"][0].update(text=None, role=None)
    session["createdAt"] = session["createdAt"] * 1000  # milliseconds where seconds are documented
    session["closedAt"] = 1e20
    detail = await client.get_session(session["id"])
    assert detail.turns[0].text == ""
    assert detail.turns[0].role == "unknown"
    assert detail.created is None and detail.closed is None


async def test_a_body_that_cannot_be_decoded_is_an_invalid_response(
    simulator: Simulator, client: CompanionClient
) -> None:
    simulator.inject(Fault(kind="bad_encoding"))
    with pytest.raises(InvalidResponseError) as info:
        await client.list_sessions()
    assert info.value.code == "undecodable"


@pytest.mark.parametrize("key", ["clé-ünïcode", "two words", "tab\there", ""])
def test_a_key_no_header_can_carry_is_refused_up_front(key: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        CompanionClient(api_key=key)
    assert key not in str(info.value) or not key


async def test_a_connection_that_never_left_owes_no_wait(upstream: Any) -> None:
    sock = bind_loopback()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: the POST cannot reach anything
    async with CompanionClient(api_key="demo", base_url=f"http://127.0.0.1:{port}", retry=FAST_RETRY) as offline:
        for _ in range(2):  # the second try is not refused locally for 5 s
            with pytest.raises(UpstreamUnavailableError) as info:
                await offline.create_connection("comp_support", "alloy")
            assert info.value.code == "unreachable"
