"""How much a digest line says as the batch grows: ``get_session_transcripts(detail='digest')``.

One digest line per session shares the answer's budget (``SESSION_MCP_MAX_CHARS``, 40,000): the
more sessions, the less of each quote fits. For 20, 100, 300 and 500 of the newest demo sessions
this prints the answer's characters, the mean characters per line, and how many lines still
quote at least 10 characters of the user's first request. The MCP server runs in memory against a
Simulator served over real HTTP on 127.0.0.1. Goal: at 500 sessions every session is in the
answer, within the budget, and at least 90% of the lines quote the first request.
"""

from __future__ import annotations

import re

import anyio
from _common import ANCHOR, API_KEY, goal, print_table, serve_simulator
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server import build_server
from session_mcp.simulator import Simulator

COUNTS = (20, 100, 300, 500)
NO_REQUEST = ("(no transcript)", "(the user never spoke)")  # lines with nothing to quote
CELLS = re.compile(r" ?\| ?")  # a line's cells: ' | ' apart, or '|' where the budget is tight
MEANINGFUL = 10  # characters of the first request that still say something
DEADLINE_SECONDS = 120


async def measure(base_url: str) -> list[tuple[int, int, int, int, int, int]]:
    """Per count: (count, digest lines, answer chars, chars per line, lines with a request, lines quoting it)."""
    rows = []
    settings = Settings(base_url=base_url)
    with anyio.fail_after(DEADLINE_SECONDS):
        async with (
            CompanionClient(API_KEY, base_url) as api,
            Client(build_server(api, settings), cache=None) as client,
        ):
            for count in COUNTS:
                result = await client.call_tool("get_session_transcripts", {"limit": count, "detail": "digest"})
                text = "".join(block.text for block in result.content if block.type == "text")
                lines = [line for line in text.splitlines() if line.startswith("sess_")]
                quotes = [CELLS.split(line, maxsplit=6)[-1] for line in lines]
                spoke = [q for q in quotes if not q.startswith(NO_REQUEST)]
                quoting = sum(1 for q in spoke if len(q.split(" ⟶ ")[0].strip(" …")) >= MEANINGFUL)
                per_line = round(sum(len(line) for line in lines) / len(lines)) if lines else 0
                rows.append((count, len(lines), len(text), per_line, len(spoke), quoting))
    return rows


def main() -> None:
    simulator = Simulator(api_keys={API_KEY: 7}, anchor=ANCHOR)
    with serve_simulator(simulator) as base_url:
        rows = anyio.run(measure, base_url)
    budget = Settings().max_chars
    print(f"get_session_transcripts(limit=N, detail='digest') on the demo data, budget {budget:,} characters")
    print_table(
        ["sessions", "digest lines", "answer chars", "chars/line", "with a request", "quoting it"],
        [[f"{c}", f"{d}", f"{t:,}", f"{p}", f"{r}", f"{q} ({q / r:.0%})"] for c, d, t, p, r, q in rows],
    )
    count, lines, chars, _, with_request, quoting = rows[-1]
    share = quoting / with_request if with_request else 0.0
    met = lines == count and chars <= budget and share >= 0.9
    goal(f"{count} digest lines in one answer within {budget:,} chars, >= 90% quoting the request", met, share)


if __name__ == "__main__":
    main()
