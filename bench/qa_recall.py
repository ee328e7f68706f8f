"""Recall and precision of every QA check on the demo data, through the real command line.

The demo data carries deliberate faults, one set per check, plus near misses that must not be
flagged; the simulator knows which session should get which finding. This runs
``session-mcp qa --format jsonl --no-cache`` as a child process against a Simulator served over
real HTTP on 127.0.0.1, for the default 600 sessions and for 1,000, and compares its findings with
that list, check by check. Goal: recall and precision of 100% for every check at both sizes.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict

from _common import ANCHOR, API_KEY, api_env, goal, print_table, serve_simulator, session_mcp_command

from session_mcp.qa.checks import CHECK_IDS
from session_mcp.simulator import Simulator

SIZES = (600, 1000)
TIMEOUT_SECONDS = 120


def findings_of(base_url: str, count: int) -> dict[str, set[str]]:
    """Per check, the sessions ``session-mcp qa`` flagged among the newest ``count``."""
    command = [session_mcp_command(), "qa", "--format", "jsonl", "--no-cache", "--limit", str(count)]
    env = os.environ | api_env(base_url)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        raise SystemExit(f"session-mcp qa exited {done.returncode}: {done.stderr.strip()[-500:]}")
    flagged: dict[str, set[str]] = defaultdict(set)
    for line in done.stdout.splitlines():
        finding = json.loads(line)
        flagged[finding["check"]].add(finding["session_id"])
    return flagged


def main() -> None:
    worst = 1.0
    for count in SIZES:
        simulator = Simulator(api_keys={API_KEY: 7}, anchor=ANCHOR, session_count=count)
        with serve_simulator(simulator) as base_url:
            flagged = findings_of(base_url, count)
        expected = simulator.expected_findings[API_KEY]
        rows = []
        for check in CHECK_IDS:
            wanted = {session_id for session_id, checks in expected.items() if check in checks}
            found = flagged.get(check, set())
            both = len(wanted & found)
            recall = both / len(wanted) if wanted else 1.0
            precision = both / len(found) if found else 1.0
            worst = min(worst, recall, precision)
            rows.append([check, f"{len(wanted)}", f"{len(found)}", f"{recall:.0%}", f"{precision:.0%}"])
        print(f"\n`session-mcp qa` over {count} demo sessions, against the simulator's list of deliberate faults")
        print_table(["check", "expected", "flagged", "recall", "precision"], rows)
    goal("recall and precision 100% for every check", worst == 1.0, worst)


if __name__ == "__main__":
    main()
