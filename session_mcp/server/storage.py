"""The session store as tools reach it: opened once per server on first use, one tenant per request.

Shared by the tools that read or write the store (``search_transcripts``, ``annotate_session``,
``review_sessions`` for reviewers' verdicts), so the file is opened (made, migrated) in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import anyio
import anyio.to_thread

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server.backend import Backend
from session_mcp.store.base import SessionStore
from session_mcp.store.sqlite import SqliteStore


class StoreBacked(Backend):
    """A backend with the store at ``store_path`` (None: no store), opened on first use."""

    def __init__(
        self,
        client: CompanionClient,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        *,
        store_path: Path | None,
    ) -> None:
        super().__init__(client, settings, clock)
        self.store_path = store_path
        self._store: SqliteStore | None = None
        self._opening = anyio.Lock()

    async def store_for(self, client: CompanionClient) -> SessionStore:
        """This key's part of the store; the file is opened (made, migrated) once, off the event loop."""
        if self.store_path is None:
            raise RuntimeError("store_for needs a store: this server runs without one")
        async with self._opening:
            if self._store is None:
                self._store = await anyio.to_thread.run_sync(SqliteStore, self.store_path)
        return self._store.for_tenant(client.fingerprint)
