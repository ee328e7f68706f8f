"""The reading tools: list, one transcript, many transcripts, statistics."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.batch import collect_sessions, fetch_sessions
from session_mcp.client import MAX_PAGE_SIZE
from session_mcp.models import SessionDetail
from session_mcp.render import (
    fit_batch,
    render_batch,
    render_session_page,
    render_stats,
    render_transcript,
    transcript_window,
)
from session_mcp.results import (
    BatchResult,
    Failure,
    SessionPageResult,
    StatsResult,
    TranscriptResult,
    session_page_result,
)
from session_mcp.server.arguments import (
    DEFAULT_BATCH,
    MAX_BATCH,
    MAX_STATS,
    MAX_TURNS_PER_CALL,
    NO_BOOL,
    CompanionId,
    ExternalClientId,
    Search,
    SessionId,
    SessionIds,
    Tags,
    session_filters,
)
from session_mcp.server.backend import Backend
from session_mcp.server.toolkit import progress_reporter, structured, tool_errors
from session_mcp.stats import session_stats


class ReadTools(Backend):
    """The read-only tools over sessions."""

    async def list_sessions(
        self,
        ctx: Context,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        page_index: Annotated[int, Field(ge=0, le=1_000_000, description="Zero-based page number."), NO_BOOL] = 0,
        page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Sessions per page."), NO_BOOL] = 20,
    ) -> Annotated[CallToolResult, SessionPageResult]:
        """List sessions, newest first, one compact line each: id, companion, external client, start time,
        duration, turns (when known), status/close reason, tags. Use it to find session ids and to see what
        happened when; then read a conversation with get_session_transcript. Returns the page, the counts
        (matching / total) and the next page_index when there are more."""
        with tool_errors():
            client = self.client_for(ctx)
            page = await client.list_sessions(
                page_index=page_index,
                page_size=page_size,
                **session_filters(companion_id, external_client_id, search, tags),
            )
        result = session_page_result(page, page_index, page_size, known_turns=lambda i: self.known_turns(client, i))
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
        duration) and its transcript as '[mm:ss] Agent: ...' lines timed from the session start. Long
        transcripts are cut to fit the context; the text then says how to ask for the rest (offset)."""
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
        limit: Annotated[
            int | None,
            Field(ge=1, le=MAX_BATCH, description="Without session_ids: the newest this many sessions (default 20)."),
            NO_BOOL,
        ] = None,
        max_message_chars: Annotated[
            int, Field(ge=50, le=20_000, description="Longer messages are shortened, with a marker."), NO_BOOL
        ] = 600,
    ) -> Annotated[CallToolResult, BatchResult]:
        """Read many sessions' transcripts in ONE call, for summaries and QA review of many sessions: either
        the given session_ids, or the newest `limit` sessions matching the filters (same filters as
        list_sessions; none = the newest sessions of the project). Each session comes as a one-line header
        and its turns; the whole answer fits a character budget, so long messages are shortened and long
        transcripts cut, each with a marker; get_session_transcript reads any one in full. Sessions that
        cannot be read are listed with the reason, and the others still come back."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        if session_ids is not None and (any(filters.values()) or limit is not None):
            raise ToolError(
                "Give either session_ids, or filters (companion_id, external_client_id, search, tags) and limit."
            )
        matched = None
        with tool_errors():
            client = self.client_for(ctx)
            if session_ids is None:
                summaries, matched = await collect_sessions(client, limit=limit or DEFAULT_BATCH, **filters)
                session_ids = [s.id for s in summaries]
            sessions, failures = await fetch_sessions(
                client, session_ids, concurrency=self.settings.concurrency, on_progress=progress_reporter(ctx)
            )
        sessions = [self.shown(session) for session in sessions]
        result = fit_batch(
            sessions,
            failures,
            requested=len(session_ids),
            matched=matched,
            max_message_chars=max_message_chars,
            budget=self.settings.max_chars,
        )
        return structured(result, render_batch(result))

    async def session_stats(
        self,
        ctx: Context,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        limit: Annotated[
            int, Field(ge=1, le=MAX_STATS, description="Most sessions to look at, newest first."), NO_BOOL
        ] = 200,
        read_transcripts: Annotated[
            bool, Field(description="Also read transcripts for turn counts and silent sessions (slower).")
        ] = True,
    ) -> Annotated[CallToolResult, StatsResult]:
        """Aggregate figures over the newest `limit` sessions matching the filters (same as list_sessions):
        counts by companion, status, close reason and tag values (e.g. channel), durations (median, p90,
        max), turns per session, sessions in which the user never spoke, and the busiest hours (UTC). Says
        how many sessions it looked at and whether the limit cut the set. Use it for 'how are we doing'
        questions before reading transcripts."""
        with tool_errors():
            client = self.client_for(ctx)
            summaries, matched = await collect_sessions(
                client, limit=limit, **session_filters(companion_id, external_client_id, search, tags)
            )
            details: list[SessionDetail] = []
            failures: list[Failure] = []
            if read_transcripts:
                details, failures = await fetch_sessions(
                    client,
                    [s.id for s in summaries],
                    concurrency=self.settings.concurrency,
                    on_progress=progress_reporter(ctx),
                    use_cache=False,  # one pass over up to 2,000 sessions would only evict what reads keep
                )
        result = session_stats(summaries, details, matched=matched, limit=limit, unread=failures)
        return structured(result, render_stats(result))
