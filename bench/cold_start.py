"""Cold start over stdio: process spawn to the first tools/list answer, session-mcp --demo vs hello-world.

Each run spawns the server, initializes, lists the tools, and closes; the time is taken from just
before the spawn to the tools/list answer. The two servers alternate, RUNS runs each. When the
goal is not met it also prints what bounds the start: the interpreter alone, the heaviest imports
(``python -X importtime``) and the construction of the demo Simulator. Bounded: 20 spawns, 120 s.
"""

from __future__ import annotations

import subprocess
import sys
import time

import anyio
from _common import goal, hello_params, median, print_table, session_mcp_params
from mcp import Client, StdioServerParameters

from session_mcp.simulator.data import DEFAULT_SESSION_COUNT

RUNS = 10
GOAL_RATIO = 1.2
DEADLINE_SECONDS = 120
IMPORT_RUNS = 3


async def first_tools_list(params: StdioServerParameters) -> tuple[float, int]:
    """Seconds from spawn to the tools/list answer, and the number of tools."""
    started = time.perf_counter()
    async with Client(params, cache=None) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - started
    return elapsed, len(tools.tools)


async def measure() -> dict[str, list[float]]:
    servers = {"session-mcp --demo": session_mcp_params(None, "--demo"), "hello-world": hello_params()}
    samples: dict[str, list[float]] = {name: [] for name in servers}
    with anyio.fail_after(DEADLINE_SECONDS):
        for _ in range(RUNS):
            for name, params in servers.items():
                elapsed, count = await first_tools_list(params)
                assert count > 0
                samples[name].append(elapsed)
    return samples


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, check=True)


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
        ("session_mcp.cli, session_mcp.server", "session-mcp (console script, then build_server)"),
        ("session_mcp.simulator", "--demo's Simulator alone, shared dependencies included"),
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
          f"{median(constructions) * 1000:.1f} ms (median of 5)")  # fmt: skip


def main() -> None:
    samples = anyio.run(measure)
    rows = [
        [name, len(values), f"{median(values) * 1000:.0f}", f"{min(values) * 1000:.0f}", f"{max(values) * 1000:.0f}"]
        for name, values in samples.items()
    ]
    print(f"spawn -> initialize -> first tools/list answer over stdio, {RUNS} runs each (alternating)")
    print_table(["server", "runs", "median ms", "min ms", "max ms"], rows)
    ratio = median(samples["session-mcp --demo"]) / median(samples["hello-world"])
    print(f"ratio session-mcp --demo / hello-world = {ratio:.2f}")
    if ratio > GOAL_RATIO:
        breakdown()
    goal(f"session-mcp --demo cold start <= {GOAL_RATIO:g}x hello-world", ratio <= GOAL_RATIO, ratio)


if __name__ == "__main__":
    main()
