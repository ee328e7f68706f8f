"""The simulator as an API: status codes, error bodies, limits, recording, deterministic data."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.models import SessionDetail, SessionPage, encode_tags_query
from session_mcp.simulator import Fault, Simulator
from session_mcp.simulator.app import DETAIL_ONLY, LIST_ORDERS, LIVE_SESSION_LIMIT
from session_mcp.simulator.data import AGENTS, COMPANIONS, DAYS_SPAN, DEFAULT_SESSION_COUNT, MARATHON_TURNS
from tests.helpers import ANCHOR

pytestmark = pytest.mark.anyio

CONNECTION = {"companionId": "comp_support", "providerConfig": {"voiceId": "alloy", "settings": {}}}
ERROR_KEYS = {"code", "description", "type", "numericType"}


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=base_url, headers={"X-Api-Key": "demo"}, timeout=5) as c:
        yield c


@pytest.fixture
async def anonymous(base_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=base_url, timeout=5) as c:
        yield c


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(upstream: Any) -> Iterator[tuple[Simulator, Clock]]:
    """A simulator whose clock the test controls, installed behind the HTTP server."""
    clock = Clock(2_000_000_000.0)
    sim = Simulator(anchor=ANCHOR, clock=clock, api_keys={"demo": 7, "other-tenant-key": 99})
    upstream[0].simulator = sim
    yield sim, clock


@pytest.fixture
async def clocked_http(upstream: Any, clocked: tuple[Simulator, Clock]) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=upstream[1], headers={"X-Api-Key": "demo"}, timeout=5) as c:
        yield c


def assert_error_body(response: httpx2.Response, status: int, code: str | None) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    assert isinstance(body["description"], str) and body["description"]
    assert body["type"] == "failure"
    assert body["numericType"] == 0
    return body


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/public/sessions"), ("GET", "/public/sessions/sess_x"), ("POST", "/public/connections")],
)
@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}, {"X-Api-Key": ""}, {"Authorization": "Bearer demo"}])
async def test_missing_or_wrong_key_gets_401_with_the_error_body(
    simulator: Simulator, anonymous: httpx2.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await anonymous.request(method, path, headers=headers, json=CONNECTION if method == "POST" else None)
    assert_error_body(response, 401, "Unauthorized")
    assert len(simulator.requests) == 1
    assert simulator.requests[0].api_key == (headers.get("X-Api-Key"))
    assert simulator.projects["demo"].last_connection_at is None  # refused before any effect


async def test_a_401_is_not_consumed_by_an_injected_fault(simulator: Simulator, anonymous: httpx2.AsyncClient) -> None:
    simulator.fail_next(503)
    response = await anonymous.get("/public/sessions")
    assert response.status_code == 401
    assert len(simulator.faults) == 1


# -- list ----------------------------------------------------------------------------------


async def test_list_shape_and_defaults(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    response = await http.get("/public/sessions")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "filteredCount", "totalCount", "pageIndex", "pageSize"}
    assert body["pageIndex"] == 0
    assert body["pageSize"] == 10
    assert body["filteredCount"] == body["totalCount"] == len(simulator.sessions_of("demo")) == DEFAULT_SESSION_COUNT
    expected = simulator.sessions_of("demo")[:10]
    assert [item["id"] for item in body["items"]] == [s["id"] for s in expected]
    for item in body["items"]:
        assert not set(DETAIL_ONLY) & set(item)
    SessionPage.model_validate(body)
    created = [s["createdAt"] for s in simulator.sessions_of("demo")]
    assert created == sorted(created, reverse=True)


async def test_list_never_carries_transcripts_or_tool_metrics(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    total = len(simulator.sessions_of("demo"))
    items = []
    for index in range(-(-total // 100)):
        items += (await http.get("/public/sessions", params={"pageSize": 100, "pageIndex": index})).json()["items"]
    assert len(items) == len({i["id"] for i in items}) == total
    assert not any(set(DETAIL_ONLY) & set(i) for i in items)
    assert any("sentiment" in i for i in items)  # unknown fields are in the list too


@pytest.mark.parametrize(("index", "size"), [(0, 1), (2, 100), (5, 100), (6, 100), (59, 10), (60, 10), (199, 5)])
async def test_paging(simulator: Simulator, http: httpx2.AsyncClient, index: int, size: int) -> None:
    body = (await http.get("/public/sessions", params={"pageIndex": index, "pageSize": size})).json()
    total = len(simulator.sessions_of("demo"))
    expected = simulator.sessions_of("demo")[index * size : index * size + size]
    assert [i["id"] for i in body["items"]] == [s["id"] for s in expected]
    assert len(body["items"]) == max(0, min(size, total - index * size))
    assert (body["pageIndex"], body["pageSize"], body["filteredCount"]) == (index, size, total)


async def test_page_size_is_capped_at_100(http: httpx2.AsyncClient) -> None:
    body = (await http.get("/public/sessions", params={"pageSize": 1000})).json()
    assert body["pageSize"] == 100
    assert len(body["items"]) == 100


@pytest.mark.parametrize(
    "params", [{"pageIndex": -1}, {"pageSize": 0}, {"pageIndex": "x"}, {"pageSize": "1.5"}, {"tags": "channel:web"}]
)
async def test_bad_list_parameters_get_400(http: httpx2.AsyncClient, params: dict[str, Any]) -> None:
    assert_error_body(await http.get("/public/sessions", params=params), 400, None)


async def test_list_filters(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    demo = simulator.sessions_of("demo")
    params: dict[str, str | int] = {
        "companionId": "comp_booking",
        "tags": encode_tags_query({"channel": "web"}),
        "pageSize": 100,
    }
    body = (await http.get("/public/sessions", params=params)).json()
    expected = [
        s["id"] for s in demo if s["companionId"] == "comp_booking" and (s.get("tags") or {}).get("channel") == "web"
    ]
    assert expected
    assert [i["id"] for i in body["items"]] == expected
    assert body["filteredCount"] == len(expected)
    assert body["totalCount"] == len(demo)
    external = next(s["externalClientId"] for s in demo if s.get("externalClientId"))
    body = (await http.get("/public/sessions", params={"externalClientId": external})).json()
    assert {i["externalClientId"] for i in body["items"]} == {external}
    # search is case-insensitive and looks into the transcript
    body = (await http.get("/public/sessions", params={"search": "DR. OKAFOR", "pageSize": 100})).json()
    assert body["filteredCount"] > 0
    assert all("Okafor" in json.dumps(simulator.projects["demo"].sessions[i["id"]]) for i in body["items"])


# -- one session ---------------------------------------------------------------------------


async def test_unknown_session_is_404_session_not_found(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    body = assert_error_body(await http.get("/public/sessions/sess_nope"), 404, "SessionNotFound")
    assert body["description"] == "Session not found"


async def test_a_session_of_another_project_is_404(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    theirs = simulator.sessions_of("other-tenant-key")[0]["id"]
    assert theirs not in simulator.projects["demo"].sessions
    assert_error_body(await http.get(f"/public/sessions/{theirs}"), 404, "SessionNotFound")
    ok = await http.get(f"/public/sessions/{theirs}", headers={"X-Api-Key": "other-tenant-key"})
    assert ok.status_code == 200
    assert ok.json()["id"] == theirs


async def test_session_detail_carries_the_transcript(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    wire = next(s for s in simulator.sessions_of("demo") if "functionStates" in s)
    response = await http.get(f"/public/sessions/{wire['id']}")
    assert response.status_code == 200
    assert response.json() == wire
    assert SessionDetail.model_validate(response.json()).turns


# -- connections ---------------------------------------------------------------------------


async def test_connection_is_created_and_listed(
    clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient
) -> None:
    sim, clock = clocked
    before = len(sim.sessions_of("demo"))
    body = dict(CONNECTION, externalClientId="qa_1", tags={"suite": "sim"})
    response = await clocked_http.post("/public/connections", json=body)
    assert response.status_code == 201
    answer = response.json()
    assert set(answer) == {"token", "connection"}
    assert answer["token"].count(".") == 2
    session_id = answer["connection"]["id"]
    stored = sim.projects["demo"].sessions[session_id]
    assert stored["status"] == "pending"
    assert stored["createdAt"] == int(clock.now)
    assert stored["externalClientId"] == "qa_1"
    listed = (await clocked_http.get("/public/sessions", params={"externalClientId": "qa_1"})).json()
    assert [i["id"] for i in listed["items"]] == [session_id]
    assert listed["totalCount"] == before + 1


async def test_one_connection_per_5_seconds(clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient) -> None:
    sim, clock = clocked
    assert (await clocked_http.post("/public/connections", json=CONNECTION)).status_code == 201
    clock.now += 1
    refused = await clocked_http.post("/public/connections", json=CONNECTION)
    assert_error_body(refused, 429, "RequestRateLimitExceeded")
    assert refused.headers["Retry-After"] == "4"
    clock.now += 3.9
    refused = await clocked_http.post("/public/connections", json=CONNECTION)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"  # never 0
    # the limit is per project
    other = await clocked_http.post("/public/connections", json=CONNECTION, headers={"X-Api-Key": "other-tenant-key"})
    assert other.status_code == 201
    clock.now += 0.1  # exactly 5 s after the first
    assert (await clocked_http.post("/public/connections", json=CONNECTION)).status_code == 201
    assert len(sim.projects["demo"].opened_via_api) == 2


async def test_concurrent_session_limit(clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient) -> None:
    sim, clock = clocked
    for _ in range(LIVE_SESSION_LIMIT):
        assert (await clocked_http.post("/public/connections", json=CONNECTION)).status_code == 201
        clock.now += 5
    refused = await clocked_http.post("/public/connections", json=CONNECTION)
    assert_error_body(refused, 409, "ConcurrentSessionLimitReached")
    # a live session that closes frees a place
    first_live = next(iter(sim.projects["demo"].opened_via_api))
    sim.projects["demo"].sessions[first_live]["status"] = "closed"
    clock.now += 5
    assert (await clocked_http.post("/public/connections", json=CONNECTION)).status_code == 201


@pytest.mark.parametrize(
    ("body", "description"),
    [
        (dict(CONNECTION, companionId="comp_unknown"), "Companion not found or not ready"),
        ({"companionId": "comp_support", "providerConfig": {"voiceId": "not a voice"}}, "Invalid voiceId"),
        ({"companionId": "comp_support"}, "Invalid request body"),
        (dict(CONNECTION, externalClientId="has space"), "Invalid request body"),
    ],
)
async def test_bad_connection_requests_get_400(
    clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient, body: dict[str, Any], description: str
) -> None:
    response = await clocked_http.post("/public/connections", json=body)
    assert assert_error_body(response, 400, None)["description"] == description


async def test_a_body_that_is_not_json_gets_400(
    clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient
) -> None:
    response = await clocked_http.post(
        "/public/connections", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_error_body(response, 400, None)


AGENT_PATH = "/public/agents/agent_support/connections"


async def test_agent_connection_is_created_with_its_channel(
    clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient
) -> None:
    sim, _ = clocked
    body = {"channelType": "websocket", "externalClientId": "qa_2", "tags": {"suite": "sim"}, "initialSpeech": "Hi"}
    response = await clocked_http.post(AGENT_PATH, json=body)
    assert response.status_code == 201
    session_id = response.json()["connection"]["id"]
    stored = sim.projects["demo"].sessions[session_id]
    assert stored["sessionType"] == "websocket"
    assert stored["agent"]["id"] == "agent_support"
    assert stored["companionId"] == AGENTS["agent_support"].id
    assert (stored["status"], stored["externalClientId"], stored["tags"]) == ("pending", "qa_2", {"suite": "sim"})
    assert sim.projects["demo"].connection_bodies == [body]


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/public/agents/agent_nobody/connections", {"channelType": "webrtc"}, 404, "AgentNotFound"),
        (AGENT_PATH, {"channelType": "sip"}, 400, None),
        (AGENT_PATH, {}, 400, None),
        (AGENT_PATH, {"channelType": "webrtc", "externalClientId": "has space"}, 400, None),
    ],
    ids=["unknown-agent", "bad-channel", "no-channel", "bad-client-id"],
)
async def test_bad_agent_connection_requests(
    clocked: tuple[Simulator, Clock],
    clocked_http: httpx2.AsyncClient,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    assert_error_body(await clocked_http.post(path, json=body), status, code)
    assert not clocked[0].projects["demo"].opened_via_api


async def test_both_connection_endpoints_share_one_rate_limit(
    clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient
) -> None:
    _, clock = clocked
    assert (await clocked_http.post(AGENT_PATH, json={"channelType": "webrtc"})).status_code == 201
    clock.now += 2
    refused = await clocked_http.post("/public/connections", json=CONNECTION)
    assert_error_body(refused, 429, "RequestRateLimitExceeded")
    assert refused.headers["Retry-After"] == "3"
    clock.now += 3
    assert (await clocked_http.post("/public/connections", json=CONNECTION)).status_code == 201
    clock.now += 1
    again = await clocked_http.post(AGENT_PATH, json={"channelType": "webrtc"})
    assert_error_body(again, 429, "RequestRateLimitExceeded")


async def test_live_session_limit_is_per_transport(
    clocked: tuple[Simulator, Clock], clocked_http: httpx2.AsyncClient
) -> None:
    _, clock = clocked
    for _ in range(LIVE_SESSION_LIMIT):
        assert (await clocked_http.post(AGENT_PATH, json={"channelType": "websocket"})).status_code == 201
        clock.now += 5
    assert_error_body(
        await clocked_http.post(AGENT_PATH, json={"channelType": "websocket"}), 409, "ConcurrentSessionLimitReached"
    )
    clock.now += 5
    assert (await clocked_http.post(AGENT_PATH, json={"channelType": "webrtc"})).status_code == 201


# -- recording and faults ------------------------------------------------------------------


async def test_every_request_is_recorded_with_its_raw_path(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    await http.get("/public/sessions/sess%2F..%2Fx", params={"a": "1"})
    await http.get("/public/sessions", params={"search": "café & co"})
    await http.post("/public/connections", json=CONNECTION)
    await http.get("/nowhere", headers={"X-Api-Key": "wrong"})
    recorded = list(simulator.requests)
    assert [(r.method, r.raw_path) for r in recorded] == [
        ("GET", "/public/sessions/sess%2F..%2Fx"),
        ("GET", "/public/sessions"),
        ("POST", "/public/connections"),
        ("GET", "/nowhere"),
    ]
    assert recorded[0].query == "a=1"
    assert "search=caf%C3%A9+%26+co" in recorded[1].query
    assert [r.api_key for r in recorded] == ["demo", "demo", "demo", "wrong"]


async def test_a_percent_encoded_slash_is_one_id(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    # The path never escapes the route: the decoded id is looked up as it is and not found.
    assert_error_body(await http.get("/public/sessions/..%2F..%2Fpublic%2Fsessions"), 404, "SessionNotFound")


async def test_a_status_fault_applies_to_the_next_matching_requests_only(
    simulator: Simulator, http: httpx2.AsyncClient
) -> None:
    simulator.fail_next(503, times=2, path_prefix="/public/sessions", retry_after=3, code="Busy")
    assert (await http.post("/public/connections", json=CONNECTION)).status_code == 201  # not matched
    first = await http.get("/public/sessions")
    assert_error_body(first, 503, "Busy")
    assert first.headers["Retry-After"] == "3"
    assert (await http.get("/public/sessions/sess_x")).status_code == 503
    assert (await http.get("/public/sessions")).status_code == 200
    assert simulator.faults == []


async def test_fault_kinds(simulator: Simulator, http: httpx2.AsyncClient) -> None:
    simulator.fail_next(502, with_body=False)
    bare = await http.get("/public/sessions")
    assert bare.status_code == 502
    assert bare.content == b""
    simulator.inject(Fault(kind="malformed_json"))
    with pytest.raises(ValueError):
        (await http.get("/public/sessions")).json()
    simulator.inject(Fault(kind="bad_schema"))
    assert (await http.get("/public/sessions")).json()["items"] == "not a list"
    simulator.inject(Fault(kind="huge_body", size=300_000, declare_length=True))
    huge = await http.get("/public/sessions")
    assert int(huge.headers["content-length"]) == len(huge.content) >= 300_000
    simulator.inject(Fault(kind="huge_body", size=300_000))
    huge = await http.get("/public/sessions")
    assert "content-length" not in huge.headers
    assert len(huge.content) >= 300_000
    simulator.inject(Fault(kind="delay", seconds=0.01))
    assert (await http.get("/public/sessions")).status_code == 200


# -- demo data -----------------------------------------------------------------------------


def test_demo_data_is_deterministic() -> None:
    one = Simulator(anchor=ANCHOR).sessions_of("demo")
    two = Simulator(anchor=ANCHOR).sessions_of("demo")
    assert one == two
    assert json.dumps(one) == json.dumps(two)
    other_seed = Simulator(anchor=ANCHOR, api_keys={"demo": 8}).sessions_of("demo")
    assert [s["id"] for s in other_seed] != [s["id"] for s in one]
    later = Simulator(anchor=ANCHOR + 86_400).sessions_of("demo")
    assert max(s["createdAt"] for s in later) > max(s["createdAt"] for s in one)


def test_default_anchor_is_the_start_of_the_clocks_utc_day() -> None:
    """The demo holds still all day: a session seen at 09:37 is where it was at 13:47 (issue 15)."""
    day = ANCHOR // 86_400 * 86_400
    first = Simulator(clock=lambda: day).sessions_of("demo")
    for moment in (day + 9 * 3600 + 37 * 60, day + 13 * 3600 + 47 * 60, day + 86_399):
        assert Simulator(clock=lambda moment=moment: moment).sessions_of("demo") == first
    assert first == Simulator(anchor=day).sessions_of("demo")
    assert all(s["createdAt"] < day for s in first)
    assert Simulator(clock=lambda: day + 86_400).sessions_of("demo") != first  # a new day, new data


@settings(max_examples=15, deadline=None)
@given(anchor=st.integers(1_700_000_000, 1_900_000_000), seed=st.integers(0, 10_000))
def test_tool_times_lie_within_their_session(anchor: int, seed: int) -> None:
    """A tool connects, fails or is canceled while its session runs, never before it started (issue 15)."""
    simulator = Simulator(anchor=anchor, api_keys={"demo": seed})
    for session in simulator.sessions_of("demo"):
        end = session.get("closedAt", anchor)  # an open session runs until now
        for metric in session.get("functionMetrics") or session.get("functionStates") or []:
            for key, value in metric.items():
                if key.endswith("At"):
                    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
                    assert session["startedAt"] <= moment <= end, (session["id"], metric)


def test_demo_data_holds_every_awkward_case() -> None:
    sessions = Simulator(anchor=ANCHOR).sessions_of("demo")
    assert len(sessions) >= 200
    assert len({s["id"] for s in sessions}) == len(sessions)
    assert len({s["companionId"] for s in sessions}) >= 3
    assert {s["companionId"] for s in sessions} <= {c.id for c in COMPANIONS}
    open_ = [s for s in sessions if s.get("status") == "started"]
    assert open_ and all("startedAt" in s and "closedAt" not in s for s in open_)
    assert sessions[0] in open_  # the newest is live
    pending = [s for s in sessions if s.get("status") == "pending"]
    assert pending and all("startedAt" not in s and "conversation" not in s for s in pending)
    assert [s for s in sessions if s.get("status") == "failed"]
    assert [s for s in sessions if s.get("status") == "closed" and s["conversation"]["items"] == []]
    assert max(len(s.get("conversation", {}).get("items", [])) for s in sessions) == MARATHON_TURNS >= 2000
    texts = [i["text"] for s in sessions for i in s.get("conversation", {}).get("items", [])]
    assert any(ord(ch) >= 0x1F300 for text in texts for ch in text)  # emoji
    assert any("sentiment" in s and "region" in s for s in sessions)
    assert any("functionStates" in s for s in sessions)  # tool metrics under the field's earlier name
    assert any("tags" not in s for s in sessions)
    assert any(s.get("externalClientId") is None for s in sessions)
    for s in sessions:
        stamps = [i["timestamp"] for i in s.get("conversation", {}).get("items", [])]
        assert stamps == sorted(stamps), s["id"]
        assert all(s["createdAt"] <= t for t in stamps)
        if "closedAt" in s and stamps:
            assert stamps[-1] <= s["closedAt"]
        SessionDetail.model_validate(s)


def test_demo_traffic_looks_like_a_working_month() -> None:
    sessions = Simulator(anchor=ANCHOR).sessions_of("demo")
    moments = [datetime.fromtimestamp(s.get("startedAt") or s["createdAt"], UTC) for s in sessions]
    assert (max(moments) - min(moments)).days >= 30 and len({m.date() for m in moments}) >= 30
    assert max(moments) < datetime.fromtimestamp(ANCHOR, UTC) - timedelta(seconds=30)
    assert all(s["closedAt"] <= ANCHOR for s in sessions if "closedAt" in s)
    weekday = sum(1 for m in moments if m.weekday() < 5) / 5
    weekend = sum(1 for m in moments if m.weekday() >= 5) / 2
    assert weekday > 1.5 * weekend  # more on weekdays
    working = sum(1 for m in moments if 8 <= m.hour < 18)
    assert working > 0.7 * len(moments)  # most in working hours (UTC)
    assert len(moments) - working > 0  # but not only
    assert DAYS_SPAN >= 30


def test_demo_costs_follow_the_status() -> None:
    sessions = Simulator(anchor=ANCHOR).sessions_of("demo")
    for s in sessions:
        if s["status"] == "closed":
            assert isinstance(s["cost"], float) and s["cost"] > 0, s["id"]
        elif s["status"] in ("pending", "started"):
            assert s.get("cost") is None, s["id"]  # the API sets it once the session closes
    clients = Counter(s.get("externalClientId") for s in sessions if s.get("externalClientId"))
    assert clients.most_common(1)[0][1] >= 10  # regular users come back


def test_demo_tool_metrics_hold_failures_with_their_error() -> None:
    sessions = Simulator(anchor=ANCHOR).sessions_of("demo")
    metrics = [m for s in sessions for m in s.get("functionMetrics", [])]
    assert {m["state"] for m in metrics} == {"connected", "failed", "canceled"}
    for m in metrics:  # only the timestamps that happened are present, as ISO 8601 strings
        stamp = {"connected": "connectedAt", "failed": "failedAt", "canceled": "canceledAt"}[m["state"]]
        if "startedAt" in m:
            assert datetime.fromisoformat(m[stamp]) >= datetime.fromisoformat(m["startedAt"])
        else:
            datetime.fromisoformat(m[stamp])
        assert ("error" in m) == (m["state"] == "failed")
    assert not any(s.get("functionMetrics") for s in sessions if s["status"] == "pending")


@pytest.mark.parametrize("order", LIST_ORDERS)
async def test_list_order_quirk_serves_every_session_once(
    simulator: Simulator, http: httpx2.AsyncClient, order: str
) -> None:
    simulator.list_order = order  # type: ignore[assignment]
    simulator.order_seed = 3
    pages = [
        (await http.get("/public/sessions", params={"pageSize": 100, "pageIndex": i})).json()["items"]
        for i in range(-(-len(simulator.sessions_of("demo")) // 100))
    ]
    served = [item["id"] for page in pages for item in page]
    newest_first = [s["id"] for s in simulator.sessions_of("demo")]
    assert sorted(served) == sorted(newest_first)
    assert (served == newest_first) == (order == "newest_first")
    if order == "pages_shuffled":  # each page is one sorted block of the list
        assert all([i["createdAt"] for i in p] == sorted((i["createdAt"] for i in p), reverse=True) for p in pages)


@pytest.mark.parametrize("count", [0, 1, 10, 49, 50, 60])
def test_any_session_count_makes_valid_demo_data(count: int) -> None:
    sessions = Simulator(anchor=ANCHOR, session_count=count).sessions_of("demo")
    assert len(sessions) == len({s["id"] for s in sessions}) == count
    for s in sessions:
        SessionDetail.model_validate(s)
    if count >= 50:  # room for the edge cases: a live session among them
        assert any(s["status"] == "started" for s in sessions)
