"""The ``review_sessions`` tool: the automated QA checks over many sessions, flagged ones first.

With a session store, a closed session reviewed before under the same rules is neither read nor
checked again (``qa.runner``), and closed sessions read from the API are stored. A store that
cannot be opened leaves the tool as it was without one; one that fails meanwhile is a tool error.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.qa.answer import ReviewResult, review_answer
from session_mcp.qa.runner import MAX_REVIEW, run_review
from session_mcp.render.common import plural
from session_mcp.server.arguments import (
    NO_BOOL,
    CloseReason,
    CompanionId,
    ExternalClientId,
    Modality,
    Search,
    SessionType,
    Since,
    Status,
    Tags,
    Timezone,
    Until,
    session_criteria,
    session_filters,
)
from session_mcp.server.backend import Backend
from session_mcp.server.directory import check_companion_filter
from session_mcp.server.tasks import report_progress
from session_mcp.server.toolkit import structured, tool_errors
from session_mcp.sessions.select import Selection

DEFAULT_REVIEW = 200

ReviewIds = Annotated[
    list[str] | None,
    Field(max_length=MAX_REVIEW, description="These sessions, instead of filters."),
]


class ReviewTools(Backend):
    """The QA review tool."""

    async def review_sessions(
        self,
        ctx: Context,
        session_ids: ReviewIds = None,
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
                le=MAX_REVIEW,
                description=f"Without session_ids: the newest this many (default {DEFAULT_REVIEW}).",
            ),
            NO_BOOL,
        ] = None,
    ) -> Annotated[CallToolResult, ReviewResult]:
        """Run the automated QA checks over many sessions: silent or unanswered users, slow replies, long
        silences, repetition, requests for a human, failed sessions and tools, personal data said by the agent,
        the team's rules. Flagged sessions worst first, with '[mm:ss]' quotes."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        client_side = (status, close_reason, session_type, modality)
        if session_ids is not None and (any(filters.values()) or since or until or any(client_side) or limit):
            raise ToolError(
                "Give either session_ids, or filters (companion_id, external_client_id, search, tags, since, until, "
                "status, close_reason, session_type, modality) and limit."
            )

        async def progress(done: int, total: int) -> None:
            await report_progress(ctx, done, total, f"reviewed {done} of {plural(total, 'session')}")

        client = self.client_for(ctx)
        with tool_errors():
            selection = Selection(
                session_ids=session_ids,
                filters=filters,
                window=self.window(since, until, timezone),
                criteria=session_criteria(*client_side),
                limit=limit or DEFAULT_REVIEW,
            )
            # Caught up, the store chooses the sessions (no scan of the list); it keeps transcripts and findings.
            stored = await self.from_store(ctx, client, selection)
            review = await run_review(
                client,
                selection,
                self.rules,
                self.shown,
                store=await self.stores.tenant(client),
                select_from=stored.store if stored else None,
                memory_cache=True,
                on_progress=progress,
            )
            empty = not review.report.reviewed_ids and not review.report.unread
            await check_companion_filter(self, ctx, companion_id, empty=empty)
        result, text = review_answer(review.report, self.settings.max_chars)
        return structured(result, text)
