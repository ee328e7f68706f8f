"""The cache of closed sessions: LRU bounds, partitioning by key, and what the client skips."""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_mcp.companion.cache import SessionCache, key_fingerprint, resident_size
from session_mcp.companion.client import CompanionClient
from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail
from session_mcp.errors import NotFoundError
from session_mcp.simulator import Simulator

pytestmark = pytest.mark.anyio

URL = "https://api.example.com"
ALICE = key_fingerprint("alice-key", URL)
BOB = key_fingerprint("bob-key", URL)


T0 = 1_710_000_000


def closed(session_id: str, size: int = 10) -> SessionDetail:
    """A closed session whose cache size, for ``SessionCache(sizer=declared)``, is ``size``."""
    return SessionDetail.model_validate(
        {"id": session_id, "startedAt": T0, "closedAt": T0 + 1, "status": "closed", "size": size}
    )


def declared(session: SessionDetail) -> int:
    return int(session.extra_fields.get("size", 10))


def sized_cache(**bounds: int) -> SessionCache:
    return SessionCache(sizer=declared, **bounds)


# -- SessionCache as a unit ----------------------------------------------------------------


def test_closed_session_is_kept_and_served() -> None:
    cache = sized_cache()
    session = closed("s1", 100)
    assert cache.get(ALICE, "s1") is None
    cache.put(ALICE, session)
    assert cache.get(ALICE, "s1") is session
    assert cache.stats().entries == 1
    assert cache.stats().bytes == 100
    assert cache.stats().hits == 1
    assert cache.stats().misses == 1


@pytest.mark.parametrize(
    "wire",
    [
        {"id": "s", "status": "started", "startedAt": T0},
        {"id": "s", "status": "pending"},
        {"id": "s"},
        {"id": "s", "startedAt": T0},
    ],
)
def test_live_sessions_are_never_kept(wire: dict[str, Any]) -> None:
    cache = sized_cache()
    cache.put(ALICE, SessionDetail.model_validate(wire))
    assert cache.get(ALICE, "s") is None
    assert cache.stats().entries == 0


def test_failed_session_is_final_and_kept() -> None:
    cache = sized_cache()
    cache.put(ALICE, SessionDetail.model_validate({"id": "s", "status": "failed"}))
    assert cache.get(ALICE, "s") is not None


def test_entries_are_partitioned_by_key() -> None:
    cache = sized_cache()
    cache.put(ALICE, closed("s1", 10))
    assert cache.get(BOB, "s1") is None
    bob_copy = closed("s1")
    cache.put(BOB, bob_copy)
    assert cache.get(BOB, "s1") is bob_copy
    assert cache.get(ALICE, "s1") is not bob_copy
    assert cache.stats().entries == 2


def test_lru_bound_in_entries_evicts_the_least_recently_used() -> None:
    cache = sized_cache(max_entries=2)
    cache.put(ALICE, closed("a", 1))
    cache.put(ALICE, closed("b", 1))
    assert cache.get(ALICE, "a") is not None  # "b" is now the least recently used
    cache.put(ALICE, closed("c", 1))
    assert cache.get(ALICE, "b") is None
    assert cache.get(ALICE, "a") is not None
    assert cache.get(ALICE, "c") is not None
    assert cache.stats().entries == 2
    assert cache.stats().bytes == 2


def test_lru_bound_in_bytes() -> None:
    cache = sized_cache(max_entries=100, max_bytes=100)
    cache.put(ALICE, closed("a", 40))
    cache.put(ALICE, closed("b", 40))
    cache.get(ALICE, "a")
    cache.put(ALICE, closed("c", 40))  # 120 > 100: the LRU entry "b" goes
    assert cache.get(ALICE, "b") is None
    assert cache.get(ALICE, "a") is not None
    assert cache.get(ALICE, "c") is not None
    assert cache.stats().bytes == 80
    cache.put(ALICE, closed("d", 100))  # takes the whole budget
    assert cache.stats().entries == 1
    assert cache.stats().bytes == 100
    assert cache.get(ALICE, "d") is not None


def test_an_entry_larger_than_the_budget_is_not_kept_and_evicts_nothing() -> None:
    cache = sized_cache(max_bytes=100)
    cache.put(ALICE, closed("a", 60))
    cache.put(ALICE, closed("big", 101))
    assert cache.get(ALICE, "big") is None
    assert cache.get(ALICE, "a") is not None
    assert cache.stats().bytes == 60


def test_replacing_an_entry_does_not_count_its_bytes_twice() -> None:
    cache = sized_cache(max_bytes=100)
    cache.put(ALICE, closed("a", 60))
    newer = closed("a", 70)
    cache.put(ALICE, newer)
    assert cache.stats().entries == 1
    assert cache.stats().bytes == 70
    assert cache.get(ALICE, "a") is newer


def test_zero_entries_disables_the_cache() -> None:
    cache = sized_cache(max_entries=0)
    cache.put(ALICE, closed("a", 1))
    assert cache.get(ALICE, "a") is None


def test_clear_empties_the_cache() -> None:
    cache = sized_cache()
    cache.put(ALICE, closed("a", 5))
    cache.clear()
    assert cache.get(ALICE, "a") is None
    assert cache.stats().entries == 0
    assert cache.stats().bytes == 0


@given(
    max_entries=st.integers(1, 5),
    max_bytes=st.integers(1, 200),
    puts=st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 120)), max_size=40),
)
def test_bounds_hold_under_any_sequence_of_puts(max_entries: int, max_bytes: int, puts: list[tuple[str, int]]) -> None:
    cache = sized_cache(max_entries=max_entries, max_bytes=max_bytes)
    model: dict[str, int] = {}  # reference LRU: insertion order is recency
    for session_id, size in puts:
        cache.put(ALICE, closed(session_id, size))
        if size <= max_bytes:
            model.pop(session_id, None)
            model[session_id] = size
            while len(model) > max_entries or sum(model.values()) > max_bytes:
                del model[next(iter(model))]
        stats = cache.stats()
        assert stats.entries <= max_entries
        assert stats.bytes <= max_bytes
        assert stats.entries == len(model)
        assert stats.bytes == sum(model.values())
    for session_id in "abcdefg":
        assert (cache.get(ALICE, session_id) is not None) == (session_id in model)


def test_key_fingerprint_is_stable_distinct_and_not_the_key() -> None:
    key = "sk-test-SECRET-123"
    assert key_fingerprint(key, URL) == key_fingerprint(key, URL)
    assert key_fingerprint(key, URL) != key_fingerprint(key + "4", URL)
    assert "SECRET" not in key_fingerprint(key, URL)


def test_key_fingerprint_covers_the_base_url_too() -> None:
    key = "sk-test-SECRET-123"
    assert key_fingerprint(key, URL) != key_fingerprint(key, "https://staging.example.com")
    assert key_fingerprint("a", "bc") != key_fingerprint("ab", "c")  # no two pairs run together


# -- the client's use of the cache ---------------------------------------------------------


def detail_requests(simulator: Simulator, session_id: str) -> list[str | None]:
    """The API keys of the recorded GETs of one session."""
    path = "/public/sessions/" + session_id
    return [r.api_key for r in simulator.requests if r.method == "GET" and r.raw_path == path]


def first(simulator: Simulator, status: str) -> str:
    return str(next(s["id"] for s in simulator.sessions_of("demo") if s.get("status") == status))


async def test_rereading_a_closed_session_sends_no_request(simulator: Simulator, client: CompanionClient) -> None:
    session_id = first(simulator, "closed")
    one = await client.get_session(session_id)
    assert len(simulator.requests) == 1
    two = await client.get_session(session_id)
    three = await client.get_session(session_id)
    assert len(simulator.requests) == 1
    assert one is two is three
    assert client.cache.stats().entries == 1
    assert client.cache.stats().bytes > 0


async def test_a_failed_session_is_read_once(simulator: Simulator, client: CompanionClient) -> None:
    session_id = first(simulator, "failed")
    await client.get_session(session_id)
    await client.get_session(session_id)
    assert len(detail_requests(simulator, session_id)) == 1


@pytest.mark.parametrize("status", ["started", "pending"])
async def test_a_live_session_is_always_fetched(simulator: Simulator, client: CompanionClient, status: str) -> None:
    session_id = first(simulator, status)
    first_read = await client.get_session(session_id)
    assert first_read.state == status
    # It changes upstream between reads: the second read must see the change.
    simulator.projects["demo"].sessions[session_id]["status"] = "closed"
    simulator.projects["demo"].sessions[session_id]["closedAt"] = 1_790_000_500
    second_read = await client.get_session(session_id)
    assert second_read.state == "closed"
    assert len(detail_requests(simulator, session_id)) == 2
    # now it is closed, so it is cached
    await client.get_session(session_id)
    assert len(detail_requests(simulator, session_id)) == 2


async def test_errors_are_not_cached(simulator: Simulator, client: CompanionClient) -> None:
    with pytest.raises(NotFoundError):
        await client.get_session("sess_missing")
    with pytest.raises(NotFoundError):
        await client.get_session("sess_missing")
    assert len(detail_requests(simulator, "sess_missing")) == 2


async def test_the_cache_is_per_key(simulator: Simulator, client: CompanionClient) -> None:
    demo_id = first(simulator, "closed")
    await client.get_session(demo_id)
    other = client.with_api_key("other-tenant-key")
    assert other.cache is client.cache  # shared, but partitioned
    with pytest.raises(NotFoundError):
        await other.get_session(demo_id)
    assert detail_requests(simulator, demo_id) == ["demo", "other-tenant-key"]
    # and the other way round: the other tenant's cached session is not the demo key's
    other_id = next(s["id"] for s in simulator.sessions_of("other-tenant-key") if s.get("status") == "closed")
    await other.get_session(other_id)
    await other.get_session(other_id)
    with pytest.raises(NotFoundError):
        await client.get_session(other_id)
    assert detail_requests(simulator, other_id) == ["other-tenant-key", "demo"]
    # the demo key's own entry is still served from the cache
    await client.get_session(demo_id)
    assert detail_requests(simulator, demo_id) == ["demo", "other-tenant-key"]


# -- the byte bound is on resident memory ------------------------------------------------------


def long_session(session_id: str, turns: int) -> dict[str, Any]:
    """A closed session with ``turns`` short turns: small as JSON, large as Python objects."""
    items = [
        {"role": "agent" if i % 2 else "user", "text": f"message number {i} " * (i % 4), "timestamp": T0 + i}
        for i in range(turns)
    ]
    return {
        "id": session_id,
        "status": "closed",
        "startedAt": T0,
        "closedAt": T0 + turns,
        "conversation": {"items": items},
    }


def test_the_estimate_is_within_a_factor_of_two_of_the_memory_held() -> None:
    body = json.dumps(long_session("sess_long", 50_000)).encode()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        session = ingest(body, SessionDetail, what="GET /public/sessions/sess_long")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimate = resident_size(session)
    print(f"\n50,000 turns: {len(body):,} bytes of JSON, {held:,} held, estimate {estimate:,} ({estimate / held:.2f}x)")
    assert held / 2 <= estimate <= held * 2
    assert held > 4 * len(body)  # why JSON bytes were the wrong measure


async def test_a_session_that_fits_as_json_but_not_in_memory_is_not_kept(simulator: Simulator, base_url: str) -> None:
    sessions = simulator.projects["demo"].sessions
    sessions["sess_long"] = long_session("sess_long", 20_000)  # about 1 MB of JSON, over 12 MB held
    small = first(simulator, "closed")
    cache = SessionCache(max_bytes=8 * 1024 * 1024)
    async with CompanionClient(api_key="demo", base_url=base_url, cache=cache) as client:
        await client.get_session("sess_long")
        await client.get_session(small)
    assert cache.peek(client.fingerprint, "sess_long") is None
    assert cache.peek(client.fingerprint, small) is not None
    assert 0 < cache.stats().bytes <= cache.max_bytes
