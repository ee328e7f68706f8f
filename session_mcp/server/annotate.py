"""``annotate_session``: a reviewer confirms or disputes a QA finding, or notes a session.

Registered only with a store (the verdicts live there: the Companion API has no such endpoint)
and not with ``--read-only``, which leaves out every tool that writes, the local store included.
The reviewer is an argument, never derived from the request's key: over HTTP one key may serve a
whole team. Each verdict is kept for this request's key only (its tenant).
"""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from session_mcp.qa.annotate import AnnotationError, AnnotationResult, annotate
from session_mcp.qa.verdicts import MAX_REVIEWER_CHARS, MAX_TEXT_CHARS
from session_mcp.server.arguments import NO_BOOL, SessionId
from session_mcp.server.backend import Backend
from session_mcp.server.toolkit import structured, tool_errors
from session_mcp.store.base import StoreError

WRITES_LOCALLY = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

Reviewer = Annotated[
    str, Field(min_length=1, max_length=MAX_REVIEWER_CHARS, description="Who gives the verdict, e.g. 'ana'.")
]
VerdictKind = Annotated[
    Literal["confirm", "dispute", "note"],
    Field(description="confirm or dispute a finding (give check and turn_index), or note the session (comment)."),
]
CheckId = Annotated[str, Field(max_length=64, description="The finding's check, as review_sessions shows it.")]
TurnIndex = Annotated[
    int | None,
    Field(ge=0, le=1_000_000, description="The finding's turn (0-based); leave out for a whole-session finding."),
    NO_BOOL,
]
Comment = Annotated[str, Field(max_length=MAX_TEXT_CHARS, description="Why (for a note: its text).")]


class AnnotateTools(Backend):
    """The reviewer's verdicts."""

    async def annotate_session(
        self,
        ctx: Context,
        session_id: SessionId,
        reviewer: Reviewer,
        verdict: VerdictKind,
        check: CheckId = "",
        turn_index: TurnIndex = None,
        comment: Comment = "",
    ) -> Annotated[CallToolResult, AnnotationResult]:
        """Confirm or dispute a finding of review_sessions (session_id, check, turn_index as shown), or add a
        note to a session. Kept in this server's local store under the current QA rules (the Companion API has
        no endpoint for it). A disputed finding shows as disputed and is no longer counted by later reviews."""
        with tool_errors():
            client = self.client_for(ctx)
            try:
                result = await annotate(
                    client,
                    await self.store_for(client),
                    self.rules,
                    self.shown,
                    session_id=session_id,
                    kind=verdict,
                    reviewer=reviewer,
                    check=check or None,
                    turn_index=turn_index,
                    text=comment,
                )
            except (AnnotationError, StoreError) as exc:
                raise ToolError(str(exc)) from None
        return structured(result, result.message)
