"""``search_transcripts``: full-text search over the transcripts in the session store.

Registered only when a store is configured (on by default; off with ``--no-store``, and with
``--demo`` unless ``--store`` is given): a tool that could only answer "no store" would cost the
model a call, and every host a schema. It searches what is stored, for this request's key only
(its tenant), and says when the store was last synced; it reads the Companion API only to tell
an unknown ``companion_id`` from one without hits (``server/directory.py``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.render.search import SearchResult, check_query, fit_hits, render_search, search_result
from session_mcp.server.arguments import NO_BOOL, CompanionId, ExternalClientId, Since, Status, Tags, Timezone, Until
from session_mcp.server.backend import Backend
from session_mcp.server.directory import check_companion_filter
from session_mcp.server.toolkit import structured, tool_errors
from session_mcp.store.base import SearchFilters, StoreError
from session_mcp.store.search import MAX_QUERY_CHARS, QueryError

CURSOR_PREFIX = "t1."
MAX_HITS_PER_PAGE = 100

Query = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description='Words (all must match), "exact phrase", a OR b, NOT word, prefix*; case and accents '
        "ignored, no stemming (refun* finds refunded).",
    ),
]
Role = Annotated[Literal["user", "agent"] | None, Field(description="Only turns said by the user, or the agent.")]
PageSize = Annotated[int, Field(ge=1, le=MAX_HITS_PER_PAGE, description="Hits per page."), NO_BOOL]
SearchCursor = Annotated[
    str, Field(max_length=400, description="next_cursor of the previous answer, same query and filters.")
]


class SearchTools(Backend):
    """The transcript search over the server's store (``Backend.stores``, opened on first use)."""

    async def search_transcripts(
        self,
        ctx: Context,
        query: Query,
        role: Role = None,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        tags: Tags = None,
        since: Since = "",
        until: Until = "",
        timezone: Timezone = "",
        status: Status = None,
        page_size: PageSize = 20,
        cursor: SearchCursor = "",
    ) -> Annotated[CallToolResult, SearchResult]:
        """Search what users and agents said in every stored session (filled by `session-mcp sync`): ranked
        turns with their session, [mm:ss], role and a snippet (matches in « »); exact totals."""
        with tool_errors():
            window = self.window(since, until, timezone)
            client = self.client_for(ctx)
            check_query(query, redact=self.settings.redact_pii)
        filters = SearchFilters(
            role=role,
            companion_id=companion_id or None,
            external_client_id=external_client_id or None,
            tags=tuple(sorted((tags or {}).items())),
            statuses=tuple(status or ()),
            since=window.start.timestamp() if window.start else None,
            until=window.end.timestamp() if window.end else None,
        )
        search_key = hashlib.sha256(json.dumps([query, repr(filters)]).encode()).hexdigest()[:16]
        offset = self._offset(cursor, search_key, client.fingerprint)
        try:
            store = await self.stores.tenant(client)
            if store is None:  # not registered without a store
                raise ToolError("There is no session store (--no-store): search_transcripts needs one.")
            page = await store.search(query, filters, offset, page_size)
            state = await store.sync_state()
        except (QueryError, StoreError) as exc:
            raise ToolError(str(exc)) from None
        await check_companion_filter(self, ctx, companion_id, empty=not page.total_hits and not offset)
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
