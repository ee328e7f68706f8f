"""An adaptive number of requests in flight, for scans of many sessions.

A fixed limit is either too timid for a fast API or too pushy for a slow one. ``AdaptiveLimiter``
starts low and grows while answers come back fast, and halves when the API says it is busy:

- **Grow**: one more slot per fast answer until the first slowdown (a doubling per round trip,
  like TCP's slow start), then one more per ``limit`` fast answers (a steady climb).
- **Halve** on a 429, retried by the client or not, or when even the fastest of the last
  ``WINDOW`` answers took more than ``slowdown`` times the fastest answer seen and
  ``margin_seconds`` more. After halving, the answers already in flight (sent at the old rate)
  change nothing, and latency is judged afresh.
- Always within ``minimum`` and ``maximum``.

Latency is the upstream's time to headers, as the HTTP layer measures it at the response
(``companion.timing``), not the time around the whole request, which also holds our own work
(validating the body; waiting for an event loop whose worker thread runs the QA checks and holds
the GIL). Even time to headers waits for that loop, so our own delays are told apart by how they
come: they add to some answers, while an upstream that slows down slows every one. Hence the
smallest time of a window, not an average: a review busy with its checks against a steady
upstream never halves. A request that never got headers (a connection error) is timed end to end.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from session_mcp.companion.timing import Observation, observing
from session_mcp.errors import RateLimitedError

WINDOW = 32  # answers whose fastest one judges latency: one of them at least got through undelayed by us


@dataclass
class AdaptiveLimiter:
    """Use ``async with limiter.slot():`` around each request."""

    minimum: int = 2
    maximum: int = 32
    initial: int = 4
    slowdown: float = 2.0
    margin_seconds: float = 0.05
    limit: int = field(init=False)
    peak: int = field(default=0, init=False)  # most requests in flight at once
    decreases: list[str] = field(default_factory=list, init=False)  # why each halving happened
    _in_flight: int = field(default=0, init=False)
    _fastest: float | None = field(default=None, init=False)
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW), init=False)
    _grown_since: int = field(default=0, init=False)
    _cooldown: int = field(default=0, init=False)
    _changed: anyio.Condition = field(default_factory=anyio.Condition, init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.initial <= self.maximum:
            raise ValueError("AdaptiveLimiter needs 1 <= minimum <= initial <= maximum")
        self.limit = self.initial

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a free slot, hold it for one request, and learn from how that request went."""
        async with self._changed:
            while self._in_flight >= self.limit:
                await self._changed.wait()
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        started = time.monotonic()
        rate_limited = False
        observed = Observation()
        try:
            with observing() as observed:
                yield
        except RateLimitedError:
            rate_limited = True
            raise
        finally:
            self._in_flight -= 1
            seconds = observed.headers_seconds
            self.record(
                time.monotonic() - started if seconds is None else seconds,
                rate_limited=rate_limited or observed.rate_limited,
            )
            with anyio.CancelScope(shield=True):
                async with self._changed:
                    self._changed.notify_all()

    def record(self, seconds: float, *, rate_limited: bool = False) -> None:
        """Adjust the limit after one answer whose headers came ``seconds`` after its request."""
        self._fastest = seconds if self._fastest is None else min(self._fastest, seconds)
        self._recent.append(seconds)
        if self._cooldown > 0:  # one halving per round: these were sent at the old rate
            self._cooldown -= 1
            return
        if rate_limited:
            self._halve("rate limited (429)")
        elif (floor := self._slow_floor()) is not None:
            self._halve(f"latency rose to {floor * 1000:.0f} ms (fastest {(self._fastest or 0) * 1000:.0f} ms)")
        elif not self.decreases:
            self.limit = min(self.maximum, self.limit + 1)
        else:
            self._grown_since += 1
            if self._grown_since >= self.limit:
                self.limit = min(self.maximum, self.limit + 1)
                self._grown_since = 0

    def _slow_floor(self) -> float | None:
        """The fastest of the last ``WINDOW`` answers when even it is well above the fastest seen, else None."""
        if self._fastest is None or len(self._recent) < WINDOW:
            return None
        floor = min(self._recent)
        return floor if floor > max(self._fastest * self.slowdown, self._fastest + self.margin_seconds) else None

    def _halve(self, why: str) -> None:
        self.limit = max(self.minimum, self.limit // 2)
        self.decreases.append(why)
        self._cooldown = self.limit + self._in_flight
        self._grown_since = 0
        self._recent.clear()  # judge the new rate by its own answers
