"""What the suites share beyond fixtures: paths, constants, the demo data, an MCP client of the
server over any transport, and the checks every answer must pass."""

from __future__ import annotations

import dataclasses
import functools
import gc
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from unittest import mock

import anyio
import jsonschema
import uvicorn
from hypothesis import HealthCheck, settings
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult
from pydantic import SecretStr

from session_mcp.cli.main import main
from session_mcp.companion.client import CompanionClient
from session_mcp.companion.http import RetryPolicy
from session_mcp.companion.models import SessionDetail
from session_mcp.config import Settings
from session_mcp.server import build_server
from session_mcp.server.transport import http_server
from session_mcp.simulator import Simulator, bind_loopback
from session_mcp.simulator.data import DEFAULT_SESSION_COUNT

ROOT = Path(__file__).resolve().parent.parent  # the repository: README.md, manifest.json, bench/
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
KEY = "sk-live-HOSTILE-KEY-0001"  # the key of every client of the hostile upstream: never in an answer
ERROR_BOUND = 1_000  # characters of any error message: one line of at most 1,000 (the README's promise)
SCRIPT = shutil.which("session-mcp", path=str(Path(sys.executable).parent)) or shutil.which("session-mcp")

# -- the demo data ---------------------------------------------------------------------------------


@functools.cache
def _generated(api_keys: tuple[tuple[str, int], ...], session_count: int, anchor: int) -> bytes:
    made = Simulator(api_keys=dict(api_keys), session_count=session_count, anchor=anchor)
    return pickle.dumps((made.projects, made.expected_findings))


def simulator_of(
    api_keys: Mapping[str, int] | None = None,
    *,
    session_count: int = DEFAULT_SESSION_COUNT,
    anchor: int = ANCHOR,
    **quirks: Any,
) -> Simulator:
    """``Simulator(api_keys, ...)`` with its own copy of the data, generated once per process.

    Generating the demo data costs 80 ms of CPU, copying it 5: most tests start from a fresh one.
    """
    keys = dict(api_keys if api_keys is not None else {"demo": 7})
    simulator = Simulator(api_keys={}, session_count=session_count, anchor=anchor, **quirks)
    simulator.api_keys = keys
    with gc_paused():  # a tree of 100,000 fresh containers, no cycle: collecting while it grows is waste
        simulator.projects, simulator.expected_findings = pickle.loads(
            _generated(tuple(keys.items()), session_count, anchor)
        )
    return simulator


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block (reference counting still frees what it drops)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# An external client id that the demo data has, for filter tests (the data is fixed by its seed).
DEMO_CLIENT_ID: str = next(
    s["externalClientId"] for s in simulator_of().sessions_of("demo") if s.get("externalClientId")
)


class SwitchableApp:
    """An ASGI app that forwards to whichever simulator the current test installed."""

    def __init__(self) -> None:
        self.simulator: Simulator | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.simulator is not None, "no simulator installed for this test"
        await self.simulator.app(scope, receive, send)


# -- an MCP client of the server: in memory, over stdio, over Streamable HTTP ----------------------

Transport = Literal["memory", "stdio", "http"]


def script() -> str:
    assert SCRIPT is not None, "the session-mcp console script is not installed in this environment"
    return SCRIPT


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any of the server's settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAPSTER_", "SESSION_MCP_"))}
    return env | extra


@asynccontextmanager
async def connect(
    upstream: CompanionClient | str | None,
    settings: Settings | None = None,
    *,
    transport: Transport = "memory",
    mode: str = "auto",
    key: str = "demo",
    timeout: float = 5,
    clock: Callable[[], datetime] | None = None,
    **options: Any,
) -> AsyncIterator[Client]:
    """The SDK's ``Client`` connected to the server in protocol era ``mode``.

    ``upstream`` is the Companion client the server reads with (in memory only) or the base URL of
    the API, read with ``key``; ``None`` with ``Settings(demo=True)``. ``memory`` builds the server in
    this process, ``stdio`` starts the console script, ``http`` serves it as ``--transport http`` does.
    ``options`` go to the ``Client`` (``extensions=[...]``: a host that advertises MCP Apps).
    """
    settings = settings or Settings()
    assert clock is None or transport == "memory", "another process keeps its own clock"
    async with AsyncExitStack() as stack:
        if settings.store is None and not settings.no_store and not settings.demo:
            # The session store of a test lives in a temporary folder, never in the user's data folder.
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            settings = dataclasses.replace(settings, store=folder / "store" / "s.sqlite3")
        if transport == "stdio":
            flags = [flag for flag, on in (("--demo", settings.demo), ("--read-only", settings.read_only)) if on]
            env = {} if upstream is None else {"NAPSTER_API_KEY": key, "NAPSTER_API_BASE_URL": str(upstream)}
            if settings.store is not None:  # the temporary store above, not the user's data folder
                env["SESSION_MCP_STORE"] = str(settings.store)
            flags += ["--no-store"] if settings.no_store else []
            target: Any = StdioServerParameters(command=script(), args=flags, env=clean_environment(**env))
        elif transport == "http":
            assert isinstance(upstream, str), "the HTTP server opens its own client of the API"
            target = stack.enter_context(serve_mcp(upstream, settings, api_key=SecretStr(key)))
        elif isinstance(upstream, CompanionClient):
            target = build_server(upstream, settings, clock=clock)
        else:
            assert upstream is not None, "in memory, the server needs an API to read"
            companion = CompanionClient(key, upstream, retry=FAST_RETRY, timeout=timeout)
            target = build_server(await stack.enter_async_context(companion), settings, clock=clock)
        yield await stack.enter_async_context(Client(target, mode=mode, cache=None, **options))


@contextmanager
def serve_mcp(base_url: str, settings: Settings | None = None, **overrides: Any) -> Iterator[str]:
    """The server over Streamable HTTP as ``--transport http`` runs it, on a free loopback port: its /mcp URL.

    It runs under uvicorn in a thread with its own event loop and its own ``CompanionClient``.
    """
    settings = dataclasses.replace(settings or Settings(), base_url=base_url, transport="http", **overrides)
    made: Path | None = None  # the session store in a temporary folder, as ``connect`` does: never the user's
    if settings.store is None and not settings.no_store and not settings.demo:
        made = Path(tempfile.mkdtemp())
        settings = dataclasses.replace(settings, store=made / "store" / "s.sqlite3")
    sock = bind_loopback()
    port = sock.getsockname()[1]
    holder: dict[str, uvicorn.Server] = {}
    ready = threading.Event()

    async def run() -> None:
        async with CompanionClient(settings.api_key, settings.base_url, retry=FAST_RETRY, timeout=10) as client:
            server = http_server(build_server(client, settings), settings)
            holder["server"] = server
            ready.set()
            await server.serve(sockets=[sock])

    thread = threading.Thread(target=anyio.run, args=(run,), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        holder["server"].should_exit = True
        thread.join(timeout=10)
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


# -- what every answer must be ---------------------------------------------------------------------


def text_of(result: CallToolResult) -> str:
    """The one text block of a tool result: first, followed by nothing but links to resources."""
    block, *links = result.content
    assert block.type == "text"
    assert all(link.type == "resource_link" for link in links), links
    return block.text


def ok(result: CallToolResult) -> tuple[str, dict[str, Any]]:
    """The text and structured content of a successful tool result."""
    text = text_of(result)
    assert not result.is_error, text
    assert result.structured_content is not None
    return text, result.structured_content


def strict_json(text: str) -> Any:
    """``JSON.parse`` semantics: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def assert_clean(text: str) -> str:
    """Encodable as UTF-8 (a lone surrogate raises), no key, no traceback."""
    text.encode("utf-8")
    assert KEY not in text, text[:300]
    assert "Traceback" not in text, text[:300]
    return text


def assert_clear_message(message: str, *needles: str) -> str:
    """An error message: clean, bounded, more than the SDK's generic one, holding ``needles``."""
    assert_clean(message)
    assert message != "Internal server error"
    assert len(message) <= ERROR_BOUND, len(message)
    assert "\n" not in message, message[:300]
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def assert_clear_tool_error(result: CallToolResult, tool: str, *needles: str) -> str:
    assert result.is_error, text_of(result)[:300]
    text = assert_clear_message(text_of(result), *needles)
    assert text.strip() != f"Error executing tool {tool}", "a crash, not a handled error"
    return text


def assert_valid_structured(result: CallToolResult, schema: dict[str, Any] | None) -> dict[str, Any]:
    """A result whose text is clean and whose ``structuredContent`` is strict JSON fitting ``schema``."""
    assert not result.is_error, text_of(result)[:500]
    assert_clean(text_of(result))
    assert result.structured_content is not None and schema is not None
    strict_json(json.dumps(result.structured_content, ensure_ascii=False))
    jsonschema.validate(result.structured_content, schema)
    return result.structured_content


# -- the command line ------------------------------------------------------------------------------


@dataclass
class CliRun:
    """What one in-process ``session-mcp`` run left: its exit status and its output, decoded."""

    status: int | str | None  # SystemExit's code; None when main returned
    stdout: str
    stderr: str  # with the message of ``sys.exit("...")``, as the interpreter would print it

    @property
    def returncode(self) -> int:
        """The exit status a process would have had: what ``sys.exit`` makes of the code."""
        return 0 if self.status is None else self.status if isinstance(self.status, int) else 1


def run_main(*argv: str, env: Mapping[str, str], only: bool = True) -> CliRun:
    """``session-mcp ARGV`` in this process, as ``run_process`` runs it in another, for a fraction of
    the CPU (no interpreter to start, nothing to import).

    The environment is ``env`` (with ``only`` false: added to this process's), stdin is empty and
    stdout and stderr are strict UTF-8 streams, not a terminal: they raise on a lone surrogate as a
    real pipe would. Anything but ``SystemExit`` escaping ``main`` (a traceback) reaches the test.
    """
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", errors="strict", write_through=True)
    status: int | str | None = None
    with (
        mock.patch.dict(os.environ, env, clear=only),
        mock.patch("sys.stdin", io.StringIO()),
        redirect_stdout(stdout),
        redirect_stderr(stderr),
    ):
        try:
            main(list(argv))
        except SystemExit as exc:
            status = exc.code
    message = f"{status}\n" if isinstance(status, str) else ""
    return CliRun(status, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8") + message)


def run_cli(*argv: str, base_url: str, key: str) -> CliRun:
    """``session-mcp ARGV`` in process against ``base_url``, with this process's environment besides."""
    environment = {"NAPSTER_API_KEY": key, "NAPSTER_API_BASE_URL": base_url, "SESSION_MCP_TIMEOUT": "5"}
    return run_main(*argv, env=environment, only=False)


def run_process(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m session_mcp ARGS``: stdin closed, output captured (so stderr is not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "session_mcp", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
        check=False,
    )


def assert_one_clear_error(done: subprocess.CompletedProcess[str] | CliRun, *needles: str) -> str:
    """A failed run: exit status 2 (fatal), nothing on stdout, one ``session-mcp:`` line on stderr."""
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("session-mcp: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def listed_ids(table: str) -> list[str]:
    """The session ids of a ``sessions list`` table, in order."""
    return [line.split(" | ")[0] for line in table.splitlines() if line.startswith("sess_")]


def started_in(session: dict[str, Any], since: datetime, until: datetime) -> bool:
    moment = datetime.fromtimestamp(session.get("startedAt") or session["createdAt"], UTC)
    return since <= moment < until


# -- sessions for the QA checks, screenshots for the browser suites --------------------------------

START = 1_790_000_000


def make_session(*turns: tuple[str, str, float], **fields: Any) -> SessionDetail:
    """A closed session whose turns are (role, text, seconds after the start)."""
    wire: dict[str, Any] = {
        "id": "sess_test",
        "companionId": "comp_support",
        "createdAt": START - 2,
        "startedAt": START,
        "closedAt": START + (max((t[2] for t in turns), default=0) + 5),
        "status": "closed",
        "closeReason": "connection_closed",
        "conversation": {"items": [{"role": r, "text": x, "timestamp": START + at} for r, x, at in turns]},
    }
    wire.update(fields)
    return SessionDetail.model_validate({k: v for k, v in wire.items() if v is not None})


def screenshots(tmp_path: Path) -> Path:
    """Where a browser test leaves its screenshots: ``SESSION_MCP_SCREENSHOTS``, else the test's folder."""
    folder = Path(os.environ.get("SESSION_MCP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
