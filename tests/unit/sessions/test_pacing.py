"""Adaptive concurrency: it grows on a fast API, halves on a 429 or rising latency, within bounds."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from starlette.responses import JSONResponse

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.http import RetryPolicy
from session_mcp.sessions.fetch import fetch_sessions
from session_mcp.sessions.pacing import RATE_BACKOFF, SLOT_ROOM, SLOT_SPARE, AdaptiveLimiter
from session_mcp.simulator import Simulator, serve_in_thread

pytestmark = pytest.mark.anyio
NO_RETRY = RetryPolicy(max_retries=0)


def ids_of(simulator: Simulator, count: int) -> list[str]:
    return [s["id"] for s in simulator.sessions_of("demo")[:count]]


async def fetch(client: CompanionClient, ids: list[str], limiter: AdaptiveLimiter) -> int:
    """Fetch ``ids`` through ``limiter``; how many could not be read."""
    _, failures = await fetch_sessions(client, ids, concurrency=1, use_cache=False, pacer=limiter.slot)
    return len(failures)


async def test_it_grows_to_the_maximum_while_answers_are_fast(simulator: Simulator, base_url: str) -> None:
    simulator.latency = 0.02
    # Latency alone never halves it here: a loaded test machine must not look like a slow API.
    limiter = AdaptiveLimiter(minimum=2, maximum=16, initial=2, margin_seconds=10)
    async with CompanionClient("demo", base_url) as client:
        assert await fetch(client, ids_of(simulator, 120), limiter) == 0
    assert limiter.limit == 16 and limiter.decreases == []
    # Requests really ran side by side, far beyond the initial 2; exactly 16 at once depends on
    # how fast a loaded machine turns the answers around.
    assert 8 <= limiter.peak <= 16
    assert simulator.peak_in_flight <= 16


async def test_it_reacts_to_a_429_once_per_round(simulator: Simulator, base_url: str) -> None:
    simulator.latency = 0.05  # 40 answers then take long enough to tell their rate
    # Latency ignored (a loaded machine slows answers): this test is about 429s alone.
    limiter = AdaptiveLimiter(minimum=2, maximum=16, initial=16, margin_seconds=10)
    async with CompanionClient("demo", base_url, retry=NO_RETRY) as client:
        assert await fetch(client, ids_of(simulator, 40), limiter) == 0
        simulator.fail_next(429, times=4, code="RequestRateLimitExceeded", retry_after=1)
        assert await fetch(client, ids_of(simulator, 40), limiter) == 4
    assert limiter.decreases == ["rate limited (429)"]  # four 429s in one round: one reaction
    # After 40 answers, the reaction is to pace the sends at the rate they were accepted (the
    # slots follow that rate) rather than to halve the slots.
    assert limiter.rate is not None


async def test_it_halves_when_latency_rises(simulator: Simulator, base_url: str) -> None:
    simulator.latency = 0.01
    # It grows first with latency ignored (a loaded test machine must not halve it early), then
    # judges latency again: answers ten times slower than the fastest one must halve it.
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=4, margin_seconds=10)
    async with CompanionClient("demo", base_url) as client:
        await fetch(client, ids_of(simulator, 60), limiter)
        grown = limiter.limit
        limiter.margin_seconds = 0.05
        simulator.latency = 0.15
        await fetch(client, ids_of(simulator, 40), limiter)
    assert grown == 32
    assert limiter.decreases and limiter.decreases[0].startswith("latency rose to")
    assert limiter.limit < grown


def test_the_bounds_hold_whatever_happens() -> None:
    limiter = AdaptiveLimiter(minimum=2, maximum=6, initial=3)
    for _ in range(50):
        limiter.record(0.01)
    assert limiter.limit == 6
    for _ in range(30):
        limiter.record(0.01, rate_limited=True)
    assert limiter.limit == 2
    with pytest.raises(ValueError, match="minimum <= initial <= maximum"):
        AdaptiveLimiter(minimum=4, initial=2)


def test_after_a_halving_it_climbs_one_slot_per_round() -> None:
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=16)
    limiter.record(0.05, rate_limited=True)
    assert limiter.limit == 8
    for _ in range(8 + 8):  # the cooldown, then one round of fast answers
        limiter.record(0.05)
    assert limiter.limit == 9


class Clock:
    """A clock the test moves: the accepted rate is answers over time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answered(limiter: AdaptiveLimiter, clock: Clock, count: int, per_second: float, seconds: float = 0.05) -> None:
    for _ in range(count):
        clock.now += 1 / per_second
        limiter.record(seconds)


def test_a_429_paces_at_just_under_the_accepted_rate_with_the_slots_it_needs() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=32, clock=clock)
    answered(limiter, clock, 300, per_second=200)  # 200 a second were accepted over the last second
    limiter.record(0.05, rate_limited=True)
    assert limiter.rate is not None and 180 <= limiter.rate <= 200
    # The slots follow the rate (200/s x 50 ms = 10 in flight, with room), not a halving of 32.
    assert limiter.limit == math.ceil(limiter.rate * 0.05 * SLOT_ROOM) + SLOT_SPARE < 32
    assert limiter.decreases == ["rate limited (429)"]


def test_a_429_after_a_climb_paces_near_the_rate_just_before_it() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=32, clock=clock)
    answered(limiter, clock, 300, per_second=100)  # a slow start...
    answered(limiter, clock, 100, per_second=400)  # ... then the rate that met the limit
    limiter.record(0.05, rate_limited=True)
    assert limiter.rate is not None and 0.9 * 400 * RATE_BACKOFF <= limiter.rate <= 400  # not the climb's ~175


def test_a_429_while_paced_backs_off_a_little_not_by_half() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=32, clock=clock)
    answered(limiter, clock, 300, per_second=400)
    limiter.record(0.05, rate_limited=True)
    first = limiter.rate
    answered(limiter, clock, 64, per_second=380)  # past the round's cooldown
    limiter.record(0.05, rate_limited=True)
    assert first is not None and limiter.rate is not None
    assert 0.9 * first <= limiter.rate < first
    assert limiter.limit >= 20  # 380/s x 50 ms: the slots did not halve


def test_a_429_after_the_paced_rate_grew_past_the_limit_paces_under_what_the_api_took() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=32, clock=clock)
    answered(limiter, clock, 300, per_second=300)
    limiter.record(0.05, rate_limited=True)  # paced at ~285/s ...
    assert limiter.rate is not None
    limiter.rate = 500.0  # ... then grown past the API's limit by the probing
    answered(limiter, clock, 200, per_second=400)  # the API took 400 a second (and refused the rest)
    limiter.record(0.05, rate_limited=True)
    assert limiter.rate is not None and 0.9 * 400 * RATE_BACKOFF <= limiter.rate <= 400  # not 500 x 0.95


def test_a_pause_before_a_429_is_not_read_as_the_api_taking_less() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=32, clock=clock)
    answered(limiter, clock, 300, per_second=400)
    clock.now += 0.2  # no answer for a while: our own pause (a chunk stored, a loop held), not the API's
    limiter.record(0.05, rate_limited=True)
    assert limiter.rate is not None and 0.9 * 400 * RATE_BACKOFF <= limiter.rate <= 400


@pytest.mark.parametrize("per_second", [4.0, 5.0, 10.0])
def test_a_slow_api_s_rate_is_learned_from_its_last_answers(per_second: float) -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=4, clock=clock)
    answered(limiter, clock, 40, per_second=per_second)
    limiter.record(0.05, rate_limited=True)
    assert limiter.rate is not None and 0.9 * per_second * RATE_BACKOFF <= limiter.rate <= per_second


def test_no_rate_is_learned_from_answers_that_came_all_at_once() -> None:
    clock = Clock()
    limiter = AdaptiveLimiter(minimum=2, maximum=32, initial=16, clock=clock)
    for _ in range(20):
        limiter.record(0.05)  # no time passed: no rate can be told, so the slots halve as before
    limiter.record(0.05, rate_limited=True)
    assert limiter.rate is None and limiter.limit == 16


class RateLimited:
    """The simulator behind a token bucket: ``rate`` requests a second, ``burst`` at once, else 429."""

    def __init__(self, app: Any, rate: float, burst: int) -> None:
        self.app, self.rate, self.burst = app, rate, burst
        self.tokens, self.at, self.limited = float(burst), time.monotonic(), 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1:
                self.limited += 1
                body = {"error": {"code": "RateLimited", "message": "Too many requests"}}
                await JSONResponse(body, status_code=429, headers={"Retry-After": "1"})(scope, receive, send)
                return
            self.tokens -= 1
        await self.app(scope, receive, send)


async def test_against_a_rate_limit_it_holds_the_rate_with_few_429s() -> None:
    simulator = Simulator(session_count=400, latency=0.02)
    upstream = RateLimited(simulator.app, rate=150, burst=5)
    limiter = AdaptiveLimiter()
    with serve_in_thread(upstream) as url:
        async with CompanionClient("demo", url) as client:
            _, failures = await fetch_sessions(
                client, ids_of(simulator, 400), concurrency=1, use_cache=False, pacer=limiter.slot
            )
    assert not failures
    assert limiter.rate is not None and limiter.rate <= 150 * 1.1  # it learned the limit and paces under it
    # The unpaced start meets the limit; then the pacing keeps 429s rare (the saw-tooth of halving
    # the slots on each 429 drew dozens here, and each costs a request a second's Retry-After).
    assert upstream.limited <= 20
