"""What the tool list costs a model: the UTF-8 bytes of each tool's description and input schema.

Every host sends the tools' names, descriptions and input schemas to the model in every
conversation (output schemas stay with the host), so these bytes are paid before the first
question. Measured as ``tools/list`` sends them (compact JSON), over the in-memory server.
Bounded: one ``tools/list`` call.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import anyio
from _common import goal, print_table
from mcp import Client

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.server import build_server

GOAL_BYTES = 20_000  # all tools (issue 19, item 6)


def compact(value: object) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


async def measure() -> list[tuple[str, int, int, int]]:
    """(tool, description bytes, input schema bytes, both) per tool, in tools/list order."""
    with tempfile.TemporaryDirectory() as folder:  # a store: search_transcripts is listed with one
        settings = Settings(demo=True, store=Path(folder) / "s.sqlite3")
        client = CompanionClient("demo", "http://127.0.0.1:9")  # tools/list sends no request
        async with client, Client(build_server(client, settings), cache=None) as mcp:
            tools = (await mcp.list_tools()).tools
    return [
        (tool.name, compact(tool.description or ""), compact(tool.input_schema), compact(tool.description or "")
         + compact(tool.input_schema))
        for tool in tools
    ]  # fmt: skip


def main() -> None:
    rows = anyio.run(measure)
    total = sum(row[3] for row in rows)
    print("tools/list: bytes each tool costs the model (compact JSON; output schemas not counted)")
    print_table(
        ["tool", "description", "input schema", "total"],
        [[name, f"{d:,}", f"{s:,}", f"{t:,}"] for name, d, s, t in rows]
        + [["all", f"{sum(r[1] for r in rows):,}", f"{sum(r[2] for r in rows):,}", f"{total:,}"]],
    )
    reading = sum(row[3] for row in rows if row[0] != "create_connection")
    print(f"reading tools (all but create_connection, as --read-only lists them): {reading:,} B")
    goal(f"all tools <= {GOAL_BYTES:,} B ({total:,} B)", total <= GOAL_BYTES, total / GOAL_BYTES)


if __name__ == "__main__":
    main()
