"""Cold start over stdio: process spawn to the first tools/list answer, session-mcp --demo vs hello-world.

Each run spawns the server, initializes, lists the tools, and closes; the time is taken from just
before the spawn to the tools/list answer. One start of each server first is not counted (it may
compile bytecode, which an installed copy has and every later start reuses). Then the two
servers alternate, RUNS runs each, and the claim is the median of the paired ratios (each
session-mcp start over the hello-world start beside it): load on the machine slows both of a pair
alike, so the ratio holds where the milliseconds do not. The CPU time of each child (user + sys,
start to exit) is shown beside the wall time. When the goal is not met it also prints what bounds
the start: the interpreter alone, the heaviest imports (``python -X importtime``) and the
construction of the demo Simulator. Bounded: 2 x (RUNS + 1) spawns, 240 s.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

import anyio
from _common import checkout_env, goal, hello_params, median, percentile, print_table, session_mcp_params
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment

from session_mcp.simulator.data import DEFAULT_SESSION_COUNT

RUNS = 12
GOAL_RATIO = 1.2
DEADLINE_SECONDS = 240
IMPORT_RUNS = 3
SERVERS = ("session-mcp --demo", "hello-world")


def server_env() -> dict[str, str]:
    """What the SDK's stdio client gives a server child (no PYTHONDONTWRITEBYTECODE), plus this checkout."""
    return get_default_environment() | checkout_env()


def children_cpu() -> float:
    """User + system seconds of every child process reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def first_tools_list(params: StdioServerParameters) -> tuple[float, float]:
    """Seconds from spawn to the tools/list answer, and the child's CPU seconds (start to exit)."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    async with Client(params, cache=None) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
    assert tools.tools
    return elapsed, children_cpu() - cpu_before  # the client's exit waited for the child


async def measure() -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, float]]:
    """Wall and CPU seconds per server over RUNS alternating runs, and the uncounted first start of each."""
    params = dict(zip(SERVERS, (session_mcp_params(None, "--demo"), hello_params()), strict=True))
    wall: dict[str, list[float]] = {name: [] for name in SERVERS}
    cpu: dict[str, list[float]] = {name: [] for name in SERVERS}
    with anyio.fail_after(DEADLINE_SECONDS):
        first = {name: (await first_tools_list(params[name]))[0] for name in SERVERS}
        for _ in range(RUNS):
            for name in SERVERS:
                elapsed, used = await first_tools_list(params[name])
                wall[name].append(elapsed)
                cpu[name].append(used)
    return wall, cpu, first


def spread(values: list[float], scale: float = 1000) -> str:
    """``p25-p75 (min-max)`` of ``values`` times ``scale``."""
    quartiles = f"{percentile(values, 0.25) * scale:.0f}-{percentile(values, 0.75) * scale:.0f}"
    return f"{quartiles} ({min(values) * scale:.0f}-{max(values) * scale:.0f})"


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    """``python *args`` in the environment the servers get: the SDK's default one, this checkout on the path."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=True, env=server_env()
    )


def import_times(modules: str) -> dict[str, tuple[float, float, int]]:
    """module -> (self ms, cumulative ms, depth) for ``import {modules}``, medians over IMPORT_RUNS interpreters."""
    runs: dict[str, list[tuple[float, float, int]]] = {}
    for _ in range(IMPORT_RUNS):
        stderr = run_python("-X", "importtime", "-c", f"import {modules}").stderr
        seen: dict[str, tuple[float, float, int]] = {}
        for line in stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
                continue
            own, cumulative, name = line.removeprefix("import time:").split("|", 2)
            depth = (len(name) - len(name.lstrip()) - 1) // 2  # one space, then two per level
            entry = (int(own) / 1000, int(cumulative) / 1000, depth)
            if entry[1] >= seen.get(name.strip(), (0.0, -1.0, 0))[1]:  # a name listed twice: keep the larger
                seen[name.strip()] = entry
        for name, entry in seen.items():
            runs.setdefault(name, []).append(entry)
    return {
        name: (median([v[0] for v in values]), median([v[1] for v in values]), values[0][2])
        for name, values in runs.items()
    }


def breakdown() -> None:
    bare = []
    for _ in range(5):
        started = time.perf_counter()
        run_python("-c", "pass")
        bare.append(time.perf_counter() - started)
    print()
    print(f"breakdown: a bare interpreter ({sys.executable} -c pass) takes {median(bare) * 1000:.0f} ms (median of 5)")

    server_imports = import_times("session_mcp.server")
    top = sorted(server_imports.items(), key=lambda item: -item[1][1])[:10]
    print(f'python -X importtime -c "import session_mcp.server": top 10 cumulative (median of {IMPORT_RUNS})')
    print_table(
        ["module", "cumulative ms", "self ms"],
        [["  " * depth + name, f"{cumulative:.1f}", f"{own:.1f}"] for name, (own, cumulative, depth) in top],
    )
    print("import totals (sum of the top-level cumulative times; what each process imports before it can answer):")
    rows = []
    for modules, who in (
        ("session_mcp.cli.main, session_mcp.server", "session-mcp (console script, then build_server)"),
        ("session_mcp.simulator", "--demo's Simulator alone (imported at the first request, not at start)"),
        ("mcp.server", "hello_server.py"),
    ):
        times = import_times(modules)
        total = sum(cumulative for _, cumulative, depth in times.values() if depth == 0)
        rows.append([modules, f"{total:.0f}", who])
    print_table(["import", "ms", "who"], rows, (0, 2))

    code = (
        "import time; from session_mcp.simulator import Simulator; t = time.perf_counter(); "
        "Simulator(api_keys={'demo': 7}); print(time.perf_counter() - t)"
    )
    constructions = [float(run_python("-c", code).stdout) for _ in range(5)]
    print(f"constructing the demo Simulator ({DEFAULT_SESSION_COUNT} sessions), in a fresh process: "
          f"{median(constructions) * 1000:.1f} ms (median of 5), paid by --demo's first request")  # fmt: skip


def main() -> None:
    wall, cpu, first = anyio.run(measure)
    ours, floor = SERVERS
    print(f"spawn -> initialize -> first tools/list answer over stdio, {RUNS} runs each (alternating)")
    rows = [
        [name, f"{median(wall[name]) * 1000:.0f}", spread(wall[name]), f"{median(cpu[name]) * 1000:.0f}"]
        for name in SERVERS
    ]
    print_table(["server", "median ms", "p25-p75 (min-max) ms", "CPU median ms"], rows)
    pairs = [mine / theirs for mine, theirs in zip(wall[ours], wall[floor], strict=True)]
    ratio = median(pairs)
    print(f"first start of each (not counted: compiles bytecode): {ours} {first[ours] * 1000:.0f} ms, "
          f"{floor} {first[floor] * 1000:.0f} ms")  # fmt: skip
    print(f"ratio {ours} / {floor}: paired median {ratio:.2f} (p25-p75 {percentile(pairs, 0.25):.2f}-"
          f"{percentile(pairs, 0.75):.2f}, min-max {min(pairs):.2f}-{max(pairs):.2f}); "
          f"of the medians {median(wall[ours]) / median(wall[floor]):.2f}; "
          f"CPU {median(cpu[ours]) / median(cpu[floor]):.2f}; target <= {GOAL_RATIO:g}")  # fmt: skip
    if ratio > GOAL_RATIO:
        breakdown()
    goal(f"session-mcp --demo cold start <= {GOAL_RATIO:g}x hello-world (paired median)", ratio <= GOAL_RATIO, ratio)


if __name__ == "__main__":
    main()
