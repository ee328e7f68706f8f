"""Filling the store from the Companion API: newest first until it meets what it has.

Closed sessions never change, so each is fetched once. A sync:

1. lists sessions newest first, and hands each page's closed sessions it does not hold to the
   fetching (step 2) as the page arrives, while it lists the next (pages come one after another:
   50 of them at 5,000 sessions, which would otherwise be time with nothing fetched). After a
   complete sync it stops once a whole page is made of sessions the store holds, plus
   ``OVERLAP_PAGES`` more (a session that closed late, or a list a little out of order, still
   sits in that overlap). After none, or after one that was cut
   short (Ctrl+C, a failed session), it lists on to the end or to ``since``: what is held costs
   a list row, not a detail request, so a resumed sync only fetches what is missing;
2. fetches the detail of every closed session it does not hold, paced by an ``AdaptiveLimiter``
   (which paces its sends at just under the rate the API accepts once a 429 comes, and halves on
   upstream latency), and stores them a chunk at a time while it fetches the next: an
   interrupted sync keeps every chunk it finished storing;
3. keeps open sessions (``pending``, with their latest list row: answers show them as listed) and
   revisits them on later syncs until they close, or until they are older than ``MAX_PENDING_AGE``;
4. records how far back the store is whole (``SyncState.reached``): ``since`` when the listing
   stopped there, ``None`` when it reached the end of the list; a sync whose ``since`` is older
   than that lists down to it instead of stopping at what it holds;
5. applies the retention (``retain_days``): sessions older than it are deleted, ``reached`` moves
   up to its horizon, and no sync lists further back than it.

A catch-up (``catch_up=True``, before a store-backed answer) is the cheap form: it stops after
ONE page when everything on it is known (held, or pending and still listed open) and the page's
oldest is not newer than the newest seen at the last complete sync (a page out of order does not
stop it early); it revisits only the pending sessions its pages show closed. Nothing new costs
one list request.

It lives here, above the store, because it reads the API (``sessions.fetch``); the store itself
knows nothing of HTTP. One sync per tenant at a time (``SessionStore.sync_lock``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.models import MAX_PAGE_SIZE, SessionDetail, SessionSummary
from session_mcp.sessions.fetch import Failure, ProgressCallback, failure_of
from session_mcp.sessions.keep import put_closed
from session_mcp.sessions.pacing import AdaptiveLimiter
from session_mcp.sessions.scan import STOP_AFTER_PAGES
from session_mcp.store.base import SessionStore, SyncState

OVERLAP_PAGES = 1
CHUNK = 200  # details fetched, then stored, at a time at most: what an interruption can lose (with the one queued)
CHUNK_BYTES = 16_000_000  # ... and at most about this much transcript text held before it is stored
MIN_CHUNK = 20  # ... and at least this many while the storing is idle: it keeps pace, so the last chunk is small
STORE_QUEUE = 1  # chunks fetched that wait while another is stored
DAY = 86_400.0

MAX_PENDING_AGE = 24 * 3600.0
"""Seconds after its creation that an open session stops being revisited.

A session still pending or started a day after it was created is one that never started or was
never closed upstream; revisiting it on every sync would cost a detail request each time for
ever. Past this age it is dropped from the list to revisit (and counted in ``SyncResult.given_up``);
if it closes later, a sync that lists that far back (after ``store purge --all``) finds it.
"""


@dataclass
class SyncResult:
    """What one sync did; ``partial`` when some session could not be read (exit status 1)."""

    pages: int = 0
    listed: int = 0
    fetched: int = 0
    stored: int = 0
    open_now: int = 0  # open sessions to revisit after this sync
    given_up: int = 0  # open sessions older than MAX_PENDING_AGE, no longer revisited
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def partial(self) -> bool:
        return bool(self.failures)


@dataclass
class _Listing:
    """What the list pages said: sessions handed to the fetching, open ones, the newest list time."""

    queued: set[str] = field(default_factory=set)  # closed ones listed, then pending revisits: each fetched once
    open: dict[str, SessionSummary] = field(default_factory=dict)
    newest: float | None = None
    reached_since: bool = False  # it stopped at ``since`` (older sessions not listed)


async def sync(
    client: CompanionClient,
    store: SessionStore,
    *,
    since: float | None = None,
    retain_days: float = 0,
    catch_up: bool = False,
    pacer: AdaptiveLimiter | None = None,
    on_progress: ProgressCallback | None = None,
    clock: Callable[[], float] = time.time,
) -> SyncResult:
    """Bring ``store`` up to date with the API; ``since`` (Unix seconds) bounds how far back it lists.

    Raises ``SyncRunningError`` when another sync of this tenant runs, ``CompanionError`` when the
    list cannot be read; a session that cannot be read is a ``Failure`` in the result.
    """
    started = time.monotonic()
    pacer = pacer or AdaptiveLimiter()
    result = SyncResult()
    async with store.sync_lock():
        state = await store.sync_state()
        now = clock()
        horizon = now - retain_days * DAY if retain_days > 0 else None
        # After a complete sync that covers ``since``, listing stops at what is held; else it lists down to it.
        incremental = state.complete and (since is None or state.covers(since))
        if incremental and since is None:  # topping up: no further back than the store is whole
            since = state.reached
        if horizon is not None:  # nothing older than the retention keeps is listed
            since = max(since if since is not None else horizon, horizon)
        # Until this sync ends whole, the store may hold the newest sessions and miss older ones.
        await store.set_sync_state(replace(state, complete=False))
        stop = _Stop(catch_up and incremental, state.newest_seen)
        listing = _Listing()

        async def list_then_revisit(queue: MemoryObjectSendStream[str]) -> None:
            """List (each page's ids to ``queue`` as it comes), then queue the pending sessions to revisit."""
            await _list(client, store, since, stop_at_held=incremental, stop=stop, result=result, listing=listing,
                        queue=queue, pacer=pacer)  # fmt: skip
            pending = [] if catch_up else [(i, t) for i, t in await store.pending() if i not in listing.open]
            stale = [i for i, t in pending if now - t > MAX_PENDING_AGE]
            await store.drop_pending(stale)
            result.given_up += len(stale)
            for session_id, seen in pending:
                if now - seen <= MAX_PENDING_AGE and session_id not in listing.queued:
                    listing.queued.add(session_id)
                    await queue.send(session_id)

        await _fetch_and_store(client, store, list_then_revisit, listing, pacer, on_progress, now, result)
        # Every open session keeps its latest list row (answers show it); the old ones are not revisited.
        await store.set_pending(list(listing.open.values()), now)
        stale_open = [i for i, s in listing.open.items() if _age(s.list_time, now) > MAX_PENDING_AGE]
        await store.drop_pending(stale_open)
        result.given_up += len(stale_open)
        result.open_now = len(await store.pending())
        if not result.partial:  # an unfinished sync stays marked incomplete: the next one lists on
            newest = max(filter(None, (listing.newest, state.newest_seen)), default=None)
            reached = state.reached if incremental else (since if listing.reached_since else None)
            if horizon is not None:
                deleted = await store.purge(horizon)
                if reached is not None or deleted:
                    reached = max(reached if reached is not None else horizon, horizon)
            await store.set_sync_state(SyncState(last_sync=now, newest_seen=newest, complete=True, reached=reached))
    result.seconds = time.monotonic() - started
    return result


@dataclass
class _Stop:
    """When a catch-up's listing may stop after one page (see the module's docstring)."""

    after_one_page: bool
    newest_seen: float | None

    def known(
        self, page: Sequence[SessionSummary], wanted: Sequence[SessionSummary], held: set[str], open_known: set[str]
    ) -> bool:
        """Every wanted item (those not older than ``since``) held, or known open and still open; and the
        page reaches back to the last sync's newest."""
        if not self.after_one_page or self.newest_seen is None or not page:
            return False
        everything_known = all(s.id in held or (s.id in open_known and not s.is_closed) for s in wanted)
        oldest = min((s.list_time for s in page if s.list_time is not None), default=None)
        return everything_known and oldest is not None and oldest <= self.newest_seen


async def _list(
    client: CompanionClient,
    store: SessionStore,
    since: float | None,
    *,
    stop_at_held: bool,
    stop: _Stop,
    result: SyncResult,
    listing: _Listing,
    queue: MemoryObjectSendStream[str],
    pacer: AdaptiveLimiter,
) -> None:
    """Read the list into ``listing``, each closed session not held sent to ``queue`` as its page comes.

    What counts as held is what the store held before this sync: the sessions it queued (and may have
    stored meanwhile) are left out, so the stop rules see the pages as an unpipelined listing would.
    """
    held_pages = old_pages = 0
    async for page in client.iter_pages(page_size=MAX_PAGE_SIZE, slot=pacer.slot):
        result.pages += 1
        result.listed += len(page.items)
        held = await store.closed_ids([item.id for item in page.items]) - listing.queued
        wanted = [s for s in page.items if since is None or (s.list_time or 0) >= since]
        for item in wanted:
            listing.newest = max(filter(None, (listing.newest, item.list_time)), default=None)
            if item.id in held or item.id in listing.queued:
                continue
            if item.is_closed:
                listing.queued.add(item.id)
                await queue.send(item.id)
            else:
                listing.open[item.id] = item
        old_pages = old_pages + 1 if page.items and not wanted else 0
        if old_pages >= STOP_AFTER_PAGES:  # whole pages older than ``since``, in a row: as the scan stops
            listing.reached_since = True
            break
        if stop.after_one_page and stop.known(page.items, wanted, held, await store.open_ids([i.id for i in wanted])):
            break
        held_pages = held_pages + 1 if page.items and len(held) == len(page.items) else 0
        if stop_at_held and held_pages > OVERLAP_PAGES:
            break


async def _fetch_and_store(
    client: CompanionClient,
    store: SessionStore,
    produce: Callable[[MemoryObjectSendStream[str]], Awaitable[None]],
    listing: _Listing,
    pacer: AdaptiveLimiter,
    on_progress: ProgressCallback | None,
    now: float,
    result: SyncResult,
) -> None:
    """Fetch the details of the ids ``produce`` sends (as it lists), store the closed ones a chunk at a
    time, keep the open ones to revisit.

    Requests stream: ``pacer.maximum`` workers take the next id as each request ends, so a slow
    answer (a 429's ``Retry-After``) holds one request, not a group waiting for its slowest. A
    chunk is handed to the storing task once it holds ``CHUNK`` sessions or ``CHUNK_BYTES`` of
    text, and the fetching goes on while it is stored (storing a chunk takes about as long as
    fetching one at the API's rate: in turn, they would halve it). While the storing task is idle, a
    chunk goes to it at ``MIN_CHUNK``: the storing keeps pace with the fetching, and what is left to
    store after the last answer (the sync's tail) is a few sessions, not up to ``CHUNK``. At most
    ``STORE_QUEUE`` chunks wait for the store, and ``pacer.maximum`` answers in the channel. The
    progress's total is what the listing has queued so far. A list that cannot be read stops it all and is raised.
    """
    queue, pending = anyio.create_memory_object_stream[str](math.inf)  # ids: the listing never waits
    send, receive = anyio.create_memory_object_stream[SessionDetail | Failure](pacer.maximum)
    to_store, chunks = anyio.create_memory_object_stream[tuple[list[SessionDetail], int]](STORE_QUEUE)
    failed: list[Exception] = []

    async def lister(cancel: anyio.CancelScope) -> None:
        async with queue:
            try:
                await produce(queue)
            except Exception as exc:  # a list not read stops it all; raised as it is, not in an exception group
                failed.append(exc)
                cancel.cancel()

    async def worker(ids: MemoryObjectReceiveStream[str], out: MemoryObjectSendStream[SessionDetail | Failure]) -> None:
        async with ids, out:
            async for session_id in ids:  # one channel shared by the workers: each id is taken once
                item: SessionDetail | Failure
                try:
                    async with pacer.slot():  # the body kept as it came when plain: stored without re-making it
                        item = await client.get_session(session_id, use_cache=False, keep_body=True)
                except Exception as exc:  # whatever one session raises is its own failure
                    item = failure_of(client, session_id, exc)
                await out.send(item)

    async def storer() -> None:
        async with chunks:
            async for chunk, done in chunks:
                await _store_chunk(store, chunk, now, result)
                if on_progress is not None:
                    await on_progress(done, len(listing.queued), f"stored {result.stored} sessions")

    done = sent = 0
    held: list[SessionDetail] = []
    held_bytes = 0
    async with anyio.create_task_group() as group:
        group.start_soon(lister, group.cancel_scope)
        group.start_soon(storer)
        async with send, pending:  # each worker holds clones: the channels end when the last one is done
            for _ in range(pacer.maximum):
                group.start_soon(worker, pending.clone(), send.clone())
        async with receive, to_store:
            async for item in receive:
                done += 1
                if isinstance(item, Failure):
                    result.failures.append(item)
                else:
                    held.append(item)
                    held_bytes += sum(len(t.text) for t in item.turns)
                    result.fetched += 1
                idle = to_store.statistics().tasks_waiting_receive > 0  # the storer waits for a chunk
                if len(held) >= CHUNK or held_bytes >= CHUNK_BYTES or (idle and len(held) >= MIN_CHUNK):
                    await to_store.send((held, done))
                    held, held_bytes, sent = [], 0, done
            if done > sent:  # the last chunk, or the progress of the last failures
                await to_store.send((held, done))
    if failed:
        raise failed[0]


async def _store_chunk(store: SessionStore, fetched: list[SessionDetail], now: float, result: SyncResult) -> None:
    """Store the closed sessions of ``fetched``, keep the open ones to revisit."""
    closed = [s for s in fetched if s.is_closed]
    still_open: list[SessionDetail] = [s for s in fetched if not s.is_closed]
    await put_closed(store, closed)
    stale = {s.id for s in still_open if _age(s.list_time, now) > MAX_PENDING_AGE}
    if still_open:  # each is a write transaction of its own: none for nothing
        await store.set_pending(still_open, now)
    if stale:
        await store.drop_pending(list(stale))
    result.stored += len(closed)
    result.given_up += len(stale)


def _age(moment: float | None, now: float) -> float:
    """Seconds since ``moment``; unknown counts as new (``pending`` then ages it from when it was first seen)."""
    return 0.0 if moment is None else now - moment
