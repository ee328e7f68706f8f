"""The tasks extension (``io.modelcontextprotocol/tasks``): review_sessions as a task for a client that
declares it (handle, progress in statusMessage, result, cancel), the plain result for every other.

The upstream is the simulator behind a gate that holds session reads past a number, so a test sees
the task at a known point (128 sessions checked of 200, one chunk) instead of racing it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, EmptyResult, Request, RequestParams

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server.tasks import (
    MAX_TASKS,
    TASK_TOOLS,
    TASK_TTL_MS,
    TASKS,
    CreateTaskResult,
    GetTaskResult,
    TaskRecord,
    TasksExtension,
)
from tests.helpers import ANCHOR, FAST_RETRY, connect, ok, serve_mcp, simulator_of

pytestmark = pytest.mark.anyio

REVIEW = {"limit": 200}
NOW = datetime.fromtimestamp(ANCHOR, UTC)
SEEN_BEFORE_PROGRESS = 128  # the runner reports progress per chunk of 128 sessions


class TaskIdParams(RequestParams):
    """The client's side of the params: no bound of its own, so the server's bound is what is tested."""

    task_id: str


class GetTask(Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams
    name_param = "taskId"


class CancelTask(Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskIdParams
    name_param = "taskId"


class TasksClient(ClientExtension):
    """A host that takes task handles: it polls tasks/get and returns the final result."""

    identifier = TASKS

    def __init__(self) -> None:
        self.statuses: list[str] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [
            ResultClaim(
                result_type="task",
                model=CreateTaskResult,
                resolve=self.poll,
                protocol_versions=frozenset({"2026-07-28"}),
            )
        ]

    async def poll(self, handle: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
        self.statuses.append(handle.status)
        with anyio.fail_after(30):
            while True:
                task = await ctx.session.send_request(
                    GetTask(params=TaskIdParams(task_id=handle.task_id)), GetTaskResult
                )
                self.statuses.append(task.status)
                if task.status == "completed":
                    return CallToolResult.model_validate(task.result)
                assert task.status == "working", task
                await anyio.sleep(0.01)


class Gate:
    """ASGI: the simulator, with every session read past the first ``open_for`` held until ``release``."""

    def __init__(self, app: Any, open_for: int) -> None:
        self.app, self.open_for, self.reads = app, open_for, 0
        self.released = anyio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/public/sessions/"):
            self.reads += 1
            if self.reads > self.open_for:
                await self.released.wait()
        await self.app(scope, receive, send)


@pytest.fixture
async def gated() -> AsyncIterator[tuple[CompanionClient, Gate]]:
    gate = Gate(simulator_of().app, SEEN_BEFORE_PROGRESS)
    transport = httpx2.ASGITransport(app=gate)
    async with CompanionClient("demo", "http://simulator", transport=transport, retry=FAST_RETRY) as client:
        yield client, gate


async def get(mcp: Client, task_id: str) -> GetTaskResult:
    return await mcp.session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), GetTaskResult)


async def until(mcp: Client, task_id: str, done: Any) -> GetTaskResult:
    """Poll the task until ``done(task)``: the state the test waits for, not a guessed delay."""
    with anyio.fail_after(30):
        while not done(task := await get(mcp, task_id)):
            await anyio.sleep(0.01)
    return task


async def test_a_client_with_the_extension_gets_a_task_progress_and_the_result(
    gated: tuple[CompanionClient, Gate],
) -> None:
    client, gate = gated
    async with connect(client, Settings(), extensions=[TasksClient()]) as mcp:
        assert TASKS in (mcp.server_capabilities.extensions or {})
        handle = await mcp.session.call_tool("review_sessions", REVIEW, allow_claimed=True)
        assert isinstance(handle, CreateTaskResult), handle
        assert handle.status == "working" and handle.ttl_ms and handle.poll_interval_ms
        progressed = await until(mcp, handle.task_id, lambda t: "reviewed" in (t.status_message or ""))
        assert progressed.status == "working" and progressed.result is None
        assert progressed.status_message == "reviewed 128 of 200 sessions"
        gate.released.set()
        task = await until(mcp, handle.task_id, lambda t: t.status != "working")
        assert task.status == "completed", task
        result = CallToolResult.model_validate(task.result)
    async with connect(client, Settings()) as plain:
        _, expected = ok(await plain.call_tool("review_sessions", REVIEW))
    got = ok(result)[1]
    for answer in (got, expected):  # when it ran, and the page it made: the review itself is the same
        for key in ("generated_at", "report_uri", "report_file"):
            assert answer.pop(key)
    assert got == expected


async def test_the_sdk_client_resolves_the_task_to_the_plain_result(gated: tuple[CompanionClient, Gate]) -> None:
    client, gate = gated
    gate.released.set()
    host = TasksClient()
    async with connect(client, Settings(), extensions=[host]) as mcp:
        text, structured = ok(await mcp.call_tool("review_sessions", REVIEW))
    assert host.statuses[0] == "working" and host.statuses[-1] == "completed"
    assert structured["reviewed"] == 200 and "200 sessions" in text


async def test_cancel_ends_the_task(gated: tuple[CompanionClient, Gate]) -> None:
    client, gate = gated
    async with connect(client, Settings(), extensions=[TasksClient()]) as mcp:
        handle = await mcp.session.call_tool("review_sessions", REVIEW, allow_claimed=True)
        assert isinstance(handle, CreateTaskResult)
        await until(mcp, handle.task_id, lambda t: "reviewed" in (t.status_message or ""))
        await mcp.session.send_request(CancelTask(params=TaskIdParams(task_id=handle.task_id)), EmptyResult)
        task = await get(mcp, handle.task_id)
        assert task.status == "cancelled" and task.result is None
        gate.released.set()  # the held reads go on, but the task stays cancelled
        assert (await get(mcp, handle.task_id)).status == "cancelled"
        with pytest.raises(MCPError, match="Unknown task") as unknown:
            await get(mcp, "no-such-task")
        assert unknown.value.error.code == -32602


@pytest.mark.parametrize(("mode", "extensions"), [("auto", []), ("legacy", []), ("legacy", [TasksClient()])])
async def test_every_other_client_gets_the_plain_result(
    gated: tuple[CompanionClient, Gate], mode: str, extensions: list[ClientExtension]
) -> None:
    client, gate = gated
    gate.released.set()
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with connect(client, Settings(), mode=mode, extensions=extensions) as mcp:
        result = await mcp.call_tool("review_sessions", REVIEW, progress_callback=on_progress)
        assert isinstance(result, CallToolResult)
        assert ok(result)[1]["reviewed"] == 200
        assert progress == [128, 200]  # the plain call still reports progress as notifications
        if mode == "legacy":
            with pytest.raises(MCPError) as missing:
                await get(mcp, "any")
            assert missing.value.error.code == -32601  # the methods exist on 2026-07-28 only


async def test_other_tools_never_become_tasks(gated: tuple[CompanionClient, Gate]) -> None:
    client, gate = gated
    gate.released.set()
    async with connect(client, Settings(), extensions=[TasksClient()]) as mcp:
        result = await mcp.session.call_tool("list_sessions", {"page_size": 2}, allow_claimed=True)
        assert isinstance(result, CallToolResult) and not result.is_error


async def test_over_http_a_task_is_its_own_tenants_only(base_url: str) -> None:
    """Per-request keys: the task of one key is unknown to another, as an id that never was."""

    def tenant(url: str, key: str) -> Client:
        http = httpx2.AsyncClient(headers={"X-Napster-Api-Key": key}, timeout=30)
        return Client(streamable_http_client(url, http_client=http), cache=None, extensions=[TasksClient()])

    with serve_mcp(base_url, api_key=None) as url:
        async with tenant(url, "demo") as owner, tenant(url, "other-tenant-key") as other:
            handle = await owner.session.call_tool("review_sessions", {"limit": 5}, allow_claimed=True)
            assert isinstance(handle, CreateTaskResult)
            task = await until(owner, handle.task_id, lambda t: t.status != "working")
            assert task.status == "completed" and task.result is not None
            assert "other-tenant-key" not in str(task.result) and "demo" not in task.task_id
            for call in (
                get(other, handle.task_id),
                other.session.send_request(CancelTask(params=TaskIdParams(task_id=handle.task_id)), EmptyResult),
            ):
                with pytest.raises(MCPError, match="Unknown task"):
                    await call
            assert (await get(owner, handle.task_id)).status == "completed"


async def test_odd_task_ids_get_a_clear_error(gated: tuple[CompanionClient, Gate]) -> None:
    client, gate = gated
    gate.released.set()
    async with connect(client, Settings(), extensions=[TasksClient()]) as mcp:
        for odd in ("", "x" * 65, "../../etc/passwd", "\x00", "caf\u00e9", '{"a":1}', "t" * 10_000):
            with pytest.raises(MCPError) as refused:
                await get(mcp, odd)
            assert refused.value.error.code == -32602, odd
            message = refused.value.error.message
            assert "\n" not in message and len(message) <= 1_000 and "Traceback" not in message


async def test_a_tool_error_is_a_completed_task_with_is_error(gated: tuple[CompanionClient, Gate]) -> None:
    client, gate = gated
    gate.released.set()
    async with connect(client, Settings(), extensions=[TasksClient()]) as mcp:
        handle = await mcp.session.call_tool(
            "review_sessions", {"session_ids": ["sess_a"], "since": "7d"}, allow_claimed=True
        )
        assert isinstance(handle, CreateTaskResult)
        task = await until(mcp, handle.task_id, lambda t: t.status != "working")
    assert task.status == "completed" and task.result is not None  # as the spec has it: the result, error or not
    result = CallToolResult.model_validate(task.result)
    assert result.is_error and "Give either session_ids" in result.content[0].text  # type: ignore[union-attr]


async def test_finished_tasks_make_room_and_expire_working_ones_never() -> None:
    extension = TasksExtension(TASK_TOOLS)
    for i in range(MAX_TASKS):
        task = TaskRecord(owner="o", task_id=f"t{i}")
        if i < 3:
            task.set("completed", "completed")
        extension.tasks[task.task_id] = task
    assert extension._make_room() and len(extension.tasks) == MAX_TASKS - 1 and "t0" not in extension.tasks
    extension.tasks["t0"] = TaskRecord(owner="o", task_id="t0")
    extension.tasks["t1"].created -= TASK_TTL_MS / 1000 + 1  # finished over an hour ago: gone
    extension.tasks["t5"].created -= TASK_TTL_MS / 1000 + 1  # still working: kept
    assert extension._make_room() and "t1" not in extension.tasks and "t5" in extension.tasks
    for name in ("t1", "t2", "extra"):
        extension.tasks[name] = TaskRecord(owner="o", task_id=name)
    assert not extension._make_room()  # all working: the next call runs plainly


async def test_a_window_the_store_must_sync_back_to_runs_as_a_task_with_the_syncs_progress() -> None:
    """session_stats over 30 days on an empty store: the sync back to the window's start is the long
    part, and its progress reaches the task; the result is the statistics, from the store."""
    gate = Gate(simulator_of().app, 250)  # the sync stores its first chunk of 200, then waits
    transport = httpx2.ASGITransport(app=gate)
    async with (
        CompanionClient("demo", "http://simulator", transport=transport, retry=FAST_RETRY) as client,
        connect(client, Settings(), extensions=[TasksClient()], clock=lambda: NOW) as mcp,
    ):
        handle = await mcp.session.call_tool("session_stats", {"since": "30d"}, allow_claimed=True)
        assert isinstance(handle, CreateTaskResult), handle
        progressed = await until(mcp, handle.task_id, lambda t: "stored" in (t.status_message or ""))
        assert progressed.status == "working"
        gate.released.set()
        done = await until(mcp, handle.task_id, lambda t: t.status == "completed")
    result = CallToolResult.model_validate(done.result)
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["store"]["catch_up"] == "synced" and result.structured_content["examined"] > 250
