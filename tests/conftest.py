"""Shared fixtures: a simulator served over real HTTP on 127.0.0.1, and clients of it.

One uvicorn server runs for the whole test session on a free loopback port; each test gets a
fresh ``Simulator`` behind it, so faults, recorded requests and rate limits never leak between
tests. The listening socket is bound before the server thread starts, so connections simply queue
until uvicorn accepts them: no readiness polling, no sleeps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.http import RetryPolicy
from session_mcp.simulator import Simulator, bind_loopback, make_server

ANCHOR = 1_790_000_000  # a fixed "now" for the demo data: 2026-09-21T14:13:20Z
FAST_RETRY = RetryPolicy(max_retries=3, backoff_base=0.005, max_wait=0.05, max_total=5.0)
# hypothesis for the adversarial suites: large generated inputs against an MCP session that a
# module fixture keeps open, so no deadline, no example database and no size health checks.
ADVERSARIAL = settings(
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# An external client id that the demo data has, for filter tests (the data is fixed by its seed).
DEMO_CLIENT_ID: str = next(
    s["externalClientId"] for s in Simulator(anchor=ANCHOR).sessions_of("demo") if s.get("externalClientId")
)


class SwitchableApp:
    """An ASGI app that forwards to whichever simulator the current test installed."""

    def __init__(self) -> None:
        self.simulator: Simulator | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.simulator is not None, "no simulator installed for this test"
        await self.simulator.app(scope, receive, send)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def upstream() -> Iterator[tuple[SwitchableApp, str]]:
    """(switchable app, base URL) of the session-wide simulator server."""
    app = SwitchableApp()
    sock = bind_loopback()
    port = sock.getsockname()[1]
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def simulator(upstream: tuple[SwitchableApp, str]) -> Simulator:
    """A fresh simulator with fixed demo data, installed behind the HTTP server."""
    sim = Simulator(anchor=ANCHOR, api_keys={"demo": 7, "other-tenant-key": 99})
    upstream[0].simulator = sim
    return sim


@pytest.fixture
def base_url(upstream: tuple[SwitchableApp, str], simulator: Simulator) -> str:
    return upstream[1]


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[CompanionClient]:
    async with CompanionClient(api_key="demo", base_url=base_url, retry=FAST_RETRY, timeout=5) as c:
        yield c


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any of the server's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAPSTER_", "SESSION_MCP_"))}
    return env | extra


@pytest.fixture
def process_env(base_url: str) -> dict[str, str]:
    """The environment of a ``session-mcp`` process that uses the test's simulator."""
    return clean_environment(NAPSTER_API_KEY="demo", NAPSTER_API_BASE_URL=base_url, SESSION_MCP_TIMEOUT="10")
