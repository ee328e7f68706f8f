"""Argument completions: session ids and companion ids from recent sessions."""

from __future__ import annotations

from typing import Any, cast

from mcp.server import ServerRequestContext
from mcp.types import CompleteRequestParams, CompleteResult, Completion
from pydantic import BaseModel

from session_mcp.errors import CompanionError
from session_mcp.render.lines import FIELD_CHARS
from session_mcp.render.page import trim_page
from session_mcp.server.backend import Backend, is_session_id
from session_mcp.server.toolkit import surface_errors

COMPLETION_SCAN = 100
# What the summary prompt's window takes, as people write it (window.parse_window_words).
WINDOW_WORDS = ("today", "yesterday", "this week", "last week", "last 24 hours", "last 7 days", "last 30 days")


class Completions(Backend):
    """``completion/complete`` over the sessions this request's key can see."""

    async def complete(self, ctx: ServerRequestContext[Any], request: BaseModel) -> CompleteResult:
        """Session ids by prefix over recent sessions; companion ids seen in recent sessions.

        A low-level handler rather than ``@completion()``: that decorator hides the request, and
        over HTTP the request's own key decides whose sessions to offer.
        """
        argument = cast(CompleteRequestParams, request).argument  # validated by the runner
        nothing = CompleteResult(completion=Completion(values=[], total=0, has_more=False))
        if argument.name == "window":
            words = [w for w in WINDOW_WORDS if w.startswith(argument.value.casefold())]
            return CompleteResult(completion=Completion(values=words, total=len(words), has_more=False))
        if argument.name not in ("session_id", "companion_id"):
            return nothing
        with surface_errors("Completing an argument"):
            try:
                page = await self.client_for(ctx).list_sessions(page_size=COMPLETION_SCAN)
            except CompanionError:
                return nothing
            page, _ = trim_page(page, COMPLETION_SCAN)
            prefix = argument.value
            # Only values a caller could pass back: a usable id, a companion id of sane length.
            if argument.name == "session_id":
                candidates = [item.id for item in page.items if is_session_id(item.id)]
            else:
                candidates = sorted(
                    {c for item in page.items if (c := item.companion_id) and len(c) <= FIELD_CHARS and c.isprintable()}
                )
            hits = [value for value in dict.fromkeys(candidates) if value.startswith(prefix)]
        return CompleteResult(completion=Completion(values=hits[:100], total=len(hits), has_more=len(hits) > 100))

    # -- prompts ---------------------------------------------------------------------------
