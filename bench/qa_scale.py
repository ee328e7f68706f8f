"""QA at scale: ``session-mcp qa`` over 1,000 sessions at 50 ms upstream latency, twice.

The simulator (1,000 sessions, 50 ms added to every answer) is served over real HTTP on
127.0.0.1 from a thread of this process, so every request that reaches it is counted. Each QA
run is a child process (``session-mcp qa --limit 1000``) with its own peak RSS (``wait4``):

- first run: an empty session store, every transcript read from the API and checked;
- second run: the same store, only the sessions that may still change are read and checked again
  (the closed ones' findings are read back: same rules);
- a run over 100 sessions, for the memory to compare with (flat memory: about the same).

Then the checks' CPU alone, per generated 40-turn session (sentences of the demo's scripts in a
random order), and the fetching alone, in this process: 50 sessions read one call after another,
against the batch with a fixed 8 in flight and with the adaptive limiter. Bounded: a few minutes.
"""

from __future__ import annotations

import os
import random
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
from session_mcp.companion.models import SessionDetail
from session_mcp.qa.rules import RuleSet
from session_mcp.sessions.fetch import fetch_sessions
from session_mcp.sessions.pacing import AdaptiveLimiter
from session_mcp.simulator import Simulator
from session_mcp.simulator.data import SCRIPTS

SESSIONS = 1_000
LATENCY = 0.05
SEQUENTIAL = 50
TURNS = 40
CHECKED = 500  # generated sessions whose checks are timed
CHECKS_GOAL_MS = 1.5


@dataclass
class Run:
    name: str
    seconds: float
    list_requests: int
    detail_requests: int
    peak_rss_mb: float
    cpu_seconds: float
    summary: str


def qa_run(simulator: Simulator, base_url: str, name: str, store: Path, limit: int = SESSIONS) -> Run:
    """One ``session-mcp qa`` child process; its wall time, the requests it caused and its peak RSS."""
    out = store.parent / f"{name.split(maxsplit=1)[0]}.jsonl"
    command = [session_mcp_command(), "qa", "--limit", str(limit), "--format", "jsonl", "--out", str(out)]
    command += ["--store", str(store)]
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


def forty_turn_sessions(count: int) -> list[SessionDetail]:
    """Sessions of ``TURNS`` turns, each a sentence of the demo's scripts drawn at random, 3 s apart."""
    lines = sorted({text for scripts in SCRIPTS.values() for turns, _ in scripts for _, text in turns})
    rng = random.Random(7)
    start = ANCHOR - 86_400
    return [
        SessionDetail.model_validate(
            {
                "id": f"sess_gen_{n}",
                "status": "closed",
                "closeReason": "connection_closed",
                "createdAt": start - 1,
                "startedAt": start,
                "closedAt": start + 3 * TURNS + 10,
                "conversation": {
                    "items": [
                        {"role": ("agent", "user")[t % 2], "text": rng.choice(lines), "timestamp": start + 3 * t}
                        for t in range(TURNS)
                    ]
                },
            }
        )
        for n in range(count)
    ]


def checks_cpu_ms(sessions: list[SessionDetail]) -> float:
    """CPU milliseconds of the default checks per session, the best of three passes."""
    rules = RuleSet()
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for session in sessions:
            rules.review(session)
        best = min(best, (time.process_time() - started) / len(sessions))
    return best * 1000


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
        store = Path(scratch) / "store.sqlite3"
        runs = [
            qa_run(simulator, base_url, "first run (empty store)", store),
            qa_run(simulator, base_url, "second run (same store)", store),
            qa_run(simulator, base_url, "100 sessions (empty store), memory", Path(scratch) / "o.sqlite3", limit=100),
        ]
        store_files = sum(p.stat().st_size for p in Path(scratch).glob("store.sqlite3*"))
        timings = anyio.run(fetch_variants, base_url, ids)
    checks_ms = checks_cpu_ms(forty_turn_sessions(CHECKED))
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
    print(f"store after the first run: {store_files / 1024 / 1024:.1f} MB on disk")
    print(f"checks: {checks_ms:.2f} ms of CPU per generated {TURNS}-turn session (goal <= {CHECKS_GOAL_MS} ms)")
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
    met = runs[1].detail_requests == still_open and rss_growth < 1.5 and checks_ms <= CHECKS_GOAL_MS
    goal(
        f"the second run reads only the {still_open} sessions that may still change, memory stays flat "
        f"(1000 sessions < 1.5x the RSS of 100), and the checks take <= {CHECKS_GOAL_MS} ms per {TURNS}-turn session",
        met,
        runs[1].detail_requests,
    )


if __name__ == "__main__":
    main()
