"""The server's one session store: opened once on first use, closed with the server's lifespan.

Every surface (tools, resources, the search) shares one ``ServerStore``: one SQLite connection and
one ``StoreGate`` (the catch-ups, one per tenant at a time). A request reads its own tenant's part
only: ``tenant(client)`` binds the store to ``client.fingerprint``, which ``Backend.client_for``
made from the request's own key, so per-request keys over HTTP never cross.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio
import anyio.to_thread

from session_mcp.companion.client import CompanionClient
from session_mcp.sessions.stored import StoreGate
from session_mcp.store.base import SessionStore
from session_mcp.store.open import StoreEngine, StoreLocation, open_store


class ServerStore:
    """The store at ``path`` (``None``: no store, every answer reads the API), opened on first use."""

    def __init__(self, path: StoreLocation | None, *, retain_days: int, clock: Callable[[], datetime]) -> None:
        self.path = path
        self.gate = StoreGate(retain_days=retain_days, clock=lambda: clock().timestamp())
        self._store: StoreEngine | None = None
        self._opening = anyio.Lock()
        self._users = 0  # lifespans running: in memory, one per connection

    async def tenant(self, client: CompanionClient) -> SessionStore | None:
        """This key's part of the store; the file is opened (made, migrated) once, off the event loop.

        Raises ``StoreError`` when the file cannot be used."""
        if self.path is None:
            return None
        async with self._opening:
            if self._store is None:
                self._store = await anyio.to_thread.run_sync(open_store, self.path)
        return self._store.for_tenant(client.fingerprint)

    def close(self) -> None:
        """Close the file (a later use opens it again)."""
        store, self._store = self._store, None
        if store is not None:
            store.close()

    @asynccontextmanager
    async def lifespan(self, server: Any) -> AsyncIterator[dict[str, Any]]:
        """The server's lifespan: the store is closed when it ends (stdio: the process; memory: the connection)."""
        self._users += 1
        try:
            yield {}
        finally:
            self._users -= 1
            if not self._users:
                self.close()
