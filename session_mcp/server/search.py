"""``search_transcripts``: full-text search over the transcripts in the session store.

Registered only when a store is configured (on by default; off with ``--no-store``, and with
``--demo`` unless ``--store`` is given): a tool that could only answer "no store" would cost the
model a call, and every host a schema. It searches what is stored, for this request's key only
(its tenant), and says when the store was last synced; it never reads the Companion API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.render.search import SearchResult, check_query, fit_hits, render_search, search_result
from session_mcp.server.arguments import NO_BOOL, CompanionId, Since, Status, Until
from session_mcp.server.backend import Backend
from session_mcp.server.toolkit import structured, tool_errors
from session_mcp.store.base import SearchFilters, SessionStore, StoreError
from session_mcp.store.open import StoreEngine, StoreLocation, open_store
from session_mcp.store.search import MAX_QUERY_CHARS, QueryError

CURSOR_PREFIX = "t1."
MAX_HITS_PER_PAGE = 100

Query = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description='Words (all must match), "exact phrase", a OR b, NOT word or -word, prefix* (2+ letters); '
        'case and accents ignored, no stemming (refun* finds refunded). E.g. refund "charged twice" NOT voucher.',
    ),
]
Role = Annotated[Literal["user", "agent"] | None, Field(description="Only turns said by the user, or the agent.")]
PageSize = Annotated[int, Field(ge=1, le=MAX_HITS_PER_PAGE, description="Hits per page."), NO_BOOL]
SearchCursor = Annotated[
    str, Field(max_length=400, description="next_cursor of the previous answer (repeat the same query and filters).")
]


class SearchTools(Backend):
    """The transcript search over the store at ``store_path``, opened on first use."""

    def __init__(
        self,
        client: CompanionClient,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        *,
        store_path: StoreLocation,
    ) -> None:
        super().__init__(client, settings, clock)
        self.store_path = store_path
        self._store: StoreEngine | None = None
        self._opening = anyio.Lock()

    async def store_for(self, client: CompanionClient) -> SessionStore:
        """This key's part of the store; the store is opened (made, migrated) once, off the event loop."""
        async with self._opening:
            if self._store is None:
                self._store = await anyio.to_thread.run_sync(open_store, self.store_path)
        return self._store.for_tenant(client.fingerprint)

    async def search_transcripts(
        self,
        ctx: Context,
        query: Query,
        role: Role = None,
        companion_id: CompanionId = "",
        since: Since = "",
        until: Until = "",
        status: Status = None,
        page_size: PageSize = 20,
        cursor: SearchCursor = "",
    ) -> Annotated[CallToolResult, SearchResult]:
        """Search what users and agents said, across every stored session: ranked matching turns, each with
        its session (id, companion, start, status, hits in it), the turn's [mm:ss] and role, and a snippet
        with the matched words between « and ». Exact totals; next_cursor reads on. It searches the session
        store (filled by `session-mcp sync`) and says when that was last synced; read a whole conversation
        with get_session_transcript. Use list_sessions' search for the API's own free-text filter."""
        with tool_errors():
            window = self.window(since, until)
            client = self.client_for(ctx)
            check_query(query, redact=self.settings.redact_pii)
        filters = SearchFilters(
            role=role,
            companion_id=companion_id or None,
            statuses=tuple(status or ()),
            since=window.start.timestamp() if window.start else None,
            until=window.end.timestamp() if window.end else None,
        )
        search_key = hashlib.sha256(json.dumps([query, repr(filters)]).encode()).hexdigest()[:16]
        offset = self._offset(cursor, search_key, client.fingerprint)
        try:
            store = await self.store_for(client)
            page = await store.search(query, filters, offset, page_size)
            state = await store.sync_state()
        except (QueryError, StoreError) as exc:
            raise ToolError(str(exc)) from None
        result = search_result(query, page, state, redact=self.settings.redact_pii)
        result.hits = result.hits[: fit_hits(result, self.settings.max_chars)]
        end = offset + len(result.hits)
        more = None
        if end < page.total_hits:
            payload = json.dumps({"o": end, "k": search_key}).encode()
            result.next_cursor = self.cursors.seal(CURSOR_PREFIX, payload, client.fingerprint)
            more = (
                f"[cut: {page.total_hits - end} more hits. search_transcripts with the same query and filters and "
                f"cursor={result.next_cursor!r} reads on.]"
            )
        return structured(result, render_search(result, more))

    def _offset(self, cursor: str, search_key: str, tenant: str) -> int:
        """Where the page starts: 0, or the offset a cursor of this same search holds."""
        if not cursor:
            return 0
        payload = self.cursors.open(CURSOR_PREFIX, cursor, tenant)
        try:
            opened = json.loads(payload) if payload is not None else {}
        except ValueError:
            opened = {}
        if not isinstance(opened, dict) or opened.get("k") != search_key or not isinstance(opened.get("o"), int):
            raise ToolError(
                "This cursor is not one of this search's: pass the next_cursor of the previous answer with the same "
                "query and filters, or leave cursor out to start again."
            )
        return int(opened["o"])
