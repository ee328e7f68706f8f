"""An adaptive number of requests in flight, and a learned send rate, for scans of many sessions.

A fixed limit is either too timid for a fast API or too pushy for a slow one. ``AdaptiveLimiter``
starts low and grows while answers come back fast, and backs off when the API says it is busy:

- **Grow**: one more slot per fast answer until the first slowdown (a doubling per round trip,
  like TCP's slow start), then one more per ``limit`` fast answers (a steady climb).
- **Pace** on a 429, retried by the client or not: an API that answers 429 limits a *rate*, so
  the limiter learns the rate it accepted (its latest answers, ``RATE_RECENT``)
  and from then on spaces the sends at just under it (``RATE_BACKOFF``), raising that rate by
  ``RATE_GROWTH`` a second while the pacing holds sends back and no 429 comes; a 429 while paced
  paces at just under the lower of that rate and the rate accepted, so a rate that grew past the
  limit comes back to it at once, not 5 % a 429 (each 429 costs its request the ``Retry-After``
  wait, a second at least: near the end of a sync, the sync's own end). The slots are
  then set to what that rate needs at the fastest latency seen (``rate x latency``, with room),
  instead of halved: halving them on every 429 drops the rate far below the limit, and the
  climb back ends in the next 429 (a saw-tooth at about two thirds of the limit).
  A 429 is reacted to as it arrives (``companion.timing`` tells), not when its request ends
  after the ``Retry-After`` wait: meanwhile every other send would meet the limit too. A retry
  after a 429 waits for its turn on the schedule, like a first attempt.
- **Halve** on a 429 when no rate can be learned yet (too few answers), or when even the fastest
  of the last ``WINDOW`` answers took more than ``slowdown`` times the fastest answer seen and
  ``margin_seconds`` more. After either reaction, the answers already in flight (sent at the old
  rate) change nothing, and latency is judged afresh.
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

import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from session_mcp.companion.timing import Observation, observing
from session_mcp.errors import RateLimitedError

logger = logging.getLogger(__name__)

WINDOW = 32  # answers whose fastest one judges latency: one of them at least got through undelayed by us
RATE_WINDOW = 1.0  # seconds of accepted answers kept to learn the accepted rate from...
RATE_RECENT = 0.25  # ... of which those of the newest answer's last this long give it: the rate that met the
# limit, not the average of the climb to it (a second's average paced a 400/s API at ~250/s)...
RATE_ANSWERS = 16  # ... or the newest this many when fewer came in that time (a slow API: few answers, rough)
MIN_RATE_SPAN = 0.1  # ... spread over at least this long, else no rate is learned (the slots halve)
RATE_BACKOFF = 0.95  # a 429 paces the sends at this share of the rate the API accepted, or of the paced rate
RATE_GROWTH = 0.05  # a paced rate grows by this share a second while no 429 comes...
RATE_PROBE = 1.0  # ... or by this share until the first 429 that comes while paced (see ``_grow_rate``)
SLOT_ROOM = 2.0  # slots per request the paced rate keeps in flight (rate x latency): answers vary...
SLOT_SPARE = 2  # ... and a few more, for requests waiting out a Retry-After in their slot
BURST = 4  # sends the pacing lets out at once after a pause: well within any API's burst


@dataclass
class AdaptiveLimiter:
    """Use ``async with limiter.slot():`` around each request."""

    minimum: int = 2
    maximum: int = 32
    initial: int = 4
    slowdown: float = 2.0
    margin_seconds: float = 0.05
    clock: Callable[[], float] = time.monotonic  # when answers come: the accepted rate (tests pass their own)
    limit: int = field(init=False)
    peak: int = field(default=0, init=False)  # most requests in flight at once
    rate: float | None = field(default=None, init=False)  # sends a second once a 429 taught it; None: unpaced
    decreases: list[str] = field(default_factory=list, init=False)  # why each reaction (halving, pacing) happened
    _in_flight: int = field(default=0, init=False)
    _fastest: float | None = field(default=None, init=False)
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW), init=False)
    _grown_since: int = field(default=0, init=False)
    _cooldown: int = field(default=0, init=False)
    _changed: anyio.Condition = field(default_factory=anyio.Condition, init=False)
    _accepted: deque[float] = field(default_factory=lambda: deque(maxlen=4096), init=False)  # when, by ``clock``
    _next_send: float = field(default=0.0, init=False)  # the pacing's schedule, by ``clock``
    _held_back: bool = field(default=False, init=False)  # the pacing delayed a send since the rate last grew
    _probing: bool = field(default=True, init=False)  # no 429 came yet while paced

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.initial <= self.maximum:
            raise ValueError("AdaptiveLimiter needs 1 <= minimum <= initial <= maximum")
        self.limit = self.initial

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a free slot (and, once paced, for the send's turn), hold it for one request, and
        learn from how that request went."""
        async with self._changed:
            while self._in_flight >= self.limit:
                await self._changed.wait()
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        await self._turn()
        started = time.monotonic()
        failed_limited = False
        observed = Observation()
        try:
            with observing(pace=self._turn, on_rate_limited=self._rate_limited) as observed:
                yield
        except RateLimitedError:
            failed_limited = True
            raise
        finally:
            self._in_flight -= 1
            seconds = observed.headers_seconds
            seconds = time.monotonic() - started if seconds is None else seconds
            if failed_limited and not observed.rate_limited:  # a 429 the HTTP layer did not see: react now
                self.record(seconds, rate_limited=True)
            else:  # its 429s, if any, were reacted to as they came
                self._answered(seconds, accepted=not failed_limited)
            with anyio.CancelScope(shield=True):
                async with self._changed:
                    self._changed.notify_all()

    async def _turn(self) -> None:
        """Once paced, wait for this send's turn: ``rate`` sends a second, ``BURST`` at once at most."""
        if self.rate is None:
            return
        now = self.clock()
        at = max(self._next_send, now - BURST / self.rate)
        self._next_send = at + 1 / self.rate
        if at > now:
            self._held_back = True
            await anyio.sleep(at - now)

    def record(self, seconds: float, *, rate_limited: bool = False) -> None:
        """Adjust the limit after one answer whose headers came ``seconds`` after its request."""
        if rate_limited:
            self._note_latency(seconds)
            self._rate_limited()
        else:
            self._answered(seconds, accepted=True)

    def _note_latency(self, seconds: float) -> None:
        self._fastest = seconds if self._fastest is None else min(self._fastest, seconds)
        self._recent.append(seconds)

    def _rate_limited(self) -> None:
        """A 429: pace at just under the rate accepted (and never above the paced rate), else halve."""
        if self._cooldown > 0:  # one reaction per round: these were sent at the old rate
            self._cooldown -= 1
            return
        accepted = self.accepted_rate(self.clock())
        if self.rate is not None:  # paced: back off from what the API took when a probe overshot it (by half
            # at most: sends held up by our own work, a review's checks, are fewer than the API would take)
            accepted = self.rate if accepted is None else min(self.rate, max(accepted, self.rate / 2))
        if accepted is not None:
            self._pace_at(accepted * RATE_BACKOFF)
        else:
            self._halve("rate limited (429)")

    def _answered(self, seconds: float, *, accepted: bool) -> None:
        """An answer that was no 429 (or whose 429s were reacted to already)."""
        self._note_latency(seconds)
        if accepted:
            self._accepted.append(self.clock())
            self._grow_rate()
        if self._cooldown > 0:  # one reaction per round: these were sent at the old rate
            self._cooldown -= 1
        elif (floor := self._slow_floor()) is not None:
            self._halve(f"latency rose to {floor * 1000:.0f} ms (fastest {(self._fastest or 0) * 1000:.0f} ms)")
        elif not self.decreases:
            self.limit = min(self.maximum, self.limit + 1)
        else:
            self._grown_since += 1
            if self._grown_since >= self.limit:
                self.limit = min(self.maximum, self.limit + 1)
                self._grown_since = 0

    def accepted_rate(self, now: float) -> float | None:
        """Answers a second the API accepted lately (see ``RATE_RECENT``); None when too few to tell.

        Counted between answers, from the newest one: a pause before the 429 (ours: a chunk being
        stored, a loop held by the checks) is no answer the API refused.
        """
        while self._accepted and self._accepted[0] < now - RATE_WINDOW:
            self._accepted.popleft()
        if len(self._accepted) < 2:
            return None
        newest = oldest = self._accepted[-1]
        count = 0
        for at in reversed(self._accepted):
            if count >= RATE_ANSWERS and at < newest - RATE_RECENT:
                break
            oldest, count = at, count + 1
        span = newest - oldest
        return (count - 1) / span if span >= MIN_RATE_SPAN else None

    def _pace_at(self, rate: float) -> None:
        """Send at most ``rate`` a second from now on, with the slots that rate needs."""
        if self.rate is not None:
            self._probing = False  # a 429 at a paced rate: that rate is the API's, give or take
        self.rate = rate
        self.limit = max(self.minimum, min(self.maximum, self._slots_needed()))
        self.decreases.append("rate limited (429)")
        logger.info("rate limited (429): pacing at %.0f requests/s, %d in flight at most", rate, self.limit)
        self._reacted()
        self._held_back = False

    def _slots_needed(self) -> int:
        """Requests in flight that keep ``rate`` going at the fastest latency seen, with room."""
        return math.ceil((self.rate or 0.0) * (self._fastest or 0.0) * SLOT_ROOM) + SLOT_SPARE

    def _grow_rate(self) -> None:
        """Raise a paced rate by ``RATE_GROWTH`` a second, spread over its answers, while the pacing binds.

        The first 429 usually comes from the bursts of the unpaced start (an API's bucket holds a few
        requests, not a second's worth), at a rate well below the limit: until a 429 comes while
        paced, the rate grows by ``RATE_PROBE`` a second instead (a slow start of the rate).
        """
        if self.rate is not None and self._held_back:
            self.rate += RATE_PROBE if self._probing else RATE_GROWTH
            self._held_back = False
            self.limit = max(self.limit, min(self.maximum, self._slots_needed()))  # the slots keep up

    def _slow_floor(self) -> float | None:
        """The fastest of the last ``WINDOW`` answers when even it is well above the fastest seen, else None."""
        if self._fastest is None or len(self._recent) < WINDOW:
            return None
        floor = min(self._recent)
        return floor if floor > max(self._fastest * self.slowdown, self._fastest + self.margin_seconds) else None

    def _halve(self, why: str) -> None:
        self.limit = max(self.minimum, self.limit // 2)
        if self.rate is not None:  # a paced rate halves too, or its slots would grow straight back
            self.rate /= 2
        self.decreases.append(why)
        logger.info("%s: %d in flight at most", why, self.limit)
        self._reacted()

    def _reacted(self) -> None:
        """After a reaction: the answers already in flight change nothing; latency is judged afresh."""
        self._cooldown = self.limit + self._in_flight
        self._grown_since = 0
        self._recent.clear()
