"""Adaptive concurrency: it grows on a fast API, halves on a 429 or rising latency, within bounds."""

from __future__ import annotations

import pytest

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.http import RetryPolicy
from session_mcp.sessions.fetch import fetch_sessions
from session_mcp.sessions.pacing import AdaptiveLimiter
from session_mcp.simulator import Simulator

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


async def test_it_halves_on_a_429_once_per_round(simulator: Simulator, base_url: str) -> None:
    simulator.latency = 0.02
    # Latency ignored (a loaded machine slows answers): this test is about 429s alone.
    limiter = AdaptiveLimiter(minimum=2, maximum=16, initial=16, margin_seconds=10)
    async with CompanionClient("demo", base_url, retry=NO_RETRY) as client:
        assert await fetch(client, ids_of(simulator, 40), limiter) == 0
        simulator.fail_next(429, times=4, code="RequestRateLimitExceeded", retry_after=1)
        assert await fetch(client, ids_of(simulator, 40), limiter) == 4
    assert limiter.decreases == ["rate limited (429)"]  # four 429s in one round: one halving
    assert limiter.limit < 16


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
