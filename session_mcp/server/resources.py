"""Transcript and session resources, and ``resources/list`` paged over recent sessions."""

from __future__ import annotations

import json
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams, Resource, ResourceLink

from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.companion.offload import off_loop
from session_mcp.errors import CompanionError, InvalidInputError, NotFoundError
from session_mcp.render.common import format_time
from session_mcp.render.lines import one_line, shorten_text
from session_mcp.render.page import trim_page
from session_mcp.render.transcript import render_transcript
from session_mcp.server.backend import Backend, is_session_id, text_size
from session_mcp.server.toolkit import advice, error_text, resource_link, surface_errors
from session_mcp.sessions.claims import distinct, page_inconsistencies
from session_mcp.sessions.cursors import CursorSigner
from session_mcp.store.base import StoreError

TRANSCRIPT_URI = "napster://sessions/{session_id}/transcript"
SESSION_URI = "napster://sessions/{session_id}"
RESOURCE_PAGE_SIZE = 50


def session_link(session_id: str) -> ResourceLink:
    """A link to the session's JSON resource: the whole session, for a host or program to fetch."""
    return resource_link(
        SESSION_URI.format(session_id=session_id),
        f"session-{session_id}.json",
        title=f"Session {session_id} (JSON)",
        description="The full validated session as the API sent it, transcript included: read it with resources/read.",
        mime_type="application/json",
    )


class Resources(Backend):
    """The resources: a session's transcript (Markdown) and the session itself (JSON)."""

    async def read_transcript(self, session_id: str, ctx: Context) -> str:
        with surface_errors(f"Reading {shorten_text(TRANSCRIPT_URI.format(session_id=session_id), 120)}"):
            session = await self._resource_session(ctx, session_id, TRANSCRIPT_URI)
            return render_transcript(self.from_the_start(session))

    async def read_session(self, session_id: str, ctx: Context) -> str:
        with surface_errors(f"Reading {shorten_text(SESSION_URI.format(session_id=session_id), 120)}"):
            session = await self._resource_session(ctx, session_id, SESSION_URI)
            return await off_loop(text_size(session), session_json, session, self.settings.max_chars)

    async def _resource_session(self, ctx: Context, session_id: str, template: str) -> SessionDetail:
        uri = template.format(session_id=session_id)
        try:
            return await self.fetch_session(ctx, session_id)
        except (NotFoundError, InvalidInputError) as exc:
            raise ResourceNotFoundError(f"{exc} List the sessions (resources/list or list_sessions).") from None
        except CompanionError as exc:
            raise ResourceError(error_text(f"Could not read {shorten_text(uri, 120)}: {advice(exc)}")) from None
        except StoreError as exc:
            raise ResourceError(error_text(f"Could not read {shorten_text(uri, 120)}: {exc}")) from None

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        """The most recent sessions as concrete transcript resources, paged with an opaque cursor."""
        with surface_errors("Listing the resources"):
            client = self.client_for(ctx)  # the cursor opens for this key only
            page_index = decode_cursor(self.cursors, params.cursor if params else None, client.fingerprint)
            page = await client.list_sessions(page_index=page_index, page_size=RESOURCE_PAGE_SIZE)
            found = page_inconsistencies(page, page_index, RESOURCE_PAGE_SIZE)
            page, _ = trim_page(page, RESOURCE_PAGE_SIZE)
            resources = [
                Resource(
                    uri=TRANSCRIPT_URI.format(session_id=item.id),
                    name=f"transcript-{item.id}",
                    title=f"Transcript of {item.id} ({one_line(item.companion_id or 'unknown companion')})",
                    description=render_resource_description(item),
                    mime_type="text/markdown",
                )
                for item in distinct(page.items)
                if is_session_id(item.id)  # one that could not be read is no resource
            ]
            # An API that ignores the page index would serve these again, page after page.
            more = page.has_more(page_index, RESOURCE_PAGE_SIZE) and all(i.kind != "page_index_ignored" for i in found)
        return ListResourcesResult(
            resources=resources,
            next_cursor=encode_cursor(self.cursors, page_index + 1, client.fingerprint) if more else None,
        )

    # -- completions -----------------------------------------------------------------------


NOTE_ROOM = 1_000  # characters kept for the note of a cut session JSON


def session_json(session: SessionDetail, budget: int) -> str:
    """The session as sent, as JSON of at most ``budget`` characters.

    Past the budget the first conversation items that fit are kept (then the top-level fields
    that fit, in order) and a top-level ``note`` says how many were left out and where the whole
    transcript reads, page by page. The work stops at the budget, not at the transcript's end.
    """
    whole = session.to_wire()
    wire = dict(whole)
    conversation = wire.pop("conversation", None)
    items: list[Any] = []
    if isinstance(conversation, dict):
        conversation = dict(conversation)
        items = conversation.pop("items", None) or []
    room = budget - NOTE_ROOM
    kept: dict[str, Any] = {}
    fields_left_out: list[str] = []
    used = 2
    for key, value in wire.items():
        size = _entry_size(key, value)
        if used + size <= room or key == "id":  # an id is at most 256 characters
            kept[key], used = value, used + size
        else:
            fields_left_out.append(key)
    turns: list[Any] = []
    if conversation is not None:
        used += _entry_size("conversation", conversation) + _entry_size("items", [])
        for item in items:
            used += len(json.dumps(item, ensure_ascii=False)) + 2
            if used > room:
                break
            turns.append(item)
        kept["conversation"] = {"items": turns, **conversation} if isinstance(conversation, dict) else conversation
    if not fields_left_out and len(turns) == len(items):
        return json.dumps(whole, ensure_ascii=False)
    kept["note"] = _cut_note(session.id, len(turns), len(items), fields_left_out)
    return json.dumps(kept, ensure_ascii=False)


def _entry_size(key: str, value: Any) -> int:
    """Characters of ``"key": value, `` in a JSON object."""
    return len(json.dumps(key, ensure_ascii=False)) + len(json.dumps(value, ensure_ascii=False)) + 4


def _cut_note(session_id: str, items_kept: int, total_items: int, fields_left_out: list[str]) -> str:
    uri = TRANSCRIPT_URI.format(session_id=session_id)
    left_out = total_items - items_kept
    parts = [f"Cut to SESSION_MCP_MAX_CHARS: {left_out} of {total_items} conversation items left out"]
    if fields_left_out:
        names = ", ".join(shorten_text(one_line(name), 40) for name in fields_left_out[:5])
        parts.append(f"{len(fields_left_out)} fields left out ({names}{', ...' if len(fields_left_out) > 5 else ''})")
    return (
        "; ".join(parts) + f". Read the whole transcript page by page with the resource {uri} or the tool "
        f"get_session_transcript session_id={session_id!r} offset={items_kept}."
    )


def render_resource_description(item: SessionSummary) -> str:
    started = f", started {format_time(item.started)}" if item.started else ""
    return f"{one_line(item.state)} session of {one_line(item.companion_id or '-')}{started}"


RESOURCE_CURSOR_PREFIX = "r1."


def encode_cursor(signer: CursorSigner, page_index: int, tenant: str) -> str:
    """The signed cursor of a ``resources/list`` page: text merely like it cannot skip sessions."""
    return signer.seal(RESOURCE_CURSOR_PREFIX, str(page_index).encode(), tenant)


def decode_cursor(signer: CursorSigner, cursor: str | None, tenant: str) -> int:
    """The page index of a cursor this server minted for this key; ``MCPError`` for anything else."""
    if not cursor:
        return 0
    raw = signer.open(RESOURCE_CURSOR_PREFIX, cursor, tenant)
    if raw is not None and raw.isdigit() and len(raw) <= 7:
        return int(raw)
    raise MCPError(
        code=INVALID_PARAMS,
        message="Invalid cursor: it was not made by this server for this API key (or was changed). Pass back a "
        "nextCursor exactly as this server returned it, or list again without a cursor.",
    )
