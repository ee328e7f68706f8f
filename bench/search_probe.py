"""Search on a store already synced: scale.py's store call against the same SQL run directly, per query.

``scale.py`` measures the search once, after a sync of its own (15 minutes at 50,000 sessions).
This reads an existing store (a copy: run it on no store a server is writing) with the tenant of
the key and upstream it was synced from, and runs ``scale.direct_search`` and ``scale.store_search``
in alternating short rounds, so both see the same load (on a shared machine it swings within seconds):
p50/p95 of each, their ratio, and the load average. ``--cpu`` times each search by the process's CPU
(``time.process_time``, the search thread's included) instead of the wall clock: what the store's own
work costs, steadier beside other loads than wall time, though blind to the waits of the thread hop.

Run: ``python bench/search_probe.py STORE --url URL [--rounds 20 --runs 6 --cpu]`` (``--key``: the API key).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import anyio
import scale
from _common import API_KEY, percentile

from session_mcp.companion.cache import key_fingerprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--url", required=True, help="the upstream the store was synced from (its tenant)")
    parser.add_argument("--key", default=API_KEY)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=6, help="searches of each query a round")
    parser.add_argument("--cpu", action="store_true", help="CPU time (process_time) instead of wall time")
    args = parser.parse_args()
    scale.SEARCH_RUNS = args.runs
    tenant = key_fingerprint(args.key, args.url)
    since = time.time() - 30 * 86_400
    clock = time.process_time if args.cpu else time.perf_counter
    raw: dict[str, list[float]] = {}
    own: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, runs in scale.direct_search(args.store, since, clock).items():
            raw.setdefault(name, []).extend(runs)
        for name, runs in anyio.run(scale.store_search, args.store, tenant, since, clock).items():
            own.setdefault(name, []).extend(runs)
    for name in raw:
        (r50, r95), (o50, o95) = ([percentile(t[name], p) * 1000 for p in (0.5, 0.95)] for t in (raw, own))
        print(
            f"{name:18s} store p50 {o50:6.2f} p95 {o95:6.2f} ms | raw p50 {r50:6.2f} p95 {r95:6.2f} ms | "
            f"p95 {o95 / r95:.2f}x, p50 {o50 / r50:.2f}x"
        )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.rounds} rounds of {scale.SEARCH_RUNS} runs each, {'CPU' if args.cpu else 'wall'} time; load {load}")


if __name__ == "__main__":
    main()
