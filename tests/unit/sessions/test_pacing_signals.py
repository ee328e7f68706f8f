"""The limiter reads the upstream's signals, not our own CPU: time to headers and every 429. A review
whose checks keep the CPU busy (holding the GIL) against an upstream of fixed latency, in a process
of its own, never shrinks it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.models import SessionDetail
from session_mcp.qa.checks import Finding
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.runner import run_review
from session_mcp.sessions.fetch import fetch_sessions
from session_mcp.sessions.pacing import AdaptiveLimiter
from session_mcp.sessions.redact import redactor
from session_mcp.sessions.select import Selection
from session_mcp.simulator import Simulator, serve_in_thread
from tests.upstream import Answer, HostileUpstream, normal_session

pytestmark = pytest.mark.anyio

LATENCY_MS = 40
SESSIONS = 300


@pytest.fixture(scope="module")
def steady_upstream() -> Iterator[str]:
    """``tests.steady_upstream`` as a child process: our CPU is not its CPU, and its latency holds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.steady_upstream", str(LATENCY_MS), str(SESSIONS)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Busy(RuleSet):
    """The built-in checks, then pure-Python work that holds the GIL, as a slow rules file would."""

    cpu_seconds: float = 0.02

    def review(self, session: SessionDetail, shown: SessionDetail | None = None) -> list[Finding]:
        until = time.thread_time() + self.cpu_seconds
        while time.thread_time() < until:
            sum(i * i for i in range(200))
        return super().review(session, shown)


async def test_a_review_busy_with_its_checks_never_halves_on_a_steady_upstream(steady_upstream: str) -> None:
    pacer = AdaptiveLimiter()
    async with CompanionClient("demo", steady_upstream) as client:
        review = await run_review(client, Selection(limit=SESSIONS), Busy(), redactor(False), pacer=pacer)
    assert review.fetched == SESSIONS and review.report.reviewed == SESSIONS
    assert pacer.decreases == []
    assert pacer.peak > 4  # it grew


async def test_latency_is_the_time_to_headers_not_the_time_to_read_the_body() -> None:
    upstream = HostileUpstream()
    upstream.detail = Answer(json.dumps(normal_session("sess_slow_body")).encode(), trickle=0.002)
    limiter = AdaptiveLimiter()
    with serve_in_thread(upstream) as url:
        async with CompanionClient("key", url) as client:
            started = time.monotonic()
            _, failures = await fetch_sessions(client, ["sess_slow_body"], concurrency=1, pacer=limiter.slot)
            took = time.monotonic() - started
    assert not failures and took > 0.5  # the body trickled in for most of a second...
    assert limiter._fastest is not None and limiter._fastest < took / 2  # ...and the limiter saw the headers' time


async def test_a_429_the_client_retried_away_still_halves(simulator: Simulator, base_url: str) -> None:
    limiter = AdaptiveLimiter(initial=8)
    simulator.fail_next(429, times=1, code="RequestRateLimitExceeded", retry_after=0, path_prefix="/public/sessions/")
    async with CompanionClient("demo", base_url) as client:
        ids = [s["id"] for s in simulator.sessions_of("demo")[:1]]
        _, failures = await fetch_sessions(client, ids, concurrency=1, pacer=limiter.slot)
    assert not failures  # retried: the call succeeded...
    assert limiter.decreases == ["rate limited (429)"] and limiter.limit == 4  # ...and the upstream's signal counted
