"""What one request told about the upstream, for whoever paces the requests (``sessions.pacing``).

The time a request takes end to end includes our own work: reading and validating the body, and
waiting for the event loop while a worker thread holds the GIL (the QA checks). Pacing on that,
a review that keeps the CPU busy reads its own slowness as a slow upstream and halves for nothing.
So ``http.Requester.send`` notes, in the ``Observation`` its caller opened, the two signals that
are the upstream's own: the time from sending a request to its response's headers, and any 429
(retried or not). A context variable carries it: no signature between the pacer and the request
changes, and concurrent requests, each in its own task, never see each other's.

The same way, a pacer hears of a 429 as it arrives (``Observation.on_rate_limited``), not after
the ``Retry-After`` wait, and lends the request its schedule (``Observation.pace``): a GET the
client retries after a 429 waits for its turn again (``retry_turn``) instead of going out at once
with every other request that the same burst of 429s put on hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Observation:
    """The upstream's signals of one paced request: time to headers (the last attempt's), and 429s."""

    headers_seconds: float | None = None
    rate_limited: bool = False
    pace: Callable[[], Awaitable[None]] | None = None  # the pacer's wait for a send's turn
    on_rate_limited: Callable[[], None] | None = None  # the pacer's reaction, called as a 429 arrives


_current: ContextVar[Observation | None] = ContextVar("session_mcp_observation", default=None)


@contextmanager
def observing(
    pace: Callable[[], Awaitable[None]] | None = None, on_rate_limited: Callable[[], None] | None = None
) -> Iterator[Observation]:
    """An ``Observation`` that the requests sent in this block (in this task) fill in; ``pace`` paces
    their retries, ``on_rate_limited`` hears of each 429 as it arrives."""
    observation = Observation(pace=pace, on_rate_limited=on_rate_limited)
    token = _current.set(observation)
    try:
        yield observation
    finally:
        _current.reset(token)


def note_headers(seconds: float, status: int) -> None:
    """A response's headers arrived ``seconds`` after its request was sent, with ``status``."""
    observation = _current.get()
    if observation is not None:
        observation.headers_seconds = seconds
        if status == 429:
            observation.rate_limited = True
            if observation.on_rate_limited is not None:
                observation.on_rate_limited()


async def retry_turn() -> None:
    """Before a retry: wait for the turn the current pacer gives (none outside a paced request)."""
    observation = _current.get()
    if observation is not None and observation.pace is not None:
        await observation.pace()
