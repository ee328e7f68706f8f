"""``CompanionClient``: the async client of the Companion API sessions endpoints.

One ``httpx2.AsyncClient`` (pooled connections, timeouts), typed results, typed errors, bounded
retries for idempotent reads, a paging iterator, and a cache of closed sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from session_mcp.companion.cache import PageMemory, SessionCache, key_fingerprint
from session_mcp.companion.ingest import KEY_MASK, describe_validation_error, ingest
from session_mcp.companion.models import (
    MAX_PAGE_SIZE,
    AgentConnectionRequest,
    ChannelType,
    ConnectionRequest,
    ConnectionResponse,
    ErrorBody,
    ProviderConfig,
    SessionDetail,
    SessionPage,
    SessionSummary,
    WireModel,
    encode_tags_query,
)
from session_mcp.companion.offload import off_loop
from session_mcp.companion.sanitize import shorten, single_line
from session_mcp.errors import (
    AuthenticationError,
    BadRequestError,
    CompanionError,
    ConflictError,
    InvalidInputError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    UpstreamUnavailableError,
)

DEFAULT_BASE_URL = "https://companion-api.napster.com"
MAX_SESSION_ID_LENGTH = 256
MAX_FILTER_LENGTH = 2_000  # per filter, encoded: URLs this long already strain proxies
CONNECTION_INTERVAL_SECONDS = 5.0
USER_AGENT = "session-mcp"

logger = logging.getLogger(__name__)

_FORBIDDEN_ID_CHARS = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")
ModelT = TypeVar("ModelT", bound=BaseModel)


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


@dataclass
class RetryPolicy:
    """How idempotent reads are retried: bounded in count and in each wait, and a whole call,
    every attempt and wait included, ends within ``max_total`` seconds (each attempt is also
    bounded by the client's timeout)."""

    max_retries: int = 3
    backoff_base: float = 0.25
    max_wait: float = 10.0
    max_total: float = 90.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (0-based)."""
        return random.uniform(0, min(self.max_wait, self.backoff_base * 2**attempt))


@dataclass
class _SharedState:
    """What clients made by ``with_api_key`` share: the pool, the cache, the connection clock, the
    pages read lately."""

    http: httpx2.AsyncClient
    cache: SessionCache
    # The read timeout bounds each wait for a byte; this bounds a whole attempt, so an answer
    # that trickles in byte by byte cannot hold a call forever.
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
        self._api_key = api_key if isinstance(api_key, SecretStr) or api_key is None else SecretStr(api_key)
        if self._api_key is not None and not is_header_safe(self._api_key.get_secret_value()):
            raise InvalidInputError(
                "The API key is empty or holds characters an HTTP header cannot carry (spaces, control "
                "characters or non-ASCII): check how NAPSTER_API_KEY (or X-Napster-Api-Key) was pasted."
            )
        self.base_url = base_url.rstrip("/")
        # A call ends within three timeouts, retries included: 90 s at the default 30 s.
        self.retry = retry or RetryPolicy(max_total=3 * timeout)
        self.max_response_bytes = max_response_bytes
        self._fingerprint = key_fingerprint(self._secret(), self.base_url)
        if _shared is None:
            http = httpx2.AsyncClient(
                base_url=self.base_url,
                timeout=httpx2.Timeout(timeout, connect=connect_timeout),
                limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                transport=transport,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                event_hooks={"request": [_log_request]},
            )
            _shared = _SharedState(
                http=http,
                cache=cache if cache is not None else SessionCache(),
                attempt_timeout=2 * timeout + connect_timeout,
            )
        self._shared = _shared
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

    def derived_secret(self, purpose: str) -> bytes:
        """A secret for ``purpose`` derived from the key and the base URL: the same in every run with
        them, unknown without the key (HMAC-SHA256 keyed by it)."""
        message = f"session-mcp {purpose}\0{self.base_url}".encode()
        return hmac.new(self._secret().encode(), message, hashlib.sha256).digest()

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
        self._refuse_key_in(*(v for k, v in filters.items() if k != "tags"), *tags.keys(), *tags.values())
        params = build_list_params(page_index=page_index, page_size=page_size, **filters)
        try:
            # Rows past the page size are dropped unparsed and counted (``SessionPage.items_left_out``).
            page = await self._get("/public/sessions", SessionPage, params=params, max_items=page_size)
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
        self, *, page_size: int = MAX_PAGE_SIZE, limit: int | None = None, **filters: Unpack[SessionFilters]
    ) -> AsyncIterator[SessionPage]:
        """Every page of sessions matching the filters, up to ``limit`` sessions in all.

        Stops when ``SessionPage.more_after`` says the list is done, at the limit, or at a page
        that brings no new id (an API that ignores ``pageIndex``). Items already seen on an earlier
        page are dropped, so the list shifting while it is read never yields one id twice; the
        last page is trimmed to the limit.
        """
        seen: set[str] = set()
        page_index = 0
        while limit is None or len(seen) < limit:
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

    async def get_session(self, session_id: str, *, use_cache: bool = True) -> SessionDetail:
        """One session with its transcript; closed sessions come from the cache when they can.

        ``use_cache=False`` neither reads nor fills the cache: for one-pass scans such as an
        export, which would only evict what interactive reads keep there.
        """
        self._refuse_key_in(session_id)  # first: the id check below quotes what it refuses
        validate_session_id(session_id)
        if use_cache:
            cached = self._shared.cache.get(self._fingerprint, session_id)
            if cached is not None:
                return cached
        path = "/public/sessions/" + quote(session_id, safe="")
        session = await self._get(path, SessionDetail, not_found_id=session_id)
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
        self._refuse_key_in(agent_id)  # first: the id check below quotes what it refuses
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
            response = await self._request("POST", path, ConnectionResponse, json=body.to_wire())
        except UpstreamUnavailableError as exc:
            if exc.code == "unreachable" and self._shared.last_connection_at.get(self._fingerprint) == now:
                del self._shared.last_connection_at[self._fingerprint]  # nothing reached the API: no wait owed
            raise
        return response

    # -- transport -------------------------------------------------------------------------

    async def _get(
        self,
        path: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str | int] | None = None,
        not_found_id: str | None = None,
        max_items: int | None = None,
    ) -> ModelT:
        """GET with bounded retries on 429, 502/503/504 and transport errors, all within ``max_total``.

        The deadline covers every attempt and wait, so neither a trickling body nor trickling
        headers nor an endless chunked answer can hold the call longer.
        """
        try:
            with anyio.fail_after(self.retry.max_total):
                return await self._get_retrying(
                    path, model, params=params, not_found_id=not_found_id, max_items=max_items
                )
        except TimeoutError:
            raise UpstreamUnavailableError(
                f"The Companion API did not answer GET {path} within {self.retry.max_total:g} s, retries included. "
                "It may be slow or down: try again in a moment, or raise the timeout (SESSION_MCP_TIMEOUT; a "
                "call may take three times it).",
                code="timeout",
            ) from None

    async def _get_retrying(
        self,
        path: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str | int] | None,
        not_found_id: str | None,
        max_items: int | None,
    ) -> ModelT:
        deadline = time.monotonic() + self.retry.max_total
        attempt = 0
        while True:
            try:
                return await self._request(
                    "GET", path, model, params=params, not_found_id=not_found_id, max_items=max_items
                )
            except (RateLimitedError, UpstreamUnavailableError) as exc:
                if attempt >= self.retry.max_retries or not _retryable(exc):
                    raise
                wait = self.retry.backoff(attempt)
                if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                    if exc.retry_after > self.retry.max_wait:
                        raise  # retrying before Retry-After only earns another 429: hand the wait back
                    wait = max(wait, exc.retry_after)
                if time.monotonic() + wait > deadline:
                    raise  # the wait alone would pass the deadline
                logger.info("GET %s failed (%s); retry %d in %.2f s", path, type(exc).__name__, attempt + 1, wait)
                attempt += 1
                await anyio.sleep(wait)

    async def _request(
        self,
        method: str,
        path: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        not_found_id: str | None = None,
        max_items: int | None = None,
    ) -> ModelT:
        """One request; returns the body as the validated model (an ``items`` array cut to ``max_items``)."""
        what = f"{method} {path}"
        if self._api_key is None:
            raise AuthenticationError(
                "No Companion API key was given: set NAPSTER_API_KEY, or send the X-Napster-Api-Key header "
                "with each HTTP request.",
                code="no_key",
            )
        headers = {"X-Api-Key": self._secret()}
        started = time.perf_counter()
        try:
            with anyio.fail_after(self._shared.attempt_timeout):
                async with self._shared.http.stream(
                    method, path, params=params, json=json, headers=headers
                ) as response:
                    body = await self._read_body(response, what)
        except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
            # Nothing was sent: the only case in which a POST is known not to have reached the API.
            raise UpstreamUnavailableError(
                f"Could not reach the Companion API at {self.base_url} ({type(exc).__name__}). Check the "
                "network and NAPSTER_API_BASE_URL, then try again.",
                code="unreachable",
            ) from None
        except (httpx2.TimeoutException, TimeoutError):
            raise UpstreamUnavailableError(
                f"The Companion API did not answer {what} in time. It may be slow or down: try again in a "
                "moment, or raise the timeout (SESSION_MCP_TIMEOUT).",
                code="timeout",
            ) from None
        except httpx2.TransportError as exc:
            raise UpstreamUnavailableError(
                f"The connection to the Companion API at {self.base_url} failed during {what} "
                f"({type(exc).__name__}). Check the network, then try again.",
                code="connection_lost",
            ) from None
        except httpx2.DecodingError:
            raise InvalidResponseError(
                f"The Companion API answered {what} with a body that could not be decoded (its "
                "Content-Encoding does not match its bytes). This is an upstream problem: try again later.",
                code="undecodable",
            ) from None
        except (httpx2.InvalidURL, httpx2.UnsupportedProtocol, UnicodeError):
            raise InvalidInputError(
                f"{what} cannot be sent: the base URL, a filter or the key holds characters a request cannot "
                "carry. Check NAPSTER_API_BASE_URL and the arguments.",
                code="unsendable",
            ) from None
        logger.debug("%s -> %d (%d bytes, %.0f ms)", what, response.status_code, len(body), _ms(started))
        if 300 <= response.status_code < 400:
            raise self._redirect(response, what)
        if response.status_code >= 400:
            # An error body is parsed off the loop too: it may be as big as any answer.
            error = await off_loop(len(body), self._error_body, body, what)
            raise self._error_for(response, error, what, not_found_id)
        return await off_loop(len(body), ingest, body, model, what=what, secret=self._secret(), max_items=max_items)

    async def _read_body(self, response: httpx2.Response, what: str) -> bytes:
        """The body, refused as soon as it is known to exceed ``max_response_bytes``."""
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise self._too_large(what, int(declared), declared=True)
        chunks: list[bytes] = []
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > self.max_response_bytes:
                raise self._too_large(what, received, declared=False)
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, what: str, size: int, *, declared: bool) -> InvalidResponseError:
        how = f"declares {size:,} bytes; it was refused unread" if declared else "kept coming; reading stopped"
        return InvalidResponseError(
            f"The Companion API's answer to {what} is over the {self.max_response_bytes:,}-byte limit ({how}). "
            "If the data is genuine, raise SESSION_MCP_MAX_RESPONSE_MB.",
            code="too_large",
        )

    def _redirect(self, response: httpx2.Response, what: str) -> InvalidResponseError:
        """A 3xx is never followed (it could lead the key elsewhere) nor read as an answer."""
        location = response.headers.get("location")
        to = f" to {shorten(self.mask_key(single_line(location)), 200)!r}" if location else ""
        return InvalidResponseError(
            f"The Companion API answered {what} with a redirect ({response.status_code}){to}, which is not "
            "followed. Check NAPSTER_API_BASE_URL: it must be the API's own address (scheme, host and path).",
            status=response.status_code,
            code="redirect",
        )

    def _error_for(
        self, response: httpx2.Response, error: ErrorBody | None, what: str, not_found_id: str | None
    ) -> CompanionError:
        status = response.status_code
        code = error.code if error else None
        description = error.description if error else None
        named = f"{status}" + (f", code {code}" if code else "")
        detail = f": {description}" if description else ""
        if status in (401, 403):
            return AuthenticationError(
                f"The Companion API refused the API key ({named}){detail}. Check NAPSTER_API_KEY: it must be a "
                "valid, unexpired key of the project that owns these sessions.",
                status=status,
                code=code,
            )
        if status == 404:
            if not_found_id is not None:
                return NotFoundError(
                    f"No session {shorten(not_found_id)!r} for this API key ({named}). Check the id; a session "
                    "of another project also looks like this.",
                    status=404,
                    code=code,
                )
            return NotFoundError(f"{what} was not found ({named}){detail}.", status=404, code=code)
        if status == 429:
            retry_after = _retry_after(response.headers.get("retry-after"))
            wait = f" Wait {retry_after:g} s and try again." if retry_after is not None else " Wait and try again."
            return RateLimitedError(
                f"The Companion API is rate limiting {what} ({named}){detail}.{wait}",
                retry_after=retry_after,
                code=code,
            )
        if status == 409:
            return ConflictError(
                f"The Companion API refused {what} because a limit was reached ({named}){detail}. End a live "
                "session or wait for one to close, then try again.",
                status=409,
                code=code,
            )
        if status >= 500:
            return UpstreamUnavailableError(
                f"The Companion API failed to answer {what} ({status}){detail}. It is an upstream problem: "
                "try again in a moment.",
                status=status,
                code=code,
            )
        return BadRequestError(
            f"The Companion API rejected {what} ({named}){detail or ': no reason given'}. Check the arguments "
            "(companion id, voice id, filters) and try again.",
            status=status,
            code=code,
            description=description,
        )

    def _error_body(self, body: bytes, what: str) -> ErrorBody | None:
        """The error body made safe, or ``None`` when it is missing or unusable: the status decides."""
        try:
            return ingest(body, ErrorBody, what=what, secret=self._secret())
        except InvalidResponseError:
            return None

    def mask_key(self, text: str) -> str:
        """``text`` with this client's API key replaced by asterisks, for echoing caller input."""
        secret = self._secret()
        return text.replace(secret, KEY_MASK) if secret else text

    def _refuse_key_in(self, *values: object) -> None:
        """Refuse an argument holding the API key: it would travel in a URL, which gets logged."""
        secret = self._secret()
        if secret and any(isinstance(value, str) and secret in value for value in values):
            raise InvalidInputError(
                "That argument holds the API key: the key is never sent in a URL. Pass a session id or a filter."
            )

    def _secret(self) -> str:
        return self._api_key.get_secret_value() if self._api_key is not None else ""


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
        params[name] = value
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


def is_header_safe(value: str) -> bool:
    """Non-empty printable ASCII without spaces: what an API key sent in a header can be."""
    return bool(value) and value.isascii() and value.isprintable() and " " not in value


def _retryable(exc: CompanionError) -> bool:
    if isinstance(exc, RateLimitedError):
        return True
    return exc.status in (None, 502, 503, 504)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (HTTP dates are ignored)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _log_request(request: httpx2.Request) -> None:
    """Debug log of each request with the key header redacted."""
    if logger.isEnabledFor(logging.DEBUG):
        headers = {k: ("**********" if k.lower() == "x-api-key" else v) for k, v in request.headers.items()}
        logger.debug("-> %s %s headers=%s", request.method, request.url, headers)
