"""Transcript and session resources, and ``resources/list`` paged over recent sessions."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams, Resource

from session_mcp.errors import CompanionError, InvalidInputError, NotFoundError
from session_mcp.lines import one_line, shorten_text
from session_mcp.models import SessionDetail, SessionSummary
from session_mcp.offload import off_loop
from session_mcp.render import format_time, render_transcript
from session_mcp.results import trim_page
from session_mcp.server.backend import Backend, is_session_id, text_size
from session_mcp.server.toolkit import advice, surface_errors

TRANSCRIPT_URI = "napster://sessions/{session_id}/transcript"
SESSION_URI = "napster://sessions/{session_id}"
RESOURCE_PAGE_SIZE = 50


class Resources(Backend):
    """The resources: a session's transcript (Markdown) and the session itself (JSON)."""

    async def read_transcript(self, session_id: str, ctx: Context) -> str:
        with surface_errors(f"Reading {shorten_text(TRANSCRIPT_URI.format(session_id=session_id), 120)}"):
            session = await self._resource_session(ctx, session_id, TRANSCRIPT_URI)
            return render_transcript(self.from_the_start(session))

    async def read_session(self, session_id: str, ctx: Context) -> str:
        with surface_errors(f"Reading {shorten_text(SESSION_URI.format(session_id=session_id), 120)}"):
            session = await self._resource_session(ctx, session_id, SESSION_URI)
            return await off_loop(text_size(session), lambda: json.dumps(session.to_wire(), ensure_ascii=False))

    async def _resource_session(self, ctx: Context, session_id: str, template: str) -> SessionDetail:
        uri = template.format(session_id=session_id)
        try:
            return await self.fetch_session(ctx, session_id)
        except (NotFoundError, InvalidInputError) as exc:
            raise ResourceNotFoundError(f"{exc} List the sessions (resources/list or list_sessions).") from None
        except CompanionError as exc:
            raise ResourceError(f"Could not read {shorten_text(uri, 120)}: {advice(exc)}") from None

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        """The most recent sessions as concrete transcript resources, paged with an opaque cursor."""
        page_index = decode_cursor(params.cursor if params else None)
        with surface_errors("Listing the resources"):
            page = await self.client_for(ctx).list_sessions(page_index=page_index, page_size=RESOURCE_PAGE_SIZE)
            page, _ = trim_page(page, RESOURCE_PAGE_SIZE)
            resources = [
                Resource(
                    uri=TRANSCRIPT_URI.format(session_id=item.id),
                    name=f"transcript-{item.id}",
                    title=f"Transcript of {item.id} ({one_line(item.companion_id or 'unknown companion')})",
                    description=render_resource_description(item),
                    mime_type="text/markdown",
                )
                for item in page.items
                if is_session_id(item.id)  # one that could not be read is no resource
            ]
            more = page.has_more(page_index, RESOURCE_PAGE_SIZE)
        return ListResourcesResult(resources=resources, next_cursor=encode_cursor(page_index + 1) if more else None)

    # -- completions -----------------------------------------------------------------------


def render_resource_description(item: SessionSummary) -> str:
    started = f", started {format_time(item.started)}" if item.started else ""
    return f"{one_line(item.state)} session of {one_line(item.companion_id or '-')}{started}"


def encode_cursor(page_index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": page_index}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The page index of a cursor this server minted; ``MCPError`` for anything else."""
    if not cursor:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        page_index = value["p"]
        if isinstance(page_index, int) and not isinstance(page_index, bool) and 0 <= page_index <= 1_000_000:
            return page_index
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise MCPError(code=INVALID_PARAMS, message="Invalid cursor: pass back a nextCursor this server returned.")
