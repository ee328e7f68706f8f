"""What one request told about the upstream, for whoever paces the requests (``sessions.pacing``).

The time a request takes end to end includes our own work: reading and validating the body, and
waiting for the event loop while a worker thread holds the GIL (the QA checks). Pacing on that,
a review that keeps the CPU busy reads its own slowness as a slow upstream and halves for nothing.
So ``http.Requester.send`` notes, in the ``Observation`` its caller opened, the two signals that
are the upstream's own: the time from sending a request to its response's headers, and any 429
(retried or not). A context variable carries it: no signature between the pacer and the request
changes, and concurrent requests, each in its own task, never see each other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Observation:
    """The upstream's signals of one paced request: time to headers (the last attempt's), and 429s."""

    headers_seconds: float | None = None
    rate_limited: bool = False


_current: ContextVar[Observation | None] = ContextVar("session_mcp_observation", default=None)


@contextmanager
def observing() -> Iterator[Observation]:
    """An ``Observation`` that the requests sent in this block (in this task) fill in."""
    observation = Observation()
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
        observation.rate_limited |= status == 429
