"""An adaptive number of requests in flight, for scans of many sessions.

A fixed limit is either too timid for a fast API or too pushy for a slow one. ``AdaptiveLimiter``
starts low and grows while answers come back fast, and halves when the API says it is busy:

- **Grow**: one more slot per fast answer until the first slowdown (a doubling per round trip,
  like TCP's slow start), then one more per ``limit`` fast answers (a steady climb).
- **Halve** on a 429 that the client could not retry away (``RateLimitedError``), or when the
  recent latency (a moving average) rises above ``slowdown`` times the fastest answer seen and
  ``margin_seconds`` over it (a retried 429 shows up here: the client waited before the retry).
  After halving, the next ``limit`` answers only refill the average: the requests already in
  flight were sent at the old rate.
- Always within ``minimum`` and ``maximum``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from session_mcp.errors import RateLimitedError

SMOOTHING = 0.2  # weight of the newest answer in the moving average of latency


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
    _average: float | None = field(default=None, init=False)
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
        try:
            yield
        except RateLimitedError:
            rate_limited = True
            raise
        finally:
            self._in_flight -= 1
            self.record(time.monotonic() - started, rate_limited=rate_limited)
            with anyio.CancelScope(shield=True):
                async with self._changed:
                    self._changed.notify_all()

    def record(self, seconds: float, *, rate_limited: bool = False) -> None:
        """Adjust the limit after one answer that took ``seconds``."""
        self._fastest = seconds if self._fastest is None else min(self._fastest, seconds)
        self._average = seconds if self._average is None else SMOOTHING * seconds + (1 - SMOOTHING) * self._average
        if self._cooldown > 0:  # one halving per round: these were sent at the old rate
            self._cooldown -= 1
            return
        if rate_limited:
            self._halve("rate limited (429)")
        elif self._average > max(self._fastest * self.slowdown, self._fastest + self.margin_seconds):
            self._halve(f"latency rose to {self._average * 1000:.0f} ms (fastest {self._fastest * 1000:.0f} ms)")
        elif not self.decreases:
            self.limit = min(self.maximum, self.limit + 1)
        else:
            self._grown_since += 1
            if self._grown_since >= self.limit:
                self.limit = min(self.maximum, self.limit + 1)
                self._grown_since = 0

    def _halve(self, why: str) -> None:
        self.limit = max(self.minimum, self.limit // 2)
        self.decreases.append(why)
        self._cooldown = self.limit + self._in_flight
        self._grown_since = 0
        self._average = self._fastest  # judge the new rate by its own answers
