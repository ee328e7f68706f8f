"""Long work as a task of the tasks extension (``io.modelcontextprotocol/tasks``, SEP-2663).

A client that declares the extension on a 2026-07-28 request gets, for the tools named here
(``review_sessions``: hundreds of sessions read and checked), a task handle at once instead of
waiting on one long request: it polls ``tasks/get`` (status, progress in ``statusMessage``, then
the result the call would have returned) and may ``tasks/cancel``. Every other client, and every
request that does not declare it, gets the plain result as before: a handle is never sent to a
client that did not ask for one on that request.

mcp 2.3 ships no implementation of the extension, only the interface it plugs into; what it
cannot do (pushed ``notifications/tasks``, ``input_required`` inside a task) is not offered.
Tasks live in this process's memory: a replica behind a load balancer must receive the
``tasks/*`` calls of the tasks it holds (clients send ``Mcp-Name: <taskId>`` for that).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup
from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CallToolRequestParams, EmptyResult, RequestParams, Result
from pydantic import BaseModel, Field

TASKS = "io.modelcontextprotocol/tasks"
# Long work: a review, and the reading tools whose window the store may first sync back to.
TASK_TOOLS = ("review_sessions", "session_stats", "get_session_transcripts")
MODERN = frozenset({"2026-07-28"})  # the extension exists from this revision on; older wires never see a task
TASK_TTL_MS = 3_600_000  # a task and its result are kept this long after it was created
POLL_INTERVAL_MS = 500
MAX_TASKS = 100  # held at once in this process; past it the oldest finished go, or calls run plainly
TENANT_KEY_HEADER = "x-napster-api-key"

Status = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL = frozenset({"completed", "failed", "cancelled"})

logger = logging.getLogger(__name__)


class TaskIdParams(RequestParams):
    task_id: str = Field(max_length=64)


class UpdateParams(TaskIdParams):
    input_responses: dict[str, Any] | None = None


class TaskFields(Result):
    """The flat fields of a task, as ``tasks/get`` and the handle carry them."""

    task_id: str
    status: Status
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class CreateTaskResult(TaskFields):
    """What ``tools/call`` answers instead of its result when the work became a task."""

    result_type: Literal["task"] = "task"


class GetTaskResult(TaskFields):
    """``tasks/get``: the task, and once it ended its result (``completed``) or error (``failed``)."""

    result_type: Literal["complete"] = "complete"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@dataclass
class TaskRecord:
    """One task: who started it, where it stands, and how it ended."""

    owner: str  # a digest of the caller's key header: only the same tenant may read or cancel it
    task_id: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    status: Status = "working"
    status_message: str = "queued"
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    def set(self, status: Status | None = None, message: str | None = None) -> None:
        if self.status in TERMINAL:
            return  # an ended task keeps how it ended
        self.status = status or self.status
        self.status_message = message if message is not None else self.status_message
        self.updated = time.time()

    def expired(self, now: float) -> bool:
        return self.status in TERMINAL and now - self.created > TASK_TTL_MS / 1000

    def fields(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "status": self.status,
            "status_message": self.status_message,
            "created_at": iso(self.created),
            "last_updated_at": iso(self.updated),
            "ttl_ms": TASK_TTL_MS,
            "poll_interval_ms": POLL_INTERVAL_MS,
        }


current_task: ContextVar[TaskRecord | None] = ContextVar("current_task", default=None)


async def report_progress(ctx: Context, done: float, total: float, message: str) -> None:
    """Progress of the work at hand: in the task's ``statusMessage`` when it runs as a task (a
    progress notification would reach nobody once the handle went out), else as a notification."""
    task = current_task.get()
    if task is not None:
        task.set(message=message)
    else:
        await ctx.report_progress(done, total, message)


def as_json(result: HandlerResult) -> dict[str, Any]:
    """A handler's result as the wire carries it."""
    if isinstance(result, BaseModel):
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dict(result or {})


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def owner_of(ctx: ServerRequestContext[Any, Any]) -> str:
    """The tenant of a request, as a digest: its key header over HTTP, else the server's own key."""
    headers = getattr(ctx.request, "headers", None)
    key = headers.get(TENANT_KEY_HEADER) if headers is not None else None
    return hashlib.sha256(b"server" if key is None else b"key:" + key.encode()).hexdigest()


def wants_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """True when this request declares the extension on a wire that has it."""
    if ctx.protocol_version not in MODERN:
        return False  # a 2025-11-25 client may list extensions at initialize, but cannot take a handle
    caps = ctx.session.client_capabilities
    return bool(caps and caps.extensions and TASKS in caps.extensions)


class Runner:
    """The task group the tasks run in, open while the server runs (its lifespan)."""

    def __init__(self, group: TaskGroup) -> None:
        self.group = group


@asynccontextmanager
async def lifespan(_: object) -> AsyncIterator[Runner]:
    """The server's lifespan: a task group for the tasks; leaving it cancels those still working."""
    async with anyio.create_task_group() as group:
        yield Runner(group)
        group.cancel_scope.cancel()


class TasksExtension(Extension):
    """``tools/call`` of the named tools as tasks for clients that ask; ``tasks/get``, ``/update``, ``/cancel``."""

    identifier = TASKS

    def __init__(self, task_tools: Iterable[str]) -> None:
        self.task_tools = frozenset(task_tools)
        self.tasks: dict[str, TaskRecord] = {}

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskIdParams, self._get, protocol_versions=MODERN),
            MethodBinding("tasks/update", UpdateParams, self._update, protocol_versions=MODERN),
            MethodBinding("tasks/cancel", TaskIdParams, self._cancel, protocol_versions=MODERN),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        runner = ctx.lifespan_context
        if params.name not in self.task_tools or not isinstance(runner, Runner) or not wants_tasks(ctx):
            return await call_next(ctx)
        if not self._make_room():
            logger.warning("%d tasks held: %s runs as a plain call.", MAX_TASKS, params.name)
            return await call_next(ctx)
        task = TaskRecord(owner=owner_of(ctx))
        self.tasks[task.task_id] = task  # held before the handle leaves

        async def run() -> None:
            current_task.set(task)
            with task.scope:
                try:
                    task.set(message="working")
                    task.result = as_json(await call_next(ctx))
                    task.set("completed", "completed")
                except MCPError as exc:
                    task.error = exc.error.model_dump(by_alias=True, mode="json", exclude_none=True)
                    task.set("failed", exc.error.message)
                except Exception:  # a task's failure must never take the task group (and the server) down
                    logger.exception("Task %s (%s) failed", task.task_id, params.name)
                    task.error = {"code": INTERNAL_ERROR, "message": "Internal error"}
                    task.set("failed", "failed: the details are in the server's log")
            if task.scope.cancel_called:
                task.set("cancelled", "cancelled by the client")

        runner.group.start_soon(run)
        return CreateTaskResult(**task.fields())

    def _make_room(self) -> bool:
        """Forget expired tasks, then the oldest finished ones while full; False when all are working."""
        now = time.time()
        for task_id in [i for i, task in self.tasks.items() if task.expired(now)]:
            del self.tasks[task_id]
        finished = sorted((t for t in self.tasks.values() if t.status in TERMINAL), key=lambda t: t.created)
        while len(self.tasks) >= MAX_TASKS and finished:
            del self.tasks[finished.pop(0).task_id]
        return len(self.tasks) < MAX_TASKS

    def _task(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> TaskRecord:
        """The caller's own task; another tenant's is as unknown as one that never was."""
        task = self.tasks.get(task_id)
        if task is None or task.expired(time.time()) or not secrets.compare_digest(task.owner, owner_of(ctx)):
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Unknown task {task_id[:64]!r}: it ended over {TASK_TTL_MS // 60_000} minutes ago, was "
                "never started here, or belongs to another key. Call the tool again.",
            )
        return task

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> GetTaskResult:
        task = self._task(ctx, params.task_id)
        return GetTaskResult(**task.fields(), result=task.result, error=task.error)

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> EmptyResult:
        self._task(ctx, params.task_id)  # no task here ever asks for input: nothing to update
        return EmptyResult()

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> EmptyResult:
        task = self._task(ctx, params.task_id)
        if task.status not in TERMINAL:
            task.scope.cancel()
            task.set("cancelled", "cancelled by the client")
        return EmptyResult()
