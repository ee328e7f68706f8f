"""Peak RSS of ``session-mcp sessions export`` for 250, 1000 and 2000 sessions: it should stay flat.

A ``session-mcp simulator --sessions 2000`` child serves the data on a loopback port. Each export
runs as its own child process into a fresh file: the console script's entry point
(``session_mcp.cli.main.main``) in a fresh interpreter, which writes its own peak RSS (VmHWM) at exit.
When GNU time is installed the same run goes through ``/usr/bin/time -v`` as a cross-check. Each
file's lines are checked: the count, valid JSON, unique ids. Bounded: 3 exports, 90 s each at most.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import api_env, goal, print_table, simulator_process, stop

COUNTS = (250, 1000, 2000)
SESSIONS = 2000
EXPORT_TIMEOUT = 90.0
GOAL_GROWTH = 0.15


# The child: what the console script runs (session_mcp.cli.main.main), plus a report of its own peak RSS
# at exit. VmHWM belongs to the process image made at exec, so it is the export's own peak; the
# rusage ru_maxrss a parent gets from wait4 is not: Linux carries the forking parent's peak into
# the child across fork and exec, and this bench process is itself ~60 MiB.
CHILD = """
import atexit, sys
from pathlib import Path

def report() -> None:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    Path(sys.argv[1]).write_text(line.split()[1])

atexit.register(report)
from session_mcp.cli.main import main
main(sys.argv[2:])
"""


def run_export(base_url: str, out: Path, limit: int, work: Path) -> tuple[int, int | None, float]:
    """(peak RSS KiB from the child's VmHWM, peak RSS KiB from /usr/bin/time -v or None, seconds)."""
    report, timed = work / f"vmhwm-{limit}.txt", work / f"time-{limit}.txt"
    command = [sys.executable, "-c", CHILD, str(report), "sessions", "export", "--out", str(out), "--limit", str(limit)]
    gnu_time = Path("/usr/bin/time")
    if gnu_time.exists():
        command = [str(gnu_time), "-v", "-o", str(timed), *command]
    errors = work / f"export-{limit}.err"
    env = {**os.environ, **api_env(base_url)}
    with errors.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            code = process.wait(timeout=EXPORT_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop(process)
            raise SystemExit(f"export of {limit} sessions took over {EXPORT_TIMEOUT:g} s: killed") from None
        elapsed = time.perf_counter() - started
    if code != 0:
        sys.stderr.write(errors.read_text())
        raise SystemExit(f"export of {limit} sessions exited with {code}")
    by_time = None
    if timed.exists():
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timed.read_text())
        by_time = int(match.group(1)) if match else None
    return int(report.read_text()), by_time, elapsed


def check_file(path: Path, expected: int) -> tuple[int, int, int]:
    """(lines, unique ids, turns) of an export file; every line must be a JSON session."""
    ids = set()
    lines = turns = 0
    with path.open(encoding="utf-8") as file:
        for line in file:
            session = json.loads(line)
            ids.add(session["id"])
            turns += len((session.get("conversation") or {}).get("items") or [])
            lines += 1
    assert lines == expected == len(ids), f"{path.name}: {lines} lines, {len(ids)} ids, expected {expected}"
    return lines, len(ids), turns


def main() -> None:
    rows = []
    peaks: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="export-bench-") as folder, simulator_process(sessions=SESSIONS) as url:
        work = Path(folder)
        for count in COUNTS:
            out = work / f"export-{count}.jsonl"
            peak_kib, by_time, seconds = run_export(url, out, count, work)
            lines, unique, turns = check_file(out, count)
            peaks[count] = peak_kib
            size_mb = out.stat().st_size / 1e6
            rows.append(
                [
                    count,
                    f"{peak_kib / 1024:.1f}",
                    "n/a" if by_time is None else f"{by_time / 1024:.1f}",
                    f"{seconds:.2f}",
                    lines,
                    unique,
                    f"{turns:,}",
                    f"{size_mb:.1f}",
                    f"{count / seconds:.0f}",
                ]
            )
    print(f"session-mcp sessions export against a {SESSIONS}-session simulator on 127.0.0.1, one child per export")
    print_table(
        ["sessions", "peak RSS MiB", "time -v MiB", "seconds", "lines", "unique ids", "turns", "file MB", "sessions/s"],
        rows,
    )
    growth = peaks[COUNTS[-1]] / peaks[COUNTS[0]] - 1
    added = (peaks[COUNTS[-1]] - peaks[COUNTS[0]]) / 1024
    print(f"peak RSS growth {COUNTS[0]} -> {COUNTS[-1]}: {growth:+.1%} ({added:+.1f} MiB)")
    goal(f"flat memory: peak RSS growth {COUNTS[0]} -> {COUNTS[-1]} < {GOAL_GROWTH:.0%}", growth < GOAL_GROWTH, growth)


if __name__ == "__main__":
    main()
