"""The state every surface shares: the client, the settings, and the per-request key."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context

from session_mcp.companion.client import CompanionClient, validate_session_id
from session_mcp.companion.models import SessionDetail
from session_mcp.companion.offload import off_loop
from session_mcp.config import Settings
from session_mcp.errors import AuthenticationError, InvalidInputError
from session_mcp.qa.rules import RuleSet, load_rules
from session_mcp.render.common import show_times_in
from session_mcp.render.freshness import StoreFreshness, store_freshness
from session_mcp.render.transcript import TranscriptResult, transcript_window
from session_mcp.server.storage import ServerStore
from session_mcp.server.toolkit import progress_reporter
from session_mcp.sessions.cursors import CursorSigner
from session_mcp.sessions.redact import redactor
from session_mcp.sessions.select import Selection, answerable
from session_mcp.sessions.window import Window, window_of
from session_mcp.sessions.window_words import zone_named
from session_mcp.store.base import SessionStore, StoreError

TENANT_KEY_HEADER = "x-napster-api-key"


class Backend:
    """The client and settings a tool, resource or prompt works with, bound once per server."""

    def __init__(
        self,
        client: CompanionClient,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
        *,
        stores: ServerStore | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.shown = redactor(settings.redact_pii)  # personal data masked when --redact-pii is on
        self.clock = clock or utc_now  # "now" for time windows: the tests fix it to the demo data's anchor
        self.cursors = CursorSigner.of(settings.cursor_secret)  # signs every cursor this server hands out
        # The server's one store (``build_server`` shares it between surfaces); opened on first use.
        self.stores = stores or ServerStore(
            settings.store_path(os.environ), retain_days=settings.retain_days, clock=self.clock
        )

    async def from_store(self, ctx: Context, client: CompanionClient, selection: Selection) -> Stored | None:
        """This tenant's store, caught up for ``selection``, when it may answer it; ``None``: read the API.

        Raises ``StoreError`` when the store cannot be used (``tool_errors`` makes it one line)."""
        if not answerable(selection):
            return None
        store = await self.stores.tenant(client)
        if store is None:
            return None
        start = selection.window.start.timestamp() if selection.window.start else None
        fresh = await self.stores.gate.ready(client, store, start, on_progress=progress_reporter(ctx))
        return None if fresh is None else Stored(store, store_freshness(fresh, selection.window))

    async def store_for(self, client: CompanionClient) -> SessionStore:
        """This key's part of the store, for the tools that are served only with one."""
        store = await self.stores.tenant(client)
        if store is None:
            raise StoreError("this server runs without a session store (--no-store): give it one (--store PATH)")
        return store

    def window(self, since: str, until: str, timezone: str = "") -> Window:
        """The window of ``since``/``until`` in the call's time zone (else the server's) as of this server's
        clock, an open end closed at now; this call's answer shows its times in that zone."""
        zone = self.zone(timezone)
        return window_of(since, until, now=self.clock(), zone=zone)

    def zone(self, timezone: str = "") -> tzinfo:
        """The call's time zone (``""``: the server's), in which this call's answer shows its times."""
        zone = zone_named(timezone or self.settings.timezone)
        show_times_in(zone)
        return zone

    async def fetch_session(self, ctx: Context, session_id: str) -> SessionDetail:
        """One session for this request's key, as the model may see it (its times in the server's zone):
        from the store when it holds it (a closed session never changes), else from the API."""
        self.zone()
        client = self.client_for(ctx)
        validate_session_id(session_id)
        store = await self.stores.tenant(client)
        session = await store.get_session(session_id) if store is not None else None
        return await self.prepare(session or await client.get_session(session_id))

    async def prepare(self, session: SessionDetail) -> SessionDetail:
        """``session`` as the model may see it (redacted when asked), without holding the event loop."""
        return await off_loop(text_size(session), self.shown, session)

    def from_the_start(self, session: SessionDetail) -> TranscriptResult:
        """The transcript from its first turn, as much of it as the character budget holds."""
        return transcript_window(session, 0, len(session.turns) or 1, self.settings.max_chars)

    def client_for(self, ctx: Context | ServerRequestContext[Any]) -> CompanionClient:
        """The client for this request: its own key when an HTTP request carries one, else the server's.

        The key in the X-Napster-Api-Key header serves that request only: it shares the connection
        pool, and the cache is partitioned by key, so no key ever reads another's data. Only an
        absent header means "the server's key": an empty one is a tenant whose key went missing on
        the way, and serving it the server's own sessions would show it another tenant's data.
        """
        request = ctx.request_context.request if isinstance(ctx, Context) else ctx.request
        headers = getattr(request, "headers", None)
        key = headers.get(TENANT_KEY_HEADER) if headers is not None else None
        if key is None:
            return self.client
        if not key.strip():
            raise AuthenticationError(
                "The X-Napster-Api-Key header of this request is empty: put the Companion API key in it, or "
                "leave the header out to use the server's own key.",
                code="empty_key",
            )
        return self.client.with_api_key(key)

    @functools.cached_property
    def rules(self) -> RuleSet:
        """The QA rules of ``--qa-rules`` (checked at start-up), read once; the defaults without a file."""
        return load_rules(self.settings.qa_rules) if self.settings.qa_rules else RuleSet()

    def known_turns(self, client: CompanionClient, session_id: str) -> int | None:
        """The number of turns of a session this key has read recently, without any request."""
        cached = client.cache.peek(client.fingerprint, session_id)
        return len(cached.turns) if cached is not None else None


@dataclass(frozen=True)
class Stored:
    """A tenant's store, ready to answer, and how fresh the answer is."""

    store: SessionStore
    freshness: StoreFreshness


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_session_id(value: str) -> bool:
    """True when ``value`` could be read as a session (the client would send it): worth offering."""
    try:
        validate_session_id(value)
    except InvalidInputError:
        return False
    return True


def text_size(*sessions: SessionDetail) -> int:
    """Characters of transcript text in ``sessions``: what redacting or rendering them costs."""
    return sum(len(item.text) for session in sessions for item in session.turns)
