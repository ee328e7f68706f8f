"""The reading tools: list, one transcript, many transcripts, statistics."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.models import MAX_PAGE_SIZE
from session_mcp.companion.offload import off_loop
from session_mcp.render.batch import BatchResult, fit_batch, render_batch
from session_mcp.render.freshness import FRESHNESS_CHARS, with_freshness
from session_mcp.render.page import (
    SessionPageResult,
    render_session_page,
    scanned_page_result,
    session_page_result,
    stored_page_result,
)
from session_mcp.render.scan_info import ScanInfo, scan_info
from session_mcp.render.transcript import TranscriptResult, render_transcript, transcript_window
from session_mcp.server.arguments import (
    DEFAULT_BATCH,
    MAX_BATCH,
    MAX_DIGESTS,
    MAX_STATS,
    MAX_TURNS_PER_CALL,
    NO_BOOL,
    CloseReason,
    CompanionId,
    Cursor,
    Detail,
    ExternalClientId,
    Modality,
    Search,
    SessionId,
    SessionIds,
    SessionType,
    Since,
    Status,
    Tags,
    Timezone,
    Until,
    session_criteria,
    session_filters,
)
from session_mcp.server.backend import Backend, Stored, text_size
from session_mcp.server.directory import check_companion_filter
from session_mcp.server.resources import session_link
from session_mcp.server.toolkit import linked, progress_reporter, structured, tool_errors
from session_mcp.sessions.criteria import Criteria, Scan
from session_mcp.sessions.cursors import scan_page
from session_mcp.sessions.fetch import Failure, fetch_sessions
from session_mcp.sessions.keyset import Keyset, arguments_digest, is_keyset, open_keyset, seal_keyset
from session_mcp.sessions.select import Selected, Selection, needs_scan, select
from session_mcp.stats.figures import session_stats
from session_mcp.stats.result import StatsResult
from session_mcp.stats.text import render_stats
from session_mcp.store.base import Figures, figures_of

DEFAULT_STATS = 200
DEFAULT_STATS_IN_WINDOW = 1_000
STATS_CACHED_UP_TO = 100  # sessions whose transcripts statistics leave in the cache for the reads that follow
NARROWING = "companion_id, external_client_id, search, tags, since, until, status, close_reason, session_type, modality"


class ReadTools(Backend):
    """The read-only tools over sessions."""

    async def list_sessions(
        self,
        ctx: Context,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        since: Since = "",
        until: Until = "",
        timezone: Timezone = "",
        status: Status = None,
        close_reason: CloseReason = None,
        session_type: SessionType = None,
        modality: Modality = None,
        page_index: Annotated[
            int,
            Field(ge=0, le=1_000_000, description="Zero-based page (a list without since/until or status)."),
            NO_BOOL,
        ] = 0,
        page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Sessions per page."), NO_BOOL] = 20,
        cursor: Cursor = "",
    ) -> Annotated[CallToolResult, SessionPageResult]:
        """List sessions newest first, a line each: id, companion, external client, start, duration, turns,
        status, tags. Find ids here. status, close_reason, session_type, modality are applied by this server;
        such a list (or one with since/until) pages with next_cursor."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        with tool_errors():
            criteria = session_criteria(status, close_reason, session_type, modality)
            window = self.window(since, until, timezone)
            client = self.client_for(ctx)
            if not (window.bounded or criteria or cursor):
                listed = await client.list_sessions(page_index=page_index, page_size=page_size, **filters)
                plain = session_page_result(
                    listed, page_index, page_size, known_turns=lambda i: self.known_turns(client, i)
                )
                await check_companion_filter(self, ctx, companion_id, empty=not plain.sessions and not page_index)
                return structured(plain, render_session_page(plain))
            if page_index:
                raise ToolError(
                    "page_index pages the plain list; a list filtered by time or status pages with cursor: pass the "
                    "next_cursor of the previous answer (and the same filters), or leave both out for the first page."
                )
            if not cursor or is_keyset(cursor):
                selection = Selection(filters=filters, window=window, criteria=criteria, limit=page_size)
                stored = await self.from_store(ctx, client, selection)
                if stored is not None:
                    digest = arguments_digest(dict(filters), sorted(criteria.describe()), since, until, page_size)
                    stored_page = await self._stored_page(client, stored, selection, cursor, digest)
                    await check_companion_filter(self, ctx, companion_id, empty=not stored_page.sessions and not cursor)
                    return structured(stored_page, render_session_page(stored_page))
                if cursor:
                    raise ToolError(
                        "This cursor pages the session store, which cannot answer this list now: call again "
                        "without cursor to start from the newest session."
                    )
            page = await scan_page(
                client,
                filters,
                window,
                criteria,
                page_size=page_size,
                cursor=cursor or None,
                signer=self.cursors,
                window_words=(since, until),
                max_scan=self.settings.max_scan,
            )
        result = scanned_page_result(
            page.scan,
            self.scan_info(page.scan, criteria),
            page_size,
            matched_before=page.matched_before,
            next_cursor=page.next_cursor,
            known_turns=lambda i: self.known_turns(client, i),
        )
        await check_companion_filter(self, ctx, companion_id, empty=not result.sessions and not cursor)
        return structured(result, render_session_page(result))

    async def _stored_page(
        self, client: CompanionClient, stored: Stored, selection: Selection, cursor: str, digest: str
    ) -> SessionPageResult:
        """A page of a list read from the store, and the keyset cursor of the next."""
        window = selection.window
        keyset = Keyset(
            after=(0.0, ""),
            served=0,
            since=window.start.timestamp() if window.start else None,
            until=window.end.timestamp() if window.end else None,
        )
        if cursor:
            keyset = open_keyset(self.cursors, cursor, digest, client.fingerprint)
        query = replace(
            selection.stored_query(keyset.after if cursor else None), since=keyset.since, until=keyset.until
        )
        page = await stored.store.query(query)
        sessions = [row.summary for row in page.rows]
        next_cursor = None
        if sessions and keyset.served + len(sessions) < page.total:
            last = sessions[-1]
            served = keyset.served + len(sessions)
            position = Keyset((last.start_time or 0.0, last.id), served, keyset.since, keyset.until)
            next_cursor = seal_keyset(self.cursors, position, digest, client.fingerprint)
        return stored_page_result(
            sessions,
            page.total,
            selection.limit or len(sessions) or 1,
            matched_before=keyset.served,
            next_cursor=next_cursor,
            store=stored.freshness,
            known_turns=lambda i: self.known_turns(client, i),
        )

    async def get_session_transcript(
        self,
        ctx: Context,
        session_id: SessionId,
        offset: Annotated[
            int, Field(ge=0, description="First turn to return (0-based), to page through."), NO_BOOL
        ] = 0,
        limit: Annotated[
            int, Field(ge=1, le=MAX_TURNS_PER_CALL, description="Most turns to return in this call."), NO_BOOL
        ] = 400,
    ) -> Annotated[CallToolResult, TranscriptResult]:
        """Read one session: configuration (companion, functions, knowledge base, FAQs, client, tags), timing,
        tools that failed to connect, and the transcript as '[mm:ss] Agent: ...' lines; a long one says the
        offset to read on."""
        with tool_errors():
            session = await self.fetch_session(ctx, session_id)
        result = transcript_window(session, offset, limit, self.settings.max_chars)
        return linked(structured(result, render_transcript(result)), session_link(session_id))

    async def get_session_transcripts(
        self,
        ctx: Context,
        session_ids: SessionIds = None,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        since: Since = "",
        until: Until = "",
        timezone: Timezone = "",
        status: Status = None,
        close_reason: CloseReason = None,
        session_type: SessionType = None,
        modality: Modality = None,
        limit: Annotated[
            int | None,
            Field(
                ge=1,
                le=MAX_DIGESTS,
                description=f"Without session_ids: the newest this many (default {DEFAULT_BATCH}; since/until: all).",
            ),
            NO_BOOL,
        ] = None,
        detail: Detail = "full",
        max_message_chars: Annotated[
            int, Field(ge=50, le=20_000, description="Longer messages are shortened."), NO_BOOL
        ] = 600,
    ) -> Annotated[CallToolResult, BatchResult]:
        """Read many sessions in ONE call, for summaries and QA: session_ids, or the newest `limit` matching
        the filters. Whole sessions while the budget holds, then a digest line each (status, duration, turns,
        first request, last exchange) with the calls that read them. detail='digest': up to 500 lines."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        with tool_errors():
            criteria = session_criteria(status, close_reason, session_type, modality)
            window = self.window(since, until, timezone)
        narrowed = any(filters.values()) or needs_scan(window, criteria)
        if session_ids is not None and (narrowed or limit is not None):
            raise ToolError(f"Give either session_ids, or filters ({NARROWING}) and limit.")
        most = MAX_DIGESTS if detail == "digest" else MAX_BATCH
        count = len(session_ids) if session_ids is not None else limit or (most if window.bounded else DEFAULT_BATCH)
        if count > most:
            raise ToolError(
                f"{count} sessions is more than one call reads in full detail ({MAX_BATCH}): pass detail='digest' "
                f"for up to {MAX_DIGESTS} sessions as one line each, or ask for fewer."
            )
        with tool_errors():
            client = self.client_for(ctx)
            selection = Selection(session_ids, filters, window, criteria, limit=count, max_scan=self.settings.max_scan)
            stored = await self.from_store(ctx, client, selection)
            selected = await select(client, selection, store=stored.store if stored else None)
            await check_companion_filter(self, ctx, companion_id, empty=not selected.ids)
            sessions, failures = await fetch_sessions(
                client,
                selected.ids,
                concurrency=self.settings.concurrency,
                on_progress=progress_reporter(ctx),
                prepare=self.prepare,
                store=stored.store if stored else await self.stores.tenant(client),  # closed sessions: no request
            )
        freshness = stored.freshness if stored else None
        result = await off_loop(
            text_size(*sessions),
            fit_batch,
            sessions,
            failures,
            requested=len(selected.ids),
            matched=selected.matched,
            max_message_chars=max_message_chars,
            budget=self.settings.max_chars - (FRESHNESS_CHARS if freshness else 0),
            detail=detail,
            scan=self.scan_info(selected.scan, criteria) if selected.scan is not None else None,
            more_matching=selected.more_match,
        )
        result.store = freshness
        return structured(result, with_freshness(render_batch(result), freshness))

    async def session_stats(
        self,
        ctx: Context,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        since: Since = "",
        until: Until = "",
        timezone: Timezone = "",
        status: Status = None,
        close_reason: CloseReason = None,
        session_type: SessionType = None,
        modality: Modality = None,
        limit: Annotated[
            int | None,
            Field(
                ge=1,
                le=MAX_STATS,
                description=f"Most sessions to look at (default {DEFAULT_STATS}; {DEFAULT_STATS_IN_WINDOW} with "
                "since/until or status; from the session store: all).",
            ),
            NO_BOOL,
        ] = None,
        read_transcripts: Annotated[
            bool,
            Field(description="Read transcripts too: turns, silent users, tool failures (slower)."),
        ] = True,
    ) -> Annotated[CallToolResult, StatsResult]:
        """Figures over the sessions matching the filters: counts by companion, status, close reason, type,
        modality, tags; per companion sessions, failures, cost, durations; cost in USD; sessions per day and
        busiest hours; turns, silent users, tool connection failures. Use it for 'how are we doing' first."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        with tool_errors():
            criteria = session_criteria(status, close_reason, session_type, modality)
            window = self.window(since, until, timezone)
            narrowed = needs_scan(window, criteria)
            most = limit or (DEFAULT_STATS_IN_WINDOW if narrowed else DEFAULT_STATS)
            client = self.client_for(ctx)
            selection = Selection(
                filters=filters, window=window, criteria=criteria, limit=most, max_scan=self.settings.max_scan
            )
            # From the store: every matching session (no default cap: counts exact), the transcript figures
            # computed when each was stored (no body read, no request).
            stored = await self.from_store(ctx, client, replace(selection, limit=limit, with_figures=read_transcripts))
            if stored is not None:
                selected = await select(client, replace(selection, limit=limit, with_figures=True), store=stored.store)
                most = limit or max(1, len(selected.ids))
                transcripts = selected.figures if read_transcripts else {}
                failures: list[Failure] = []
            else:
                selected = await select(client, selection)
                transcripts, failures = await self._transcript_figures(ctx, client, selected, read_transcripts)
            await check_companion_filter(self, ctx, companion_id, empty=not selected.ids)
        result = await off_loop(
            len(selected.sessions) * 50,
            session_stats,
            selected.sessions,
            transcripts,
            matched=selected.matched,
            limit=most,
            unread=failures,
            window=window if narrowed else None,
            scan=self.scan_info(selected.scan, criteria) if selected.scan is not None else None,
            more_matching=selected.more_match,
            zone=window.zone,
        )
        result.store = stored.freshness if stored else None
        return structured(result, with_freshness(render_stats(result), result.store))

    async def _transcript_figures(
        self, ctx: Context, client: CompanionClient, selected: Selected, read_transcripts: bool
    ) -> tuple[dict[str, Figures], list[Failure]]:
        """The transcript figures of the sessions chosen from the API, fetched (none unless asked)."""
        if not read_transcripts:
            return {}, []
        details, failures = await fetch_sessions(
            client,
            selected.ids,
            concurrency=self.settings.concurrency,
            on_progress=progress_reporter(ctx),
            # A few sessions (a day's) are likely read next: keep them. One pass over up to 2,000
            # would only evict what reads keep.
            use_cache=len(selected.ids) <= STATS_CACHED_UP_TO,
            store=await self.stores.tenant(client),
        )
        return {d.id: figures_of(d) for d in details}, failures

    def scan_info(self, scan: Scan, criteria: Criteria) -> ScanInfo:
        return scan_info(scan, criteria, self.settings.max_scan)
