"""Shared fixtures: a simulator served over real HTTP on 127.0.0.1, clients of it, and the MCP server.

One uvicorn server runs for the whole test session on a free loopback port; each test gets a
fresh ``Simulator`` behind it, so faults, recorded requests and rate limits never leak between
tests. The listening socket is bound before the server thread starts, so connections simply queue
until uvicorn accepts them: no readiness polling, no sleeps.
"""

from __future__ import annotations

import functools
import gc
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpcore2
import pytest
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.simulator import Simulator, bind_loopback, make_server
from session_mcp.store.open import StoreEngine, StoreLocation
from tests.helpers import FAST_RETRY, SwitchableApp, clean_environment, connect, simulator_of
from tests.stores import ENGINES, opened, store_at

# Every client loads the system's CA bundle into a new SSL context, 45 ms of CPU each, and the suite
# opens thousands of clients that speak plain HTTP to loopback: one context per process serves them all.
httpcore2.default_ssl_context = functools.cache(httpcore2.default_ssl_context)


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
    sim = simulator_of({"demo": 7, "other-tenant-key": 99})
    upstream[0].simulator = sim
    return sim


@pytest.fixture
def base_url(upstream: tuple[SwitchableApp, str], simulator: Simulator) -> str:
    return upstream[1]


@pytest.fixture
async def client(base_url: str) -> AsyncIterator[CompanionClient]:
    async with CompanionClient(api_key="demo", base_url=base_url, retry=FAST_RETRY, timeout=5) as c:
        yield c


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    """The protocol era: ``auto`` (the newest both sides speak) and ``legacy`` (initialize first)."""
    return str(request.param)


@pytest.fixture
async def mcp(client: CompanionClient, mode: str) -> AsyncIterator[Client]:
    """The SDK's ``Client`` of the server in memory, reading the test's simulator, in both protocol eras."""
    async with connect(client, mode=mode) as connected:
        yield connected


@pytest.fixture
def process_env(base_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a ``session-mcp`` process that uses the test's simulator; its data folder (the
    default session store, which ``qa`` reads reviewers' verdicts from) in the test's own folder."""
    return clean_environment(
        NAPSTER_API_KEY="demo",
        NAPSTER_API_BASE_URL=base_url,
        SESSION_MCP_TIMEOUT="10",
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
    )


def pytest_configure(config: pytest.Config) -> None:
    """The user's data folder (the default session store) is never the tests': whatever runs without a
    store of its own, here or in a child process, keeps it in a folder of this run."""
    folder = tempfile.mkdtemp(prefix="session-mcp-tests-")
    os.environ["XDG_DATA_HOME"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection built (modules, hypothesis strategies, fixtures) lives as long as the run: out
    of the garbage collector's sight, each full collection during the tests costs a fraction."""
    gc.freeze()


@pytest.fixture(params=ENGINES)
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreEngine]:
    """An opened store, once on SQLite and once on PostgreSQL (tests/stores.py)."""
    with opened(request.param, tmp_path) as store:
        yield store


@pytest.fixture(params=ENGINES)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreLocation]:
    """Where a store lives, once a SQLite file and once a fresh PostgreSQL database (tests/stores.py)."""
    with store_at(request.param, tmp_path) as location:
        yield location
