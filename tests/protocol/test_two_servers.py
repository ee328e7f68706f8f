"""Several servers on one PostgreSQL store: one sync at a time across processes, identical answers.

Real processes: ``session-mcp sync`` jobs and two ``session-mcp --transport http`` servers, all on
one database, against the simulator on loopback, which records every request. The upstream holds
detail requests at a gate the test opens, so "a sync is running" is a state the test waits for
(the advisory lock granted), never a sleep.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

from session_mcp.sessions.sync import CHUNK
from session_mcp.simulator import Simulator
from session_mcp.store.postgres import PostgresStore
from session_mcp.store.url import DatabaseURL
from tests.helpers import SwitchableApp, clean_environment, run_process, script
from tests.protocol.test_http import http_client
from tests.protocol.test_transports import drain, free_port, stop, wait_for_log
from tests.stores import advisory_locks, fresh_database

pytestmark = pytest.mark.anyio

DETAIL = "/public/sessions/"
NOW = int(time.time())  # the jobs and servers run on the real clock: data of the last weeks, within any retention
SECRET = "one-cursor-secret-for-every-replica"


class Gated:
    """The simulator, but detail requests past the first ``free`` wait until ``gate`` is set."""

    def __init__(self, simulator: Simulator, free: int) -> None:
        self.simulator = simulator
        self.free = free
        self.served = 0
        self.gate = threading.Event()

    @property
    def requests(self) -> Any:
        return self.simulator.requests

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(DETAIL):
            self.served += 1
            if self.served > self.free:
                await anyio.to_thread.run_sync(self.gate.wait)
        await self.simulator.app(scope, receive, send)


@pytest.fixture
def url() -> Iterator[DatabaseURL]:
    with fresh_database() as made:
        yield made


def environment(base_url: str, url: DatabaseURL) -> dict[str, str]:
    return clean_environment(
        NAPSTER_API_KEY="demo",
        NAPSTER_API_BASE_URL=base_url,
        SESSION_MCP_STORE=url.dsn,
        SESSION_MCP_TIMEOUT="20",
        SESSION_MCP_CURSOR_SECRET=SECRET,
    )


def details(simulator: Simulator) -> list[str]:
    return [r.raw_path[len(DETAIL) :] for r in simulator.requests if r.raw_path.startswith(DETAIL)]


def closed_ids(simulator: Simulator) -> set[str]:
    return {s["id"] for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")}


async def until(check: Any, limit: float = 30) -> None:
    """Wait for a state of the database (polled): the event is in another process."""
    with anyio.fail_after(limit):
        while not await anyio.to_thread.run_sync(check):
            await anyio.sleep(0.02)


def stored(store: PostgresStore) -> set[str]:
    return {str(r[0]) for r in store.call(lambda c: c.execute("SELECT id FROM sessions").fetchall())}


async def ask_two_servers(env: dict[str, str]) -> list[dict[str, Any]]:
    """Two ``--transport http`` servers on the same store, asked the same searches: each one's answers.

    A cursor from the first reads on at the second (one cursor secret, one store)."""
    answers: list[dict[str, Any]] = []
    ports = [free_port(), free_port()]
    servers = [
        await anyio.open_process(
            [script(), "--transport", "http", "--port", str(port), "--log-level", "INFO"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        async with anyio.create_task_group() as tasks:
            for server in servers:
                assert server.stderr is not None
                await wait_for_log(server.stderr, b"Streamable HTTP on")
                tasks.start_soon(drain, server.stderr)
            with anyio.fail_after(60):
                for port in ports:
                    async with http_client(f"http://127.0.0.1:{port}/mcp") as client:
                        answer: dict[str, Any] = {}
                        for query in ("refund", '"how can i help"', "ord* -the"):
                            result = await client.call_tool("search_transcripts", {"query": query, "page_size": 5})
                            assert not result.is_error and result.structured_content is not None
                            answer[query] = result.structured_content
                        answers.append(answer)
                # A cursor from one replica reads on at the other (one cursor secret, one store).
                cursor = answers[0]["refund"]["next_cursor"]
                async with http_client(f"http://127.0.0.1:{ports[1]}/mcp") as client:
                    more = await client.call_tool(
                        "search_transcripts", {"query": "refund", "page_size": 5, "cursor": cursor}
                    )
                assert not more.is_error and more.structured_content is not None
                assert (
                    more.structured_content["hits"] and more.structured_content["hits"] != answers[0]["refund"]["hits"]
                )
            for server in servers:
                await stop(server)
    finally:
        for server in servers:
            await stop(server)
    return answers


async def test_one_sync_runs_across_processes_and_two_servers_answer_alike(
    upstream: tuple[SwitchableApp, str], url: DatabaseURL
) -> None:
    simulator = Simulator(anchor=NOW, api_keys={"demo": 7}, session_count=300)
    gated = Gated(simulator, free=0)
    upstream[0].simulator = gated  # type: ignore[assignment]
    env = environment(upstream[1], url)
    watcher = PostgresStore(url)
    try:
        first = await anyio.open_process([script(), "sync"], env=env, stdin=subprocess.DEVNULL)
        async with first:
            try:
                await until(lambda: len(advisory_locks(watcher)) == 1)  # the first job holds the tenant's lock
                second = await anyio.to_thread.run_sync(lambda: run_process("sync", env=env))
                assert second.returncode == 1, second
                assert "another sync is running on this store for this API key" in second.stderr
                assert details(simulator) == []  # held at the gate: the second job asked for nothing either
            finally:
                gated.gate.set()  # whatever happened, the first job may end
            with anyio.fail_after(60):
                assert await first.wait() == 0
        fetched = collections.Counter(details(simulator))
        assert set(fetched) == closed_ids(simulator) and set(fetched.values()) == {1}  # each once, by one job
        assert stored(watcher) == closed_ids(simulator)
    finally:
        watcher.close()

    answers = await ask_two_servers(env)
    assert answers[0] == answers[1]
    assert answers[0]["refund"]["total_hits"] > 5


async def test_a_sync_killed_mid_way_loses_nothing_and_the_next_resumes(
    upstream: tuple[SwitchableApp, str], url: DatabaseURL
) -> None:
    simulator = Simulator(anchor=NOW, api_keys={"demo": 7}, session_count=600)
    gated = Gated(simulator, free=CHUNK * 3 // 2)  # a first chunk is fetched and stored, then the rest waits
    upstream[0].simulator = gated  # type: ignore[assignment]
    env = environment(upstream[1], url)
    watcher = PostgresStore(url)
    try:
        killed = await anyio.open_process([script(), "sync"], env=env, stdin=subprocess.DEVNULL)
        async with killed:
            try:
                await until(lambda: len(stored(watcher)) > 0)  # a chunk is committed
            finally:
                killed.send_signal(signal.SIGKILL)  # the server dies mid-sync: no cleanup of its own
                await killed.wait()
        kept = stored(watcher)
        assert 0 < len(kept) < len(closed_ids(simulator))
        await until(lambda: advisory_locks(watcher) == [])  # PostgreSQL freed the dead job's lock
        gated.gate.set()
        simulator.requests.clear()
        resumed = await anyio.to_thread.run_sync(lambda: run_process("sync", env=env))
        assert resumed.returncode == 0, resumed
        assert stored(watcher) == closed_ids(simulator)
        assert not set(details(simulator)) & kept  # what the killed job stored is not fetched again
    finally:
        watcher.close()
