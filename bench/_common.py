"""Shared helpers of the benchmarks: simulators on loopback ports, stdio server parameters, figures.

Everything here talks to 127.0.0.1 only. A simulator runs either in a thread of the bench process
(``serve_simulator``) or as a ``session-mcp simulator`` child process (``simulator_process``); both
stop when their ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from mcp import StdioServerParameters

from session_mcp.simulator import Simulator, serve_in_thread
from session_mcp.simulator.data import DEFAULT_SESSION_COUNT

BENCH_DIR = Path(__file__).resolve().parent
HELLO_SERVER = BENCH_DIR / "hello_server.py"
API_KEY = "demo"
ANCHOR = 1_790_000_000  # a fixed "now" for the demo data, as in the tests: same sessions every run
STARTUP_TIMEOUT = 30.0


def venv_bin(name: str) -> str:
    """A console script next to this interpreter (the venv's), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def session_mcp_command() -> str:
    return venv_bin("session-mcp")


def api_env(base_url: str) -> dict[str, str]:
    """What a ``session-mcp`` process needs to reach the simulator at ``base_url``."""
    return {"NAPSTER_API_KEY": API_KEY, "NAPSTER_API_BASE_URL": base_url}


def checkout_env() -> dict[str, str]:
    """``PYTHONPATH`` when it is set, for a stdio server child.

    The SDK's stdio client passes a child only a short list of variables (PATH, HOME, ...): without
    this, a bench run with a checkout on ``PYTHONPATH`` would measure the installed copy instead.
    """
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": path} if path else {}


def session_mcp_params(base_url: str | None = None, *args: str) -> StdioServerParameters:
    """``session-mcp`` over stdio, against ``base_url`` (or with ``--demo`` among ``args``)."""
    env = checkout_env() | (api_env(base_url) if base_url else {})
    return StdioServerParameters(command=session_mcp_command(), args=list(args), env=env)


def hello_params() -> StdioServerParameters:
    """The minimal hello-world MCP server of ``hello_server.py`` over stdio."""
    return StdioServerParameters(command=sys.executable, args=[str(HELLO_SERVER)], env=checkout_env())


@contextlib.contextmanager
def serve_simulator(simulator: Simulator) -> Iterator[str]:
    """Serve ``simulator`` over real HTTP on a free 127.0.0.1 port from a thread; yields the base URL.

    The socket is bound and listening before the thread starts, so requests simply queue until
    uvicorn accepts them (no readiness polling).
    """
    with serve_in_thread(simulator.app) as url:
        yield url


@contextlib.contextmanager
def simulator_process(*, sessions: int = DEFAULT_SESSION_COUNT, latency_ms: float = 0) -> Iterator[str]:
    """``session-mcp simulator`` as a child process on a free loopback port; yields the base URL."""
    command = [session_mcp_command(), "simulator", "--port", "0", "--sessions", str(sessions)]
    command += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:  # keep reading, so the pipe never fills and blocks the child
        assert process.stderr is not None
        for raw in process.stderr:
            lines.put(raw.decode(errors="replace"))

    threading.Thread(target=drain, daemon=True).start()
    try:
        base_url = None
        while base_url is None:
            try:
                line = lines.get(timeout=STARTUP_TIMEOUT)
            except queue.Empty:
                raise SystemExit("the simulator did not start in time") from None
            match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if match:
                base_url = f"http://127.0.0.1:{match.group(1)}"
        yield base_url
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate one child process we started, and reap it (kill if it does not stop)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile, ``fraction`` in [0, 1]."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 0.5)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: Sequence[int] = (0,)) -> None:
    """A plain text table: the ``left`` columns left-aligned, the others right-aligned."""
    cells = [[str(c) for c in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = (c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        return "  ".join(padded).rstrip()

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def goal(description: str, met: bool, value: float) -> None:
    """The closing lines every benchmark prints: the machine's load (timings are sensitive to it), the goal."""
    one, five, _ = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {one:.2f} (1 min), {five:.2f} (5 min)")
    print(f"goal: {description} -> {'MET' if met else f'NOT MET ({value:.2f})'}")
