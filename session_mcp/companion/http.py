"""One request to the Companion API: the key, retries under one deadline, the body bound, the errors.

``Requester`` is what the client (``session_mcp.companion.client``) sends every call through: it
holds one API key and the pooled ``httpx2.AsyncClient`` (``open_pool``), and turns an exchange
into a validated model or a typed ``CompanionError`` that says what to do. GETs are retried
(429, 502/503/504, transport errors) within ``RetryPolicy.max_total``; a POST is sent once.
Redirects are never followed (one could lead the key elsewhere), an answer over
``max_response_bytes`` is refused as soon as that is known, and the key never leaves the
``X-Api-Key`` header: it is masked in whatever this module echoes or logs.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx2
from pydantic import BaseModel, SecretStr

from session_mcp.companion.ingest import KEY_MASK, ingest
from session_mcp.companion.models import ErrorBody
from session_mcp.companion.offload import off_loop
from session_mcp.companion.sanitize import shorten, single_line
from session_mcp.companion.timing import note_headers, retry_turn
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

USER_AGENT = "session-mcp"

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


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


def is_header_safe(value: str) -> bool:
    """Non-empty printable ASCII without spaces: what an API key sent in a header can be."""
    return bool(value) and value.isascii() and value.isprintable() and " " not in value


def header_key(api_key: str | SecretStr | None) -> SecretStr | None:
    """The key as a ``SecretStr``, refused (``InvalidInputError``) when a header cannot carry it."""
    key = api_key if isinstance(api_key, SecretStr) or api_key is None else SecretStr(api_key)
    if key is not None and not is_header_safe(key.get_secret_value()):
        raise InvalidInputError(
            "The API key is empty or holds characters an HTTP header cannot carry (spaces, control "
            "characters or non-ASCII): check how NAPSTER_API_KEY (or X-Napster-Api-Key) was pasted."
        )
    return key


def open_pool(
    base_url: str,
    *,
    timeout: float,
    connect_timeout: float,
    max_connections: int,
    transport: httpx2.AsyncBaseTransport | None,
) -> httpx2.AsyncClient:
    """The pooled connections every ``Requester`` of one client family shares (requests logged keyless)."""
    return httpx2.AsyncClient(
        base_url=base_url,
        timeout=httpx2.Timeout(timeout, connect=connect_timeout),
        limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        transport=transport,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        event_hooks={"request": [_log_request]},
    )


class Requester:
    """Sends requests with one API key over a shared pool; answers are models, failures ``CompanionError``.

    ``attempt_timeout`` bounds a whole attempt: the read timeout bounds each wait for a byte, so
    without it an answer that trickles in byte by byte could hold a call forever.
    """

    def __init__(
        self,
        pool: httpx2.AsyncClient,
        api_key: SecretStr | None,
        *,
        base_url: str,
        retry: RetryPolicy,
        max_response_bytes: int,
        attempt_timeout: float,
    ) -> None:
        self.pool = pool
        self._api_key = api_key  # None: no key (a shared server where each request brings its own)
        self.base_url = base_url
        self.retry = retry
        self.max_response_bytes = max_response_bytes
        self.attempt_timeout = attempt_timeout

    async def get(
        self,
        path: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str | int] | None = None,
        not_found_id: str | None = None,
        max_items: int | None = None,
        keep_body: bool = False,
    ) -> ModelT:
        """GET with bounded retries on 429, 502/503/504 and transport errors, all within ``max_total``.

        The deadline covers every attempt and wait, so neither a trickling body nor trickling
        headers nor an endless chunked answer can hold the call longer.
        """
        try:
            with anyio.fail_after(self.retry.max_total):
                return await self._get_retrying(
                    path, model, params=params, not_found_id=not_found_id, max_items=max_items, keep_body=keep_body
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
        keep_body: bool,
    ) -> ModelT:
        deadline = time.monotonic() + self.retry.max_total
        attempt = 0
        while True:
            try:
                return await self.send(
                    "GET",
                    path,
                    model,
                    params=params,
                    not_found_id=not_found_id,
                    max_items=max_items,
                    keep_body=keep_body,
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
                await retry_turn()  # a paced scan's retry waits for its turn, as its first attempt did

    async def send(
        self,
        method: str,
        path: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        not_found_id: str | None = None,
        max_items: int | None = None,
        keep_body: bool = False,
    ) -> ModelT:
        """One request, never retried; returns the body as the validated model (an ``items`` array cut to
        ``max_items``; a plain body's text kept for it with ``keep_body``)."""
        what = f"{method} {path}"
        if self._api_key is None:
            raise AuthenticationError(
                "No Companion API key was given: set NAPSTER_API_KEY, or send the X-Napster-Api-Key header "
                "with each HTTP request.",
                code="no_key",
            )
        headers = {"X-Api-Key": self.secret()}
        started = time.perf_counter()
        try:
            with anyio.fail_after(self.attempt_timeout):
                async with self.pool.stream(method, path, params=params, json=json, headers=headers) as response:
                    note_headers(time.perf_counter() - started, response.status_code)  # the upstream's own time
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
        return await off_loop(
            len(body), ingest, body, model, what=what, secret=self.secret(), max_items=max_items, keep_body=keep_body
        )

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
            return ingest(body, ErrorBody, what=what, secret=self.secret())
        except InvalidResponseError:
            return None

    def mask_key(self, text: str) -> str:
        """``text`` with the API key replaced by asterisks, for echoing caller input."""
        secret = self.secret()
        return text.replace(secret, KEY_MASK) if secret else text

    def refuse_key_in(self, *values: object) -> None:
        """Refuse an argument holding the API key: it would travel in a URL, which gets logged."""
        secret = self.secret()
        if secret and any(isinstance(value, str) and secret in value for value in values):
            raise InvalidInputError(
                "That argument holds the API key: the key is never sent in a URL. Pass a session id or a filter."
            )

    def secret(self) -> str:
        """The key itself (empty without one): for the header, masking, and keys derived from it."""
        return self._api_key.get_secret_value() if self._api_key is not None else ""


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
