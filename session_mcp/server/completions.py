"""Argument completions: session ids from recent sessions, companion and agent ids from the directory."""

from __future__ import annotations

from typing import Any, cast

from mcp.server import ServerRequestContext
from mcp.types import CompleteRequestParams, CompleteResult, Completion
from pydantic import BaseModel

from session_mcp.companion.client import CompanionClient
from session_mcp.errors import CompanionError
from session_mcp.render.lines import FIELD_CHARS
from session_mcp.render.page import trim_page
from session_mcp.server.backend import Backend, is_session_id
from session_mcp.server.directory import DirectoryReader
from session_mcp.server.toolkit import surface_errors

COMPLETION_SCAN = 100
MAX_VALUES = 100  # the protocol's bound on the values of one completion
# What the summary prompt's window takes, as people write it (window.parse_window_words).
WINDOW_WORDS = ("today", "yesterday", "this week", "last week", "last 24 hours", "last 7 days", "last 30 days")


class Completions(Backend):
    """``completion/complete`` over the sessions this request's key can see."""

    async def complete(self, ctx: ServerRequestContext[Any], request: BaseModel) -> CompleteResult:
        """Session ids by prefix over recent sessions; companion and agent ids from the project's directory.

        A low-level handler rather than ``@completion()``: that decorator hides the request, and
        over HTTP the request's own key decides whose ids to offer. Any prompt or resource
        argument named ``companion_id`` or ``agent_id`` is completed (tool arguments have no
        completion in the protocol). The directory is remembered briefly per key
        (``server/directory.py``), so a completion per keystroke costs one read; an API without a
        companion list offers the companion ids of its recent sessions instead.
        """
        argument = cast(CompleteRequestParams, request).argument  # validated by the runner
        nothing = CompleteResult(completion=Completion(values=[], total=0, has_more=False))
        if argument.name == "window":
            words = [w for w in WINDOW_WORDS if w.startswith(argument.value.casefold())]
            return CompleteResult(completion=Completion(values=words, total=len(words), has_more=False))
        if argument.name not in ("session_id", "companion_id", "agent_id"):
            return nothing
        with surface_errors("Completing an argument"):
            try:
                candidates = await self.candidates(self.client_for(ctx), argument.name)
            except CompanionError:
                return nothing
            hits = [value for value in dict.fromkeys(candidates) if value.startswith(argument.value)]
        return CompleteResult(
            completion=Completion(values=hits[:MAX_VALUES], total=len(hits), has_more=len(hits) > MAX_VALUES)
        )

    async def candidates(self, client: CompanionClient, name: str) -> list[str]:
        """The values ``client``'s key may pass back as ``name``: usable ids of a sane length only."""
        if name == "session_id":
            page, _ = trim_page(await client.list_sessions(page_size=COMPLETION_SCAN), COMPLETION_SCAN)
            return [item.id for item in page.items if is_session_id(item.id)]
        reader = DirectoryReader(self.client, client)
        known = await (reader.companions() if name == "companion_id" else reader.agents())
        if known is not None:
            ids = [entry.id for entry in known.entries if entry.id]
        elif name == "companion_id":
            ids = await reader.recent_companion_ids()
        else:
            ids = []
        return sorted(i for i in ids if len(i) <= FIELD_CHARS and i.isprintable())

    # -- prompts ---------------------------------------------------------------------------
