"""``sync``: the store filled from a simulator over loopback HTTP, once; search finds exactly what was planted."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from session_mcp.companion.client import CompanionClient
from session_mcp.sessions.scan import STOP_AFTER_PAGES
from session_mcp.sessions.sync import CHUNK, MAX_PENDING_AGE, MIN_CHUNK, sync
from session_mcp.simulator import Simulator
from session_mcp.store.base import SearchFilters, StoreError, SyncRunningError, SyncState
from session_mcp.store.open import StoreEngine, StoreLocation, open_store
from tests.helpers import ANCHOR, FAST_RETRY, SwitchableApp
from tests.stores import check_integrity, forget

pytestmark = pytest.mark.anyio

COUNT = 2_000  # the planted-phrase test; the others need fewer
SMALL = 400
KEYS = {"demo": 7, "other-tenant-key": 99}
PHRASE = "the Zörblax voucher"
NOW = ANCHOR + 600.0


def plant(simulator: Simulator, key: str, every: int) -> set[str]:
    """``PHRASE`` said in every ``every``-th closed session of ``key``'s project; their ids."""
    planted = set()
    for index, session in enumerate(simulator.sessions_of(key)):
        items = (session.get("conversation") or {}).get("items") or []
        if index % every == 0 and session.get("status") in ("closed", "failed") and items:
            items[-1]["text"] += f" {PHRASE.upper() if index % 2 else PHRASE}"
            planted.add(session["id"])
    return planted


@pytest.fixture
def simulator(upstream: tuple[SwitchableApp, str]) -> Simulator:
    sim = Simulator(anchor=ANCHOR, api_keys=KEYS, session_count=SMALL)
    upstream[0].simulator = sim
    return sim


@pytest.fixture
def store(store_engine: StoreEngine) -> StoreEngine:
    """Each sync test on both engines (tests/stores.py)."""
    return store_engine


@pytest.fixture
async def clients(
    upstream: tuple[SwitchableApp, str], simulator: Simulator
) -> AsyncIterator[dict[str, CompanionClient]]:
    base = upstream[1]
    async with (
        CompanionClient("demo", base, retry=FAST_RETRY, timeout=10) as demo,
        CompanionClient("other-tenant-key", base, retry=FAST_RETRY, timeout=10) as other,
    ):
        yield {"demo": demo, "other-tenant-key": other}


def details(simulator: Simulator) -> list[str]:
    """The session ids whose detail was requested, in order."""
    prefix = "/public/sessions/"
    return [r.raw_path[len(prefix) :] for r in simulator.requests if r.raw_path.startswith(prefix)]


async def test_search_finds_exactly_the_planted_sessions_of_its_own_tenant(
    upstream: tuple[SwitchableApp, str], store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    simulator = upstream[0].simulator = Simulator(anchor=ANCHOR, api_keys=KEYS, session_count=COUNT)
    planted = {"demo": plant(simulator, "demo", 37), "other-tenant-key": plant(simulator, "other-tenant-key", 41)}
    tenants = {key: store.for_tenant(c.fingerprint) for key, c in clients.items()}
    started = time.perf_counter()
    for key, client in clients.items():
        result = await sync(client, tenants[key], clock=lambda: NOW)
        assert not result.partial
    elapsed = time.perf_counter() - started
    closed = sum(1 for k in KEYS for s in simulator.sessions_of(k) if s.get("status") in ("closed", "failed"))
    assert sum([(await t.info()).sessions for t in tenants.values()]) == closed
    for key, tenant in tenants.items():
        found, offset = set(), 0
        while True:
            page = await tenant.search('"zorblax voucher"', SearchFilters(), offset, 50)
            found |= {h.session_id for h in page.hits}
            if page.next_offset is None:
                break
            offset = page.next_offset
        assert found == planted[key] and page.total_sessions == len(planted[key])
    assert elapsed < 60, f"syncing {2 * COUNT} sessions took {elapsed:.1f} s"


async def test_a_second_sync_reads_no_closed_session_again(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    tenant = store.for_tenant(clients["demo"].fingerprint)
    first = await sync(clients["demo"], tenant, clock=lambda: NOW)
    assert first.open_now > 0  # the demo data has pending and started sessions
    simulator.requests.clear()
    second = await sync(clients["demo"], tenant, clock=lambda: NOW + 60)
    open_ids = {s["id"] for s in simulator.sessions_of("demo") if s.get("status") not in ("closed", "failed")}
    assert set(details(simulator)) <= open_ids
    assert second.pages <= 3 and second.stored == 0
    # A day later nothing open is revisited any more: each is given up, and said so.
    simulator.requests.clear()
    third = await sync(clients["demo"], tenant, clock=lambda: NOW + MAX_PENDING_AGE + 3600)
    assert third.given_up == first.open_now and third.open_now == 0
    simulator.requests.clear()
    await sync(clients["demo"], tenant, clock=lambda: NOW + MAX_PENDING_AGE + 7200)
    assert details(simulator) == []


async def test_a_session_that_closes_is_fetched_on_the_next_sync(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    tenant = store.for_tenant("t")
    await sync(clients["demo"], tenant, clock=lambda: NOW)
    waiting = [i for i, _ in await tenant.pending()]
    session = simulator.projects["demo"].sessions[waiting[0]]
    session |= {"status": "closed", "startedAt": session["createdAt"], "closedAt": session["createdAt"] + 60}
    result = await sync(clients["demo"], tenant, clock=lambda: NOW + 60)
    assert result.stored >= 1 and await tenant.get_session(waiting[0]) is not None
    assert waiting[0] not in {i for i, _ in await tenant.pending()}


async def test_since_bounds_the_first_sync(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    since = ANCHOR - 86_400.0
    tenant = store.for_tenant("t")
    result = await sync(clients["demo"], tenant, since=since, clock=lambda: NOW)
    wanted = [s for s in simulator.sessions_of("demo") if s["createdAt"] >= since]
    assert (await tenant.info()).oldest >= since  # type: ignore[operator]
    assert result.stored == sum(1 for s in wanted if s.get("status") in ("closed", "failed"))
    assert result.pages == 1 + STOP_AFTER_PAGES  # the page with the day, then two wholly older: not all 4


async def test_two_syncs_at_once_one_says_another_is_running(
    upstream: tuple[SwitchableApp, str], store_location: StoreLocation, clients: dict[str, CompanionClient]
) -> None:
    upstream[0].simulator = Simulator(anchor=ANCHOR, api_keys=KEYS, session_count=300, latency=0.005)
    first, second = open_store(store_location), open_store(store_location)  # as two processes would open it
    outcomes: list[str] = []

    async def run(store: StoreEngine) -> None:
        try:
            await sync(clients["demo"], store.for_tenant("t"), clock=lambda: NOW)
            outcomes.append("done")
        except SyncRunningError as exc:
            outcomes.append(str(exc))

    async with anyio.create_task_group() as group:
        group.start_soon(run, first)
        await anyio.sleep(0.05)
        group.start_soon(run, second)
    assert sorted(outcomes) == ["another sync is running on this store for this API key; wait for it to end", "done"]
    await sync(clients["demo"], second.for_tenant("t"), clock=lambda: NOW)  # the lock went with the first
    await sync(clients["demo"], second.for_tenant("another tenant"), clock=lambda: NOW)
    first.close()
    second.close()


async def test_a_sync_cut_short_leaves_a_consistent_store_that_the_next_sync_completes(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    tenant = store.for_tenant("t")
    chunks = 0

    with anyio.CancelScope() as interrupted:  # Ctrl+C: asyncio.run cancels the sync where it waits

        async def stop_after_the_first_chunk(done: int, total: int, message: str) -> None:
            nonlocal chunks
            chunks += 1
            interrupted.cancel()  # as Ctrl+C arrives between two chunks

        await sync(clients["demo"], tenant, on_progress=stop_after_the_first_chunk, clock=lambda: NOW)
    assert interrupted.cancelled_caught
    everything = [s["id"] for s in simulator.sessions_of("demo")]
    kept = await tenant.closed_ids(everything)
    assert chunks == 1 and 0 < len(kept) < SMALL and await tenant.sync_state() == SyncState()
    check_integrity(store)
    simulator.requests.clear()
    result = await sync(clients["demo"], tenant, clock=lambda: NOW)  # lists on past what it holds
    closed = {s["id"] for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")}
    assert result.stored == len(closed - kept) and not set(details(simulator)) & kept
    assert await tenant.closed_ids(everything) == closed


async def test_a_sync_cut_short_after_a_complete_one_is_completed_by_the_next(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    """The store held the older sessions (a complete sync), newer ones were missing, and a sync storing
    them newest first was cut short: the next sync must not stop at the pages it now holds."""
    tenant = store.for_tenant("t")
    await sync(clients["demo"], tenant, clock=lambda: NOW)
    everything = [s["id"] for s in simulator.sessions_of("demo")]
    closed = await tenant.closed_ids(everything)
    # As if these had come since that sync, below a first page kept as it is (open sessions and all): the
    # cut sync then stores two whole pages of them, which a stop at held pages would take for the end.
    newest = [i for i in everything[100:] if i in closed][:300]

    forget(store, tenant.tenant, newest)

    with anyio.CancelScope() as interrupted:  # Ctrl+C: asyncio.run cancels the sync where it waits

        async def stop_after_the_first_chunk(done: int, total: int, message: str) -> None:
            interrupted.cancel()  # as Ctrl+C arrives between two chunks

        await sync(clients["demo"], tenant, on_progress=stop_after_the_first_chunk, clock=lambda: NOW)
    assert interrupted.cancelled_caught
    assert 0 < len(await tenant.closed_ids(newest)) < len(newest)
    assert not (await tenant.sync_state()).complete
    await sync(clients["demo"], tenant, clock=lambda: NOW)
    assert await tenant.closed_ids(everything) == closed  # nothing left out for good
    assert (await tenant.sync_state()).complete


async def test_a_catch_up_with_nothing_new_is_one_list_request_and_reached_says_how_far_back(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    tenant = store.for_tenant("t")
    since = ANCHOR - 3 * 86_400.0
    await sync(clients["demo"], tenant, since=since, clock=lambda: NOW)
    assert (await tenant.sync_state()).reached == since  # whole from the window's start on, not before
    simulator.requests.clear()
    result = await sync(clients["demo"], tenant, catch_up=True, clock=lambda: NOW + 60)
    assert (result.pages, details(simulator)) == (1, [])  # open sessions on the page are known and still open
    await sync(clients["demo"], tenant, clock=lambda: NOW + 120)  # no since: after a complete sync, incremental
    assert (await tenant.sync_state()).reached == since
    whole = store.for_tenant("whole")
    await sync(clients["demo"], whole, clock=lambda: NOW)
    assert (await whole.sync_state()).reached is None  # listed to the end of the list


async def test_a_catch_up_does_not_stop_at_a_known_page_newer_than_the_last_sync_saw(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    """A page out of order: wholly known, but newer than the newest the last complete sync saw, so the
    sessions under it may be new too."""
    tenant = store.for_tenant("t")
    await sync(clients["demo"], tenant, clock=lambda: NOW)
    newest = simulator.sessions_of("demo")[0]
    made = [
        dict(newest, id=f"sess_new{i:04d}", createdAt=NOW + 10 + i, startedAt=NOW + 10 + i, closedAt=NOW + 70 + i)
        for i in range(120)
    ]
    for session in made:
        session["status"] = "closed"
        simulator.projects["demo"].sessions[session["id"]] = session
    async with CompanionClient("demo", str(clients["demo"].base_url), retry=FAST_RETRY) as reader:
        top = [await reader.get_session(s["id"]) for s in made[20:]]  # the newest 100: a whole known page
    await tenant.put_sessions(top)
    result = await sync(clients["demo"], tenant, catch_up=True, clock=lambda: NOW + 300)
    assert result.stored == 20 and await tenant.get_session("sess_new0000") is not None


class SlowToStore:
    """A real tenant store whose first ``put_sessions`` waits until ``fetched()`` reaches ``until``."""

    def __init__(self, tenant: Any, fetched: Callable[[], int], until: int) -> None:
        self.tenant, self.fetched, self.until = tenant, fetched, until
        self.seen_while_storing: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tenant, name)

    async def put_sessions(self, *args: Any, **kwargs: Any) -> None:
        if self.seen_while_storing is None:
            with anyio.move_on_after(20):
                while self.fetched() < self.until:
                    await anyio.sleep(0.01)
            self.seen_while_storing = self.fetched()
        await self.tenant.put_sessions(*args, **kwargs)


async def test_the_fetching_goes_on_while_a_chunk_is_stored(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    closed = [s for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")]
    assert len(closed) > CHUNK + 2 * 32 + 20  # more than a chunk and all a stalled fetch could hold
    slow = SlowToStore(store.for_tenant("t"), lambda: len(details(simulator)), len(closed))
    result = await sync(clients["demo"], slow, clock=lambda: NOW)  # type: ignore[arg-type]
    # While the first chunk was being stored, every other session was fetched (before, the fetching
    # stopped once the channel and the workers held an answer each: CHUNK + 64 at most).
    assert slow.seen_while_storing is not None and slow.seen_while_storing >= len(closed)
    assert result.stored == len(closed) and not result.partial


class ChunkSizes:
    """A real tenant store that notes the size of each chunk of sessions it is given to store."""

    def __init__(self, tenant: Any) -> None:
        self.tenant, self.sizes = tenant, list[int]()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tenant, name)

    async def put_sessions(self, sessions: Any, *args: Any, **kwargs: Any) -> None:
        self.sizes.append(len(sessions))
        await self.tenant.put_sessions(sessions, *args, **kwargs)


async def test_an_idle_storing_takes_a_small_chunk_so_the_last_one_is_small_too(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    """The storing keeps pace with the fetching: what is left to store after the last answer is no
    whole ``CHUNK`` (before, every chunk but the last held ``CHUNK`` sessions, stored after them all)."""
    closed = [s for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")]
    assert len(closed) > CHUNK
    noted = ChunkSizes(store.for_tenant("t"))
    result = await sync(clients["demo"], noted, clock=lambda: NOW)  # type: ignore[arg-type]
    assert noted.sizes[0] == MIN_CHUNK  # the storing waited for its first chunk: it got one at MIN_CHUNK
    assert max(noted.sizes) <= CHUNK and sum(noted.sizes) == result.stored == len(closed)


async def test_the_fetching_starts_while_the_list_is_still_read(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    """Each page's new sessions go to the fetching as it comes: details are asked for before the last page."""
    result = await sync(clients["demo"], store.for_tenant("t"), clock=lambda: NOW)
    paths = [r.raw_path for r in simulator.requests]
    lists = [i for i, p in enumerate(paths) if p == "/public/sessions"]
    first_detail = next(i for i, p in enumerate(paths) if p.startswith("/public/sessions/"))
    assert result.pages == len(lists) >= 3 and first_detail < lists[-1]
    closed = {s["id"] for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")}
    assert sorted(details(simulator)) == sorted(closed)  # each once


class FailsOnPage:
    """A real tenant store whose ``closed_ids`` fails at the listing's ``page``-th page."""

    def __init__(self, tenant: Any, page: int) -> None:
        self.tenant, self.page, self.calls = tenant, page, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tenant, name)

    async def closed_ids(self, ids: Any) -> set[str]:
        self.calls += 1
        if self.calls == self.page:
            raise StoreError("the store failed (test)")
        return await self.tenant.closed_ids(ids)  # type: ignore[no-any-return]


async def test_a_list_that_fails_midway_is_raised_as_it_is_while_details_are_fetched(
    simulator: Simulator, store: StoreEngine, clients: dict[str, CompanionClient]
) -> None:
    tenant = store.for_tenant("t")
    with pytest.raises(StoreError, match="test"):  # not wrapped in an exception group
        await sync(clients["demo"], FailsOnPage(tenant, 3), clock=lambda: NOW)  # type: ignore[arg-type]
    assert not (await tenant.sync_state()).complete
    check_integrity(store)
    await sync(clients["demo"], tenant, clock=lambda: NOW)
    closed = {s["id"] for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")}
    assert await tenant.closed_ids([s["id"] for s in simulator.sessions_of("demo")]) == closed
