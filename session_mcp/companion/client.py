"""``CompanionClient``: the async client of the Companion API sessions endpoints.

The endpoints and what they mean: typed results, paging, the closed-session cache, clients for
other tenants' keys sharing one pool (``with_api_key``), and the connection clock. Each request
goes through ``session_mcp.companion.http.Requester``: retries, the deadline, the body bound,
redirects, errors and key masking live there.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import anyio
import httpx2
from pydantic import SecretStr, ValidationError

from session_mcp.companion.cache import PageMemory, SessionCache, key_fingerprint
from session_mcp.companion.directory import AgentPage, CompanionPage, DirectoryPage
from session_mcp.companion.http import Requester, RetryPolicy, header_key, open_pool
from session_mcp.companion.ingest import describe_validation_error
from session_mcp.companion.models import (
    MAX_PAGE_SIZE,
    AgentConnectionRequest,
    ChannelType,
    ConnectionRequest,
    ConnectionResponse,
    ProviderConfig,
    SessionDetail,
    SessionPage,
    SessionSummary,
    WireModel,
    encode_tags_query,
)
from session_mcp.companion.sanitize import shorten
from session_mcp.errors import (
    InvalidInputError,
    InvalidResponseError,
    MissingEndpointError,
    NotFoundError,
    RateLimitedError,
    UpstreamUnavailableError,
)

DEFAULT_BASE_URL = "https://companion-api.napster.com"
MAX_SESSION_ID_LENGTH = 256
MAX_FILTER_LENGTH = 2_000  # per filter, encoded: URLs this long already strain proxies
CONNECTION_INTERVAL_SECONDS = 5.0

_FORBIDDEN_ID_CHARS = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")
EXTERNAL_CLIENT_ID = r"^[A-Za-z0-9_-]{1,32}$"  # what the API accepts as an external client id


def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` if it is safe to put in a request path, else raise ``InvalidInputError``."""
    return validate_path_id(session_id, "a session", "sess_abc123")


def validate_path_id(value: object, kind: str, example: str) -> str:
    """Return ``value``, the id of ``kind`` ("a session", "an agent"), if it is safe as one path segment.

    Ids are opaque, but one must never change the path it is put in: no separators, no
    query or fragment markers, no percent signs, whitespace or control characters, no dot names.
    """
    noun = kind.rsplit(maxsplit=1)[-1]
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"The {noun} id is empty: pass the id of {kind}, e.g. {example!r}.")
    if len(value) > MAX_SESSION_ID_LENGTH:
        raise InvalidInputError(
            f"The {noun} id is {len(value)} characters long; ids have at most {MAX_SESSION_ID_LENGTH}."
        )
    if value in (".", "..") or _FORBIDDEN_ID_CHARS.search(value):
        raise InvalidInputError(
            f"{shorten(value)!r} is not {kind} id: ids contain no '/', '\\', '?', '#', '%', "
            f"whitespace or control characters. Copy the id exactly as the {noun} list shows it."
        )
    return value


def check_external_client_id(value: str) -> str:
    """``value`` if it is an external client id as the API takes one, else ``InvalidInputError`` naming the pattern.

    The API refuses any other when a session is created, so no session has one: a filter by it
    could only match nothing, and is refused instead of answering "no sessions".
    """
    if not re.fullmatch(EXTERNAL_CLIENT_ID, value):
        raise InvalidInputError(
            f"{shorten(value)!r} is not an external client id: the API takes 1 to 32 letters, digits, '_' or "
            f"'-' ({EXTERNAL_CLIENT_ID}), so no session has it. Pass the id exactly as list_sessions shows it."
        )
    return value


@dataclass
class _SharedState:
    """What clients made by ``with_api_key`` share: the pool, the cache, the connection clock, the
    pages read lately."""

    http: httpx2.AsyncClient
    cache: SessionCache
    # The read timeout bounds each wait for a byte; this bounds a whole attempt (``Requester``).
    attempt_timeout: float
    last_connection_at: dict[str, float] = field(default_factory=dict)
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    pages: PageMemory = field(default_factory=PageMemory)


class CompanionClient:
    """Async client of the Companion API sessions endpoints.

    Use it as ``async with CompanionClient(api_key=..., base_url=...) as client``. The key is
    held as a ``SecretStr`` and sent only in the ``X-Api-Key`` header.
    """

    def __init__(
        self,
        api_key: str | SecretStr | None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        max_response_bytes: int = 32 * 1024 * 1024,
        cache: SessionCache | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        max_connections: int = 32,
        _shared: _SharedState | None = None,
    ) -> None:
        # None: no default key (a shared HTTP server where each request brings its own).
        key = header_key(api_key)
        self.base_url = base_url.rstrip("/")
        if _shared is None:
            _shared = _SharedState(
                http=open_pool(
                    self.base_url,
                    timeout=timeout,
                    connect_timeout=connect_timeout,
                    max_connections=max_connections,
                    transport=transport,
                ),
                cache=cache if cache is not None else SessionCache(),
                attempt_timeout=2 * timeout + connect_timeout,
            )
        self._shared = _shared
        self._http = Requester(
            _shared.http,
            key,
            base_url=self.base_url,
            # A call ends within three timeouts, retries included: 90 s at the default 30 s.
            retry=retry or RetryPolicy(max_total=3 * timeout),
            max_response_bytes=max_response_bytes,
            attempt_timeout=_shared.attempt_timeout,
        )
        self._fingerprint = key_fingerprint(self._http.secret(), self.base_url)
        self._owns_http = True

    def with_api_key(self, api_key: str | SecretStr) -> CompanionClient:
        """A client for another key sharing this one's connections and cache (partitioned by key)."""
        other = CompanionClient(
            api_key,
            self.base_url,
            retry=self.retry,
            max_response_bytes=self.max_response_bytes,
            _shared=self._shared,
        )
        other._owns_http = False
        return other

    def __repr__(self) -> str:
        return f"CompanionClient(base_url={self.base_url!r}, api_key=**********)"

    @property
    def cache(self) -> SessionCache:
        return self._shared.cache

    @property
    def retry(self) -> RetryPolicy:
        return self._http.retry

    @property
    def max_response_bytes(self) -> int:
        """The most bytes one answer may have (``Requester``): longer ones are refused unread."""
        return self._http.max_response_bytes

    def derived_secret(self, purpose: str) -> bytes:
        """A secret for ``purpose`` derived from the key and the base URL: the same in every run with
        them, unknown without the key (HMAC-SHA256 keyed by it)."""
        message = f"session-mcp {purpose}\0{self.base_url}".encode()
        return hmac.new(self._http.secret().encode(), message, hashlib.sha256).digest()

    @property
    def fingerprint(self) -> str:
        """A non-reversible name of this client's key and base URL: its partition of the caches."""
        return self._fingerprint

    async def __aenter__(self) -> CompanionClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._shared.http.aclose()

    # -- endpoints -------------------------------------------------------------------------

    async def list_sessions(
        self, *, page_index: int = 0, page_size: int = 20, **filters: Unpack[SessionFilters]
    ) -> SessionPage:
        """One page of sessions matching every filter given (``None`` means no filter)."""
        tags = filters.get("tags") or {}
        self._http.refuse_key_in(*(v for k, v in filters.items() if k != "tags"), *tags.keys(), *tags.values())
        params = build_list_params(page_index=page_index, page_size=page_size, **filters)
        try:
            # Rows past the page size are dropped unparsed and counted (``SessionPage.items_left_out``).
            page = await self._http.get("/public/sessions", SessionPage, params=params, max_items=page_size)
        except NotFoundError as exc:  # the list always exists: what is missing is the API at this address
            raise InvalidResponseError(
                f"{exc} The list of sessions is always there, so the base URL is likely wrong: check "
                f"NAPSTER_API_BASE_URL ({self.base_url}), the API's own address (default {DEFAULT_BASE_URL}).",
                status=404,
                code="wrong_base_url",
            ) from None
        page.mark_same_rows_as(self._shared.pages.same_rows(self._fingerprint, params, page))
        return page

    async def iter_pages(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        limit: int | None = None,
        slot: Callable[[], AbstractAsyncContextManager[object]] | None = None,
        **filters: Unpack[SessionFilters],
    ) -> AsyncIterator[SessionPage]:
        """Every page of sessions matching the filters, up to ``limit`` sessions in all.

        Stops when ``SessionPage.more_after`` says the list is done, at the limit, or at a page
        that brings no new id (an API that ignores ``pageIndex``). Items already seen on an earlier
        page are dropped, so the list shifting while it is read never yields one id twice; the
        last page is trimmed to the limit. Each request holds a ``slot()`` when given (a pacer's,
        shared with detail requests sent meanwhile).
        """
        seen: set[str] = set()
        page_index = 0
        while limit is None or len(seen) < limit:
            async with slot() if slot is not None else nullcontext():
                page = await self.list_sessions(page_index=page_index, page_size=page_size, **filters)
            fresh = []
            for item in page.items:
                if item.id not in seen and (limit is None or len(seen) < limit):
                    seen.add(item.id)
                    fresh.append(item)
            yield page.model_copy(update={"items": fresh})
            # A page with nothing new means the API ignores pageIndex (or the list stands still): stop.
            if not fresh or not page.more_after(len(seen), page_size):
                return
            page_index += 1

    async def iter_sessions(
        self, *, page_size: int = MAX_PAGE_SIZE, limit: int | None = None, **filters: Unpack[SessionFilters]
    ) -> AsyncIterator[SessionSummary]:
        """Every session matching the filters, page after page, at most ``limit``, each id once."""
        async for page in self.iter_pages(page_size=page_size, limit=limit, **filters):
            for item in page.items:
                yield item

    async def get_session(self, session_id: str, *, use_cache: bool = True, keep_body: bool = False) -> SessionDetail:
        """One session with its transcript; closed sessions come from the cache when they can.

        ``use_cache=False`` neither reads nor fills the cache: for one-pass scans such as an
        export, which would only evict what interactive reads keep there. ``keep_body`` keeps the
        JSON for the session when the ingest changed nothing in it (``plain.kept_text``): a store
        keeps it as it came instead of re-making it.
        """
        self._http.refuse_key_in(session_id)  # first: the id check below quotes what it refuses
        validate_session_id(session_id)
        if use_cache:
            cached = self._shared.cache.get(self._fingerprint, session_id)
            if cached is not None:
                return cached
        path = "/public/sessions/" + quote(session_id, safe="")
        session = await self._http.get(path, SessionDetail, not_found_id=session_id, keep_body=keep_body)
        if use_cache:
            self._shared.cache.put(self._fingerprint, session)
        return session

    async def create_connection(
        self,
        companion_id: str,
        voice_id: str,
        *,
        settings: Mapping[str, Any] | None = None,
        **optional: Any,
    ) -> ConnectionResponse:
        """Open a connection (a new session) from a companion and a voice: the API's fallback call.

        Never retried, and rate limited with ``create_agent_connection`` (see ``_connect``).
        ``optional`` takes the documented optional fields in snake_case (``external_client_id``,
        ``tags``, ...).
        """
        try:
            body = ConnectionRequest(
                companion_id=companion_id,
                provider_config=ProviderConfig(voice_id=voice_id, settings=dict(settings or {})),
                **optional,
            )
        except ValidationError as exc:
            raise InvalidInputError("Invalid connection request: " + describe_validation_error(exc)) from None
        if not companion_id.strip() or not voice_id.strip():
            raise InvalidInputError("companion_id and voice_id must not be empty.")
        return await self._connect("/public/connections", body)

    async def create_agent_connection(
        self, agent_id: str, channel_type: ChannelType = "webrtc", **optional: Any
    ) -> ConnectionResponse:
        """Open a connection to an agent: the vendor's preferred call. Limited like ``create_connection``.

        ``optional`` takes ``external_client_id``, ``external_client_profile``, ``initial_speech``
        and ``tags``.
        """
        self._http.refuse_key_in(agent_id)  # first: the id check below quotes what it refuses
        validate_path_id(agent_id, "an agent", "agent_abc123")
        try:
            body = AgentConnectionRequest(channel_type=channel_type, **optional)
        except ValidationError as exc:
            raise InvalidInputError("Invalid connection request: " + describe_validation_error(exc)) from None
        return await self._connect(f"/public/agents/{quote(agent_id, safe='')}/connections", body)

    async def _connect(self, path: str, body: WireModel) -> ConnectionResponse:
        """POST a connection request: never retried, at most one per 5 s per key over both endpoints.

        A request counts once sent, whatever its answer; one that could not reach the API does
        not. A call within 5 s of the last one sent fails at once with ``RateLimitedError``
        carrying the wait, instead of sending a request the API would refuse. The clock lives in
        this process (shared by ``with_api_key`` clients): another process has its own.
        """
        async with self._shared.lock:
            now = time.monotonic()
            last = self._shared.last_connection_at.get(self._fingerprint)
            if last is not None and now - last < CONNECTION_INTERVAL_SECONDS:
                wait = CONNECTION_INTERVAL_SECONDS - (now - last)
                raise RateLimitedError(
                    f"This server sent a connection request {now - last:.1f} s ago (whether or not it succeeded), "
                    f"and the Companion API allows one every {CONNECTION_INTERVAL_SECONDS:.0f} s, so this one was "
                    f"not sent. Try again in {wait:.1f} s.",
                    retry_after=round(wait, 1),
                )
            self._shared.last_connection_at[self._fingerprint] = now
        try:
            response = await self._http.send("POST", path, ConnectionResponse, json=body.to_wire())
        except UpstreamUnavailableError as exc:
            if exc.code == "unreachable" and self._shared.last_connection_at.get(self._fingerprint) == now:
                del self._shared.last_connection_at[self._fingerprint]  # nothing reached the API: no wait owed
            raise
        return response

    def mask_key(self, text: str) -> str:
        """``text`` with this client's API key replaced by asterisks, for echoing caller input."""
        return self._http.mask_key(text)

    # -- the directory: companions and agents ----------------------------------------------------

    async def list_companions(
        self,
        *,
        page_index: int = 0,
        page_size: int = 20,
        statuses: Sequence[str] | None = None,
        search: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> CompanionPage:
        """One page of the project's companions, filtered as the vendor documents (``None``: no filter).

        ``statuses`` go as one ``statuses`` parameter each (``statuses=readyToUse&statuses=completed``),
        the way list parameters bind on the vendor's stack; the encoding is not documented.
        """
        statuses = list(statuses or ())
        self._http.refuse_key_in(search, *statuses, *(tags or {}).keys(), *(tags or {}).values())
        params = build_list_params(page_index=page_index, page_size=page_size, search=search, tags=tags)
        for status in statuses:
            if not status or any(ord(c) < 32 or ord(c) == 127 for c in status) or len(status) > 100:
                raise InvalidInputError("statuses must be non-empty words without control characters.")
        query = httpx2.QueryParams([*params.items(), *(("statuses", status) for status in statuses)])
        return await self._directory("/public/companions", CompanionPage, query, page_size)

    async def list_agents(self, *, page_index: int = 0, page_size: int = 20) -> AgentPage:
        """One page of the project's agents (no filter is documented for this list)."""
        params = build_list_params(page_index=page_index, page_size=page_size)
        return await self._directory("/public/agents", AgentPage, params, page_size)

    async def _directory(self, path: str, model: type[PageT], params: Mapping[str, str | int], page_size: int) -> PageT:
        """A directory page; an API without the endpoint (404) raises ``MissingEndpointError``."""
        try:
            return await self._http.get(path, model, params=params, max_items=page_size)
        except NotFoundError as exc:
            raise MissingEndpointError(
                f"This Companion API has no GET {path} (404): it is likely an older version without it. "
                "Sessions can still be listed: their companion ids are in list_sessions.",
                status=404,
                code=exc.code or "no_endpoint",
            ) from None


PageT = TypeVar("PageT", bound=DirectoryPage)


class SessionFilters(TypedDict, total=False):
    """The filters of ``GET /public/sessions``; a missing or ``None`` one does not filter."""

    companion_id: str | None
    external_client_id: str | None
    search: str | None
    tags: Mapping[str, str] | None


def build_list_params(*, page_index: int, page_size: int, **filters: Unpack[SessionFilters]) -> dict[str, str | int]:
    """The query of ``GET /public/sessions``, after checking every bound."""
    if not isinstance(page_index, int) or isinstance(page_index, bool) or page_index < 0:
        raise InvalidInputError(f"page_index must be an integer >= 0, not {page_index!r}.")
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, not {page_size!r}.")
    params: dict[str, str | int] = {"pageIndex": page_index, "pageSize": page_size}
    tags = filters.get("tags")
    for name, value in (
        ("companionId", filters.get("companion_id")),
        ("externalClientId", filters.get("external_client_id")),
        ("search", filters.get("search")),
    ):
        if value is None:
            continue
        if not isinstance(value, str) or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise InvalidInputError(f"{name} must be a string without control characters.")
        params[name] = check_external_client_id(value) if name == "externalClientId" else value
    if tags:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise InvalidInputError("tags must map string keys to string values, e.g. {'channel': 'web'}.")
        params["tags"] = encode_tags_query(tags)
    for name, encoded in params.items():
        if isinstance(encoded, str) and len(encoded) > MAX_FILTER_LENGTH:
            raise InvalidInputError(
                f"{name} is {len(encoded):,} characters long; filters are limited to {MAX_FILTER_LENGTH:,}."
            )
    return params
