"""QA at scale: ``session-mcp qa`` over 1,000 sessions at 50 ms upstream latency, twice.

The simulator (1,000 sessions, 50 ms added to every answer) is served over real HTTP on
127.0.0.1 from a thread of this process, so every request that reaches it is counted. Each QA
run is a child process (``session-mcp qa --limit 1000``) with its own peak RSS (``wait4``):

- first run: an empty disk cache, every transcript read from the API;
- second run: the same cache, only the sessions that may still change are read again;
- a run over 100 sessions, for the memory to compare with (flat memory: about the same).

Then the fetching alone, in this process: 50 sessions read one call after another, against the
batch with a fixed 8 in flight and with the adaptive limiter. Bounded: about a minute.
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
from _common import ANCHOR, API_KEY, api_env, goal, print_table, serve_simulator, session_mcp_command

from session_mcp.companion.cache import SessionCache
from session_mcp.companion.client import CompanionClient
from session_mcp.sessions.fetch import fetch_sessions
from session_mcp.sessions.pacing import AdaptiveLimiter
from session_mcp.simulator import Simulator

SESSIONS = 1_000
LATENCY = 0.05
SEQUENTIAL = 50


@dataclass
class Run:
    name: str
    seconds: float
    list_requests: int
    detail_requests: int
    peak_rss_mb: float
    cpu_seconds: float
    summary: str


def qa_run(simulator: Simulator, base_url: str, name: str, cache: Path, limit: int = SESSIONS) -> Run:
    """One ``session-mcp qa`` child process; its wall time, the requests it caused and its peak RSS."""
    out = cache.parent / f"{name.split(maxsplit=1)[0]}.jsonl"
    command = [session_mcp_command(), "qa", "--limit", str(limit), "--format", "jsonl", "--out", str(out)]
    command += ["--cache-dir", str(cache)]
    env = {**os.environ, **api_env(base_url)}
    before = len(simulator.requests)
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    summary = child.stderr.read().strip()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{name}: session-mcp qa exited {child.returncode}: {summary}")
    requests = list(simulator.requests)[before:]
    details = sum(1 for r in requests if r.raw_path.startswith("/public/sessions/"))
    cpu = usage.ru_utime + usage.ru_stime
    return Run(name, seconds, len(requests) - details, details, usage.ru_maxrss / 1024, cpu, summary)


async def fetch_variants(base_url: str, ids: list[str]) -> dict[str, tuple[float, int]]:
    """Seconds to read ``ids`` one call after another, and as batches; and the most in flight."""
    timings: dict[str, tuple[float, int]] = {}
    async with CompanionClient(API_KEY, base_url, cache=SessionCache(max_entries=0)) as client:
        await client.get_session(ids[0])  # the connection pool warmed up: not what is measured
        started = time.perf_counter()
        for session_id in ids:
            await client.get_session(session_id, use_cache=False)
        timings[f"{len(ids)} sequential calls"] = (time.perf_counter() - started, 1)
        started = time.perf_counter()
        await fetch_sessions(client, ids, concurrency=8, use_cache=False)
        timings["batch, fixed 8 in flight"] = (time.perf_counter() - started, 8)
        pacer = AdaptiveLimiter()
        started = time.perf_counter()
        await fetch_sessions(client, ids, concurrency=pacer.maximum, use_cache=False, pacer=pacer.slot)
        timings["batch, adaptive (2..32, starts at 4)"] = (time.perf_counter() - started, pacer.peak)
    return timings


def main() -> None:
    simulator = Simulator(api_keys={API_KEY: 7}, anchor=ANCHOR, latency=LATENCY, session_count=SESSIONS)
    ids = [s["id"] for s in simulator.sessions_of(API_KEY) if s.get("status") == "closed"][:SEQUENTIAL]
    with tempfile.TemporaryDirectory() as scratch, serve_simulator(simulator) as base_url:
        cache = Path(scratch) / "cache"
        runs = [
            qa_run(simulator, base_url, "first run (empty disk cache)", cache),
            qa_run(simulator, base_url, "second run (same cache)", cache),
            qa_run(simulator, base_url, "100 sessions (empty cache), for memory", Path(scratch) / "other", limit=100),
        ]
        cache_files = sum(p.stat().st_size for p in cache.glob("*"))
        timings = anyio.run(fetch_variants, base_url, ids)
    print(f"session-mcp qa over {SESSIONS} sessions, upstream latency {LATENCY * 1000:.0f} ms/request")
    print_table(
        ["run", "wall time", "CPU (qa)", "list requests", "transcript requests", "peak RSS"],
        [
            [
                r.name,
                f"{r.seconds:.2f} s",
                f"{r.cpu_seconds:.2f} s",
                r.list_requests,
                r.detail_requests,
                f"{r.peak_rss_mb:.0f} MB",
            ]
            for r in runs
        ],
    )
    for run in runs:
        print(f"  {run.name}: {run.summary.splitlines()[-1]}")
    print(f"disk cache after the first run: {cache_files / 1024 / 1024:.1f} MB on disk")
    sequential = next(iter(timings.values()))[0]
    print(f"\nreading {len(ids)} transcripts, {LATENCY * 1000:.0f} ms each")
    print_table(
        ["variant", "wall time", "speed-up", "most in flight"],
        [[name, f"{seconds:.3f} s", f"{sequential / seconds:.1f}x", peak] for name, (seconds, peak) in timings.items()],
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process, simulator included: peak RSS {own:.0f} MB)")
    still_open = sum(1 for s in simulator.sessions_of(API_KEY) if s.get("status") in ("pending", "started"))
    print(f"second run {runs[0].seconds / runs[1].seconds:.1f}x faster than the first")
    rss_growth = runs[0].peak_rss_mb / runs[2].peak_rss_mb
    print(f"memory: peak RSS over 1000 sessions is {rss_growth:.2f}x the peak over 100")
    met = runs[1].detail_requests == still_open and rss_growth < 1.5
    goal(
        f"the second run reads only the {still_open} sessions that may still change, and memory stays flat "
        "(1000 sessions < 1.5x the RSS of 100)",
        met,
        runs[1].detail_requests,
    )


if __name__ == "__main__":
    main()
