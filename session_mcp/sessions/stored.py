"""Answers from the store: when the store may answer, and the catch-up that comes first.

A store-backed answer is only as good as what the store covers. Before one:

- with a window, the store must be whole from the window's start on (``SyncState.covers``); when
  it is not (never synced, or synced less far back), a sync bounded by ``since=window start``
  runs first. A window older than the retention's horizon is not the store's to answer;
- without one, the store answers only when it holds the whole history (``reached is None``);
- otherwise a catch-up (``sync(catch_up=True)``): one list request when nothing is new.

The caller passes through to the API (today's behaviour) when ``StoreGate.ready`` says ``None``.
A burst of calls does not list each time: one catch-up per tenant at a time (others wait for
it, then find it fresh) and none within ``CATCH_UP_EVERY`` seconds of the last. A sync running
elsewhere (another process holds the tenant's lock): the answer comes from what is stored, and
says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from session_mcp.companion.client import CompanionClient
from session_mcp.sessions.fetch import ProgressCallback
from session_mcp.sessions.freshness import Freshness
from session_mcp.sessions.sync import DAY, sync
from session_mcp.store.base import SessionStore, SyncRunningError

CATCH_UP_EVERY = 5.0
"""Seconds after a catch-up during which another answer of the same tenant skips its own.

Long enough that a model's burst of calls (a list, then stats, then transcripts) lists once; short
enough that a session that closed a moment ago shows on the next question.
"""


class StoreGate:
    """One per server: decides whether the store answers, and runs the catch-ups, one per tenant at a time."""

    def __init__(self, *, retain_days: float, clock: Callable[[], float], interval: float | None = None) -> None:
        self.retain_days = retain_days
        self.clock = clock  # "now" for retention and pending ages: the server's clock
        self.interval = CATCH_UP_EVERY if interval is None else interval
        self._locks: dict[str, anyio.Lock] = {}
        self._last: dict[str, float] = {}  # tenant -> monotonic time of its last catch-up

    async def ready(
        self,
        client: CompanionClient,
        store: SessionStore,
        start: float | None,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> Freshness | None:
        """The store, caught up, may answer for sessions from ``start`` on (``None``: all): its freshness;
        ``None`` when it cannot (the caller reads the API as without a store)."""
        if start is not None and self.retain_days > 0 and start < self.clock() - self.retain_days * DAY:
            return None
        tenant = store.tenant
        async with self._locks.setdefault(tenant, anyio.Lock()):
            state = await store.sync_state()
            if start is None and not state.covers(None):
                return None
            needs_sync = not state.covers(start)
            last = self._last.get(tenant)
            if not needs_sync and last is not None and time.monotonic() - last < self.interval:
                return Freshness(state.last_sync, "recent")
            try:
                result = await sync(
                    client,
                    store,
                    since=start if needs_sync else None,
                    retain_days=self.retain_days,
                    catch_up=not needs_sync,
                    on_progress=on_progress,
                    clock=self.clock,
                )
            except SyncRunningError:
                return Freshness(state.last_sync, "sync_running")
            self._last[tenant] = time.monotonic()
            state = await store.sync_state()
            return Freshness(state.last_sync, "synced" if needs_sync else "ran", len(result.failures))
