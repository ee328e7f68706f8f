"""The reading tools: list, one transcript, many transcripts, statistics."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.companion.models import MAX_PAGE_SIZE, SessionDetail
from session_mcp.companion.offload import off_loop
from session_mcp.render.batch import BatchResult, fit_batch, render_batch
from session_mcp.render.page import SessionPageResult, render_session_page, scanned_page_result, session_page_result
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
    Until,
    session_criteria,
    session_filters,
)
from session_mcp.server.backend import Backend, text_size
from session_mcp.server.directory import check_companion_filter
from session_mcp.server.toolkit import progress_reporter, structured, tool_errors
from session_mcp.sessions.criteria import Criteria, Scan
from session_mcp.sessions.cursors import scan_page
from session_mcp.sessions.fetch import Failure, fetch_sessions
from session_mcp.sessions.select import Selection, needs_scan, select
from session_mcp.stats.figures import session_stats
from session_mcp.stats.result import StatsResult
from session_mcp.stats.text import render_stats

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
        status: Status = None,
        close_reason: CloseReason = None,
        session_type: SessionType = None,
        modality: Modality = None,
        page_index: Annotated[
            int,
            Field(ge=0, le=1_000_000, description="Zero-based page number (lists without time or status filters)."),
            NO_BOOL,
        ] = 0,
        page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Sessions per page."), NO_BOOL] = 20,
        cursor: Cursor = "",
    ) -> Annotated[CallToolResult, SessionPageResult]:
        """List sessions, newest first, one compact line each: id, companion, external client, start time,
        duration, turns (when known), status/close reason, tags. Use it to find session ids and to see what
        happened when; then read a conversation with get_session_transcript. since/until select a time window
        (e.g. since='yesterday'); status, close_reason, session_type and modality are applied by this server
        (the API cannot), and such a list pages with next_cursor instead of page_index. Every answer says the
        counts it knows (matching / total) and how to read on."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        with tool_errors():
            criteria = session_criteria(status, close_reason, session_type, modality)
            window = self.window(since, until)
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
        """Read one session in full: its configuration (companion, functions, knowledge base, FAQs,
        external client, tags, any other fields the API sent), its timing (created, started, closed,
        duration), tools that failed to connect, and its transcript as '[mm:ss] Agent: ...' lines timed from
        the session start. Long transcripts are cut to fit the context; the text then says how to ask for the
        rest (offset)."""
        with tool_errors():
            session = await self.fetch_session(ctx, session_id)
        result = transcript_window(session, offset, limit, self.settings.max_chars)
        return structured(result, render_transcript(result))

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
        status: Status = None,
        close_reason: CloseReason = None,
        session_type: SessionType = None,
        modality: Modality = None,
        limit: Annotated[
            int | None,
            Field(
                ge=1,
                le=MAX_DIGESTS,
                description=f"Without session_ids: the newest this many matching sessions (default {DEFAULT_BATCH}; "
                f"with since/until every session of the window, up to {MAX_BATCH}, or {MAX_DIGESTS} as digests).",
            ),
            NO_BOOL,
        ] = None,
        detail: Detail = "full",
        max_message_chars: Annotated[
            int, Field(ge=50, le=20_000, description="Longer messages are shortened, with a marker."), NO_BOOL
        ] = 600,
    ) -> Annotated[CallToolResult, BatchResult]:
        """Read many sessions in ONE call, for summaries and QA review: either the given session_ids, or the
        newest `limit` sessions matching the filters (the same as list_sessions, time window included; none =
        the newest sessions of the project). The answer fits a character budget: sessions come whole, in
        order, while it holds, and each one that does not fit comes as one digest line (status, duration,
        turns, the user's first request and the last exchange), with the exact calls that read them in full.
        detail='digest' gives every session as a digest line, up to 500 in one call ("summarize the last 300
        sessions"). Sessions that cannot be read are listed with the reason, and the others still come back."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        with tool_errors():
            criteria = session_criteria(status, close_reason, session_type, modality)
            window = self.window(since, until)
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
            selected = await select(client, selection)
            await check_companion_filter(self, ctx, companion_id, empty=not selected.ids)
            sessions, failures = await fetch_sessions(
                client,
                selected.ids,
                concurrency=self.settings.concurrency,
                on_progress=progress_reporter(ctx),
                prepare=self.prepare,
            )
        result = await off_loop(
            text_size(*sessions),
            fit_batch,
            sessions,
            failures,
            requested=len(selected.ids),
            matched=selected.matched,
            max_message_chars=max_message_chars,
            budget=self.settings.max_chars,
            detail=detail,
            scan=self.scan_info(selected.scan, criteria) if selected.scan is not None else None,
            more_matching=selected.more_match,
        )
        return structured(result, render_batch(result))

    async def session_stats(
        self,
        ctx: Context,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        since: Since = "",
        until: Until = "",
        status: Status = None,
        close_reason: CloseReason = None,
        session_type: SessionType = None,
        modality: Modality = None,
        limit: Annotated[
            int | None,
            Field(
                ge=1,
                le=MAX_STATS,
                description=f"Most sessions to look at, newest first (default {DEFAULT_STATS}; "
                f"{DEFAULT_STATS_IN_WINDOW} with since/until or a status filter).",
            ),
            NO_BOOL,
        ] = None,
        read_transcripts: Annotated[
            bool,
            Field(
                description="Also read transcripts: turn counts, silent sessions, tool connection failures (slower)."
            ),
        ] = True,
    ) -> Annotated[CallToolResult, StatsResult]:
        """Aggregate figures over the sessions matching the filters (the same as list_sessions, time window
        included, e.g. since='yesterday'): counts by companion, status, close reason (of failed sessions too),
        session type, modality and tag values; per companion sessions, failures, cost and durations; cost in
        USD (total, mean, by companion, top external clients, sessions with no cost yet); sessions per UTC day;
        turns per session, sessions in which the user never spoke, busiest hours (UTC), and tool connection
        failures by tool with their errors. Says the window and how many sessions it looked at, and whether a
        limit cut the set. Use it for 'how are we doing' questions before reading transcripts."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        with tool_errors():
            criteria = session_criteria(status, close_reason, session_type, modality)
            window = self.window(since, until)
            narrowed = needs_scan(window, criteria)
            most = limit or (DEFAULT_STATS_IN_WINDOW if narrowed else DEFAULT_STATS)
            client = self.client_for(ctx)
            selection = Selection(
                filters=filters, window=window, criteria=criteria, limit=most, max_scan=self.settings.max_scan
            )
            selected = await select(client, selection)
            await check_companion_filter(self, ctx, companion_id, empty=not selected.ids)
            summaries = selected.sessions
            details: list[SessionDetail] = []
            failures: list[Failure] = []
            if read_transcripts:
                details, failures = await fetch_sessions(
                    client,
                    selected.ids,
                    concurrency=self.settings.concurrency,
                    on_progress=progress_reporter(ctx),
                    # A few sessions (a day's) are likely read next: keep them. One pass over up to 2,000
                    # would only evict what reads keep.
                    use_cache=len(summaries) <= STATS_CACHED_UP_TO,
                )
        result = session_stats(
            summaries,
            details,
            matched=selected.matched,
            limit=most,
            unread=failures,
            window=window if narrowed else None,
            scan=self.scan_info(selected.scan, criteria) if selected.scan is not None else None,
            more_matching=selected.more_match,
        )
        return structured(result, render_stats(result))

    def scan_info(self, scan: Scan, criteria: Criteria) -> ScanInfo:
        return scan_info(scan, criteria, self.settings.max_scan)
