"""Fetching many sessions at once.

Used by the batch tool, the statistics tool and the export command: concurrency is bounded,
results keep the order asked for, and one failing session never stops the others: whatever
reading or preparing one session raises (an API error, a body that cannot be parsed, a redactor
that fails) makes it a ``Failure`` with the reason, and the rest carry on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import anyio
from pydantic import BaseModel

from session_mcp.companion.models import SessionDetail
from session_mcp.companion.sanitize import shorten
from session_mcp.errors import CompanionError
from session_mcp.store.base import SessionStore

if TYPE_CHECKING:  # fetching is typed by the client, but a Failure must not load the HTTP stack
    from session_mcp.companion.client import CompanionClient

ProgressCallback = Callable[[int, int, str], Awaitable[None]]
Prepare = Callable[[SessionDetail], Awaitable[SessionDetail]]  # e.g. redaction, before a session is shown
# A slot per request: ``AdaptiveLimiter.slot``; without one, a fixed ``concurrency`` bounds the requests.
Pacer = Callable[[], AbstractAsyncContextManager[object]]


class Failure(BaseModel):
    """A session that could not be read, and why (the key masked, a long id shortened)."""

    session_id: str
    reason: str


MAX_SHOWN_ID = 80

logger = logging.getLogger(__name__)


async def fetch_sessions(
    client: CompanionClient,
    session_ids: Sequence[str],
    *,
    concurrency: int,
    on_progress: ProgressCallback | None = None,
    use_cache: bool = True,
    prepare: Prepare | None = None,
    pacer: Pacer | None = None,
    store: SessionStore | None = None,
) -> tuple[list[SessionDetail], list[Failure]]:
    """Every session of ``session_ids`` (in that order), passed through ``prepare``, and the ones that failed.

    At most ``concurrency`` requests are in flight; ``on_progress(done, total, message)`` is
    awaited as each session arrives. With a ``store``, a session it holds (closed: it never
    changes) is read from it, with no request.
    """
    stored = await store.get_sessions(session_ids) if store is not None else {}
    ordered = await _fetch_in_order(
        client, session_ids, concurrency, use_cache, on_progress, prepare, pacer, stored=stored
    )
    return (
        [r for r in ordered if isinstance(r, SessionDetail)],
        [r for r in ordered if isinstance(r, Failure)],
    )


async def stream_sessions(
    client: CompanionClient, session_ids: AsyncIterator[str], *, concurrency: int, use_cache: bool = True
) -> AsyncIterator[SessionDetail | Failure]:
    """Sessions (or why not) for an id stream, in order, ``concurrency * 4`` at a time: memory stays flat."""
    chunk: list[str] = []
    async for session_id in session_ids:
        chunk.append(session_id)
        if len(chunk) >= concurrency * 4:
            for item in await _fetch_in_order(client, chunk, concurrency, use_cache):
                yield item
            chunk = []
    for item in await _fetch_in_order(client, chunk, concurrency, use_cache):
        yield item


async def _fetch_in_order(
    client: CompanionClient,
    session_ids: Sequence[str],
    concurrency: int,
    use_cache: bool,
    on_progress: ProgressCallback | None = None,
    prepare: Prepare | None = None,
    pacer: Pacer | None = None,
    *,
    stored: Mapping[str, SessionDetail] | None = None,
) -> list[SessionDetail | Failure]:
    """One result per id, in the order of ``session_ids``, fetched concurrently."""
    results: dict[int, SessionDetail | Failure] = {}
    limiter = anyio.CapacityLimiter(concurrency)
    slot = pacer or (lambda: limiter)
    total = len(session_ids)

    async def fetch(index: int, session_id: str) -> None:
        try:
            session = (stored or {}).get(session_id)
            if session is None:
                async with slot():  # the slot sees the request's error: a pacer learns from a 429
                    session = await client.get_session(session_id, use_cache=use_cache)
            results[index] = await prepare(session) if prepare is not None else session
        except Exception as exc:  # whatever one session raises is its own failure
            results[index] = failure_of(client, session_id, exc)
        if on_progress is not None:
            await on_progress(len(results), total, f"fetched {session_id}")

    async with anyio.create_task_group() as group:
        for index, session_id in enumerate(session_ids):
            group.start_soon(fetch, index, session_id)
    return [results[i] for i in range(total)]


def failure_of(client: CompanionClient, session_id: str, error: Exception) -> Failure:
    """Why one session could not be read, for the list of failures (the key masked, the id shortened)."""
    # The id is the caller's input: it may be long, or even hold the key.
    shown_id = shorten(client.mask_key(session_id), MAX_SHOWN_ID)
    if isinstance(error, CompanionError):
        return Failure(session_id=shown_id, reason=client.mask_key(str(error)))
    logger.warning("session %r could not be used", shown_id, exc_info=error)
    return Failure(
        session_id=shown_id,
        reason=f"the Companion API's answer for it could not be used ({type(error).__name__}).",
    )
