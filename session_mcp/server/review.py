"""The ``review_sessions`` tool: the automated QA checks over many sessions, flagged ones first.

With a session store, a closed session reviewed before under the same rules is neither read nor
checked again (``qa.runner``), and closed sessions read from the API are stored. A store that
cannot be opened leaves the tool as it was without one; one that fails meanwhile is a tool error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.qa.annotate import load_verdicts
from session_mcp.qa.answer import ReviewResult, review_answer
from session_mcp.qa.runner import MAX_REVIEW, run_review
from session_mcp.qa.verdicts import Verdicts
from session_mcp.render.common import plural
from session_mcp.render.lines import one_line
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
from session_mcp.server.directory import check_companion_filter
from session_mcp.server.reports import ReportLinks
from session_mcp.server.tasks import report_progress
from session_mcp.server.toolkit import structured, tool_errors
from session_mcp.sessions.select import Selection
from session_mcp.store.base import StoreError

DEFAULT_REVIEW = 200
LINK_ROOM = 650  # of the text's budget: the lines that name the HTML report (and its file), or unread verdicts

ReviewIds = Annotated[
    list[str] | None,
    Field(max_length=MAX_REVIEW, description="These sessions, instead of filters."),
]


class ReviewTools(ReportLinks):
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
        the team's rules. Outcomes, scores with a scorecard, flagged sessions worst first with '[mm:ss]' quotes,
        and a link to the HTML report to send."""
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
            unread_verdicts = ""
            try:  # reviewers' verdicts (annotate_session) under these rules, this key's only
                tenant = await self.stores.tenant(client)
                verdicts = await load_verdicts(tenant, self.rules)
                # Caught up, the store chooses the sessions (no scan of the list); it keeps transcripts and findings.
                stored = await self.from_store(ctx, client, selection)
            except StoreError as exc:  # no reason to fail the review: it reads the API, and says so in one line
                tenant, stored, verdicts = None, None, Verdicts()
                unread_verdicts = f"\nReviewers' verdicts could not be read, so none applied: {one_line(exc, 200)}"
            review = await run_review(
                client,
                selection,
                self.rules,
                self.shown,
                store=tenant,
                select_from=stored.store if stored else None,
                memory_cache=True,
                on_progress=progress,
                verdicts=verdicts,
            )
            empty = not review.report.reviewed and not review.report.unread
            await check_companion_filter(self, ctx, companion_id, empty=empty)
        result, text = review_answer(review.report, self.settings.max_chars - LINK_ROOM)
        # Saved beside a store file; a database has no folder: the report is read through its link.
        folder = self.stores.path.parent / "reports" if isinstance(self.stores.path, Path) else None
        link, saved = await self.report_link(ctx, review.report, folder)
        result.report_uri, result.report_file = link.uri, str(saved) if saved else None
        where = f"; saved at {one_line(str(saved), LINK_ROOM - 160)}" if saved else ""
        body, _, last = text.rpartition("\n")  # the next step stays the last line
        text = f"{body}{unread_verdicts}\nThe HTML report to read or send: {link.uri} (resources/read){where}.\n{last}"
        answer = structured(result, text)
        answer.content.append(link)
        return answer
