"""Context cost: what the tool list costs every conversation, and the text the model reads vs the
raw API JSON of the same data, in UTF-8 bytes.

The tool list: every host sends each tool's input schema and description to the model in every
conversation; per tool, per toolset (``--tools``) and in all, against the 20 KB target. Output
schemas are shown apart and not counted (hosts do not send them to the model). ``--tools``
prints only this part.

Two answers of the MCP server (in memory, over a Simulator served on 127.0.0.1): a 20-session
list_sessions page, and a 40-turn transcript (the first 40 turns of the 2,200-turn demo session,
as no demo session has 40 turns or more). Raw: the page JSON the API sent for
GET /public/sessions?pageSize=20, and the session JSON the API sent with only those 40 items, in
the API's own encoding. Then every field of the raw JSON is looked for in the text, per record
(the session's row, the turn's line), so a reviewer can judge what the text leaves out.
Bounded: 4 tool calls and 2 HTTP requests.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from _common import ANCHOR, API_KEY, goal, print_table, serve_simulator
from mcp import Client

from session_mcp.cli.main import make_client
from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.render.common import format_duration, format_offset, format_time
from session_mcp.server import build_server
from session_mcp.server.toolsets import TOOLS_OF
from session_mcp.simulator import Simulator

TOOL_LIST_GOAL = 20 * 1024  # bytes of input schemas and descriptions, all tools together
PAGE_SIZE = 20
TURNS = 40
LIST_GOAL = 0.35
TRANSCRIPT_GOAL = 0.60
EPOCH_RANGE = (1_000_000_000, 4_000_000_000)
# How the text labels each time: the list row's start column, "(... created)" for a session that
# never started; the transcript header's "created ... · started ... · closed ...".
TIME_LABELS = {
    "createdAt": ("created {t}", "({t} created)"),
    "startedAt": ("started {t}", "| {t} |"),
    "closedAt": ("closed {t}",),
}


@dataclass
class Coverage:
    """How one field of the raw JSON shows in the text, over all records that have it."""

    with_value: int = 0
    shown: int = 0
    derived: int = 0
    empty: int = 0
    missing_examples: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.with_value - self.shown - self.derived


def api_json(value: Any) -> bytes:
    """JSON as the API (Starlette's JSONResponse) encodes it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, scalar) pairs; dict keys join with '.', list elements share 'name[]'. Empty containers yield []."""
    if isinstance(value, dict):
        if not value:
            yield path, []
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        if not value:
            yield path, []
        for item in value:
            yield from leaves(item, f"{path}[]")
    else:
        yield path, value


def verbatim_forms(path: str, value: Any) -> list[str]:
    """Ways the text may show ``value`` as it is (case-insensitive)."""
    name = path.rsplit(".", 1)[-1].rstrip("[]")
    forms = [str(value)]
    if isinstance(value, bool):
        forms = [str(value).lower()]
    elif isinstance(value, int | float) and EPOCH_RANGE[0] <= value <= EPOCH_RANGE[1]:
        times = [format_time(_moment(value)), format_time(_moment(value), seconds=True)]
        # A time counts only where the text says which time it is: creation and start are often
        # the same minute, so a bare match would credit one with the other.
        forms = [label.format(t=t) for label in TIME_LABELS.get(name, ("{t}",)) for t in times]
    elif isinstance(value, float):
        forms = [f"{value:g}"]
    if "." in path and path.split(".")[-2].endswith("tags"):
        forms = [f"{name}={value}"]  # tags show as key=value
    return forms


def _moment(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


def check(coverage: dict[str, Coverage], record: dict[str, Any], text: str, prefix: str, derive: Any) -> None:
    """Look for every leaf of ``record`` in ``text``; ``derive(path, value, record, text)`` -> bool."""
    folded = text.casefold()
    for path, value in leaves(record):
        full = f"{prefix}{path}"
        entry = coverage.setdefault(full, Coverage())
        if value is None or value == []:
            entry.empty += 1
            continue
        entry.with_value += 1
        if any(form.casefold() in folded for form in verbatim_forms(path, value)):
            entry.shown += 1
        elif derive(path, value, record, text):
            entry.derived += 1
        elif len(entry.missing_examples) < 2:
            entry.missing_examples.append(json.dumps(value, ensure_ascii=False)[:40])


def derive_session(path: str, value: Any, record: dict[str, Any], text: str) -> bool:
    """Fields a session's text shows in another form."""
    start = record.get("startedAt") or record.get("createdAt")
    if path == "closedAt" and start is not None:
        return format_duration(value - start) in text  # as the duration
    return False


def derive_turn(origin: float) -> Any:
    def derive(path: str, value: Any, record: dict[str, Any], text: str) -> bool:
        if path == "timestamp":
            return f"[{format_offset(max(0.0, value - origin))}]" in text  # as [mm:ss] from the start
        return False

    return derive


def print_coverage(title: str, coverage: dict[str, Coverage], notes: dict[str, str]) -> list[str]:
    print(title)
    rows = []
    for path, entry in coverage.items():
        note = notes.get(path, "")
        if entry.missing:
            note = (note + "; " if note else "") + "e.g. " + ", ".join(entry.missing_examples)
        rows.append([path, entry.with_value, entry.shown, entry.derived, entry.missing, entry.empty, note])
    print_table(["raw field", "with value", "verbatim", "derived", "NOT in text", "null/empty", "note"], rows, (0, 6))
    return [f"{path} ({entry.missing}/{entry.with_value})" for path, entry in coverage.items() if entry.missing]


def utf8(lines: list[str]) -> int:
    """Bytes of ``lines`` as they sit in the text, newline included."""
    return sum(len(line.encode()) + 1 for line in lines)


def print_breakdown(data: dict[str, Any], page: dict[str, Any], turns: list[dict[str, Any]], raw_size: int) -> None:
    """Where the bytes of each text go, against the raw JSON: what bounds the ratio."""
    page_size = len(data["page_body"])
    lines = data["list_text"].splitlines()
    rows = [line for line in lines if line.startswith("sess_")]
    other = [line for line in lines if not line.startswith("sess_")]
    raw_items = sum(len(api_json(item)) + 1 for item in page["items"])
    text_lines = data["transcript_text"].splitlines()
    turn_lines = [line for line in text_lines if line.startswith("[") and not line.startswith("[cut:")]
    prefixes = [line[: line.index(": ", line.index("] ")) + 2] for line in turn_lines]
    messages = [line[len(prefix) :] for line, prefix in zip(turn_lines, prefixes, strict=True)]
    assert messages == [turn["text"] for turn in turns], "turn lines do not carry the messages verbatim"
    raw_messages = sum(len(turn["text"].encode()) for turn in turns)
    cut = [line for line in text_lines if line.startswith("[cut:")]
    heading = [line for line in text_lines if line.startswith("Transcript ")]
    header = [line for line in text_lines if line not in turn_lines and line not in cut and line not in heading]
    print("where the text bytes go (% of the raw JSON of the same data)")
    parts = [
        ["list: 20 session rows", utf8(rows), f"{utf8(rows) / page_size:.1%}",
         f"raw items {raw_items} B; {utf8(rows) / len(rows):.0f} B per row vs {raw_items / len(rows):.0f} B raw"],
        ["list: title, column header, 'More:' line", utf8(other), f"{utf8(other) / page_size:.1%}", ""],
        ["transcript: message texts (verbatim)", raw_messages, f"{raw_messages / raw_size:.1%}",
         "the same bytes are in the raw JSON: the floor"],
        ["transcript: '[mm:ss] Role: ' + newline", utf8(prefixes), f"{utf8(prefixes) / raw_size:.1%}",
         f"{utf8(prefixes) / len(prefixes):.1f} B per turn"],
        ["transcript: session header lines", utf8(header), f"{utf8(header) / raw_size:.1%}",
         "configuration, timing, cost"],
        ["transcript: 'Transcript turns' + cut note", utf8(heading + cut), f"{utf8(heading + cut) / raw_size:.1%}",
         "the cut note says how to read on"],
    ]  # fmt: skip
    print_table(["part", "bytes", "% of raw", "note"], parts, (0, 3))
    columns = [cell.strip() for cell in lines[1].split("|")]
    cells = [row.split(" | ") for row in rows]
    by_column = [sum(len(c[i].encode()) + 3 for c in cells) for i in range(len(columns))]
    shares = ", ".join(f"{name} {size}" for name, size in zip(columns, by_column, strict=True))
    print(f"list row bytes by column (with ' | '): {shares}")
    room = TRANSCRIPT_GOAL * raw_size - raw_messages - utf8(prefixes)
    print(
        f"transcript bound: messages alone {raw_messages / raw_size:.1%} of raw, with the turn prefixes "
        f"{(raw_messages + utf8(prefixes)) / raw_size:.1%}; {TRANSCRIPT_GOAL:.0%} leaves {room:.0f} B for the header, "
        f"heading and cut note, which take {utf8(header + heading + cut)} B"
    )
    room = LIST_GOAL * page_size - utf8(rows)
    print(
        f"list bound: the rows alone are {utf8(rows) / page_size:.1%} of raw; {LIST_GOAL:.0%} leaves {room:.0f} B "
        f"for the title, column header and 'More:' line, which take {utf8(other)} B"
    )


def list_coverage(text: str, page: dict[str, Any]) -> list[str]:
    """Each list item against its own row, the page fields against the other lines; prints the table."""
    lines = text.splitlines()
    coverage: dict[str, Coverage] = {}
    for item in page["items"]:
        row = next((line for line in lines if line.startswith(f"{item['id']} |")), "")
        check(coverage, item, row, "items[].", derive_session)
    header = "\n".join(line for line in lines if not line.startswith("sess_"))
    first = page["pageIndex"] * page["pageSize"] + 1
    last = first + len(page["items"]) - 1
    shown = {
        "filteredCount": f"of {page['filteredCount']}" in header,
        "pageIndex": f"page {page['pageIndex']}" in header,
    }
    derived = {
        "pageSize": f"Sessions {first}-{last}" in header and "page_index=" in header,
        "totalCount": page["totalCount"] == page["filteredCount"] and f"of {page['filteredCount']}" in header,
    }
    for name, value in page.items():
        if name == "items":
            continue
        entry = coverage.setdefault(name, Coverage(with_value=1))
        if shown.get(name):
            entry.shown = 1
        elif derived.get(name):
            entry.derived = 1
        else:
            entry.missing_examples.append(str(value))
    notes = {
        "items[].createdAt": "the row shows the start time; creation only when never started",
        "items[].closedAt": "as the duration",
        "pageSize": "as the row range 'Sessions 1-20' + next page_index",
        "totalCount": "equal to filteredCount here, shown as 'of N'",
    }
    title = f"list_sessions: {len(page['items'])} items, each looked for in its own row"
    return print_coverage(title, coverage, notes)


def transcript_coverage(text: str, session: dict[str, Any]) -> list[str]:
    """Session fields against the header lines, each item against its own turn line; prints the table."""
    lines = text.splitlines()
    turn_lines = [line for line in lines if line.startswith("[") and "] " in line and not line.startswith("[cut:")]
    items = session["conversation"]["items"]
    assert len(turn_lines) == len(items), (len(turn_lines), len(items))
    head = {k: v for k, v in session.items() if k not in ("conversation", "functionStates")}
    coverage: dict[str, Coverage] = {}
    check(coverage, head, "\n".join(line for line in lines if line not in turn_lines), "", derive_session)
    origin = session.get("startedAt") or session.get("createdAt") or items[0]["timestamp"]
    for item, line in zip(items, turn_lines, strict=True):
        check(coverage, item, line, "conversation.items[].", derive_turn(origin))
    for name in sorted(set(session) - set(head) - {"conversation"}):
        print(f"(transcript: raw field {name!r} not checked)")
    notes = {"closedAt": "also as the duration", "conversation.items[].timestamp": "as [mm:ss] from the start"}
    title = f"transcript: session fields against the header, each of the {len(items)} items against its own line"
    return print_coverage(title, coverage, notes)


async def collect(simulator: Simulator, base_url: str) -> dict[str, Any]:
    marathon = max(simulator.sessions_of(API_KEY), key=lambda s: len((s.get("conversation") or {}).get("items", [])))
    async with (
        httpx2.AsyncClient(base_url=base_url, headers={"X-Api-Key": API_KEY}) as http,
        CompanionClient(API_KEY, base_url) as api,
        Client(build_server(api, Settings(base_url=base_url)), cache=None) as client,
    ):
        page_body = (await http.get("/public/sessions", params={"pageSize": PAGE_SIZE})).content
        session_body = (await http.get(f"/public/sessions/{marathon['id']}")).content
        listing = await client.call_tool("list_sessions", {"page_size": PAGE_SIZE})
        transcript = await client.call_tool("get_session_transcript", {"session_id": marathon["id"], "limit": TURNS})
    assert not listing.is_error and not transcript.is_error
    return {
        "page_body": page_body,
        "session_body": session_body,
        "list_text": listing.content[0].text,  # type: ignore[union-attr]
        "list_structured": api_json(listing.structured_content),
        "transcript_text": transcript.content[0].text,  # type: ignore[union-attr]
        "transcript_structured": api_json(transcript.structured_content),
    }


def wire(value: Any) -> int:
    """Bytes of ``value`` as compact JSON, as the SDK sends it."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


async def tool_list() -> list[Any]:
    """Every tool the server can serve (all toolsets, a store so search_transcripts is there)."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(demo=True, store=Path(folder) / "store.sqlite3")
        async with make_client(settings) as api, Client(build_server(api, settings), cache=None) as client:
            return list((await client.list_tools()).tools)


def print_tool_list_cost() -> tuple[int, bool]:
    """The tool list's bytes per tool and per toolset; (total, whether it meets the target)."""
    tools = anyio.run(tool_list)
    rows, sizes = [], {}
    for tool in tools:
        schema, description = wire(tool.input_schema), len((tool.description or "").encode())
        output = wire(tool.output_schema) if tool.output_schema else 0
        sizes[tool.name] = schema + description
        rows.append([tool.name, schema, description, schema + description, output])
    total = sum(sizes.values())
    rows.append(["all tools", sum(r[1] for r in rows), sum(r[2] for r in rows), total, sum(r[4] for r in rows)])
    print(f"the tool list: bytes every conversation carries ({len(tools)} tools; output schemas not counted)")
    print_table(["tool", "input schema", "description", "total", "output schema (apart)"], rows)
    per_set = [
        [name, ", ".join(t for t in names if t in sizes) or "(none here)", sum(sizes.get(t, 0) for t in names)]
        for name, names in TOOLS_OF.items()
    ]
    print_table(["toolset (--tools)", "its tools", "bytes"], per_set, (0, 1))
    met = total <= TOOL_LIST_GOAL
    print(f"tool list: {total:,} B of the {TOOL_LIST_GOAL:,} B target -> {'met' if met else 'NOT met'}")
    return total, met


def main() -> None:
    total, met = print_tool_list_cost()
    if "--tools" in sys.argv[1:]:
        goal(f"tool list <= {TOOL_LIST_GOAL:,} B ({total:,} B)", met, total / TOOL_LIST_GOAL)
        return
    print()
    simulator = Simulator(api_keys={API_KEY: 7}, anchor=ANCHOR)
    with serve_simulator(simulator) as base_url:
        data = anyio.run(collect, simulator, base_url)

    page = json.loads(data["page_body"])
    session = json.loads(data["session_body"])
    assert api_json(session) == data["session_body"], "re-encoding differs from the API's bytes"
    items = session["conversation"]["items"]
    assert len(items) >= TURNS, "the demo data has no session of 40 turns or more"
    session_40 = {**session, "conversation": {**session["conversation"], "items": items[:TURNS]}}
    raw_transcript = api_json(session_40)

    list_text = data["list_text"].encode()
    transcript_text = data["transcript_text"].encode()
    list_ratio = len(list_text) / len(data["page_body"])
    transcript_ratio = len(transcript_text) / len(raw_transcript)
    print(f"UTF-8 bytes: tool text content vs raw API JSON (the session has {len(items)} turns; first {TURNS} used)")
    print_table(
        ["data", "raw API JSON", "text content", "text/raw", "goal", "structuredContent (info)"],
        [
            [f"list_sessions, {PAGE_SIZE} sessions", len(data["page_body"]), len(list_text), f"{list_ratio:.1%}",
             f"<= {LIST_GOAL:.0%}", len(data["list_structured"])],
            [f"transcript, {TURNS} turns", len(raw_transcript), len(transcript_text), f"{transcript_ratio:.1%}",
             f"<= {TRANSCRIPT_GOAL:.0%}", len(data["transcript_structured"])],
        ],
    )  # fmt: skip
    print("(structuredContent is sent alongside the text; hosts that also give it to the model pay that too)")
    print()
    print_breakdown(data, page, items[:TURNS], len(raw_transcript))
    print()

    list_missing = list_coverage(data["list_text"], page)
    print()
    transcript_missing = transcript_coverage(data["transcript_text"], session_40)
    print()
    print("raw fields NOT in the list text:      " + (", ".join(list_missing) or "none"))
    print("raw fields NOT in the transcript text: " + (", ".join(transcript_missing) or "none"))
    met = list_ratio <= LIST_GOAL and transcript_ratio <= TRANSCRIPT_GOAL
    worst = max(list_ratio / LIST_GOAL, transcript_ratio / TRANSCRIPT_GOAL)
    goal(
        f"list <= {LIST_GOAL:.0%} ({list_ratio:.1%}) and transcript <= {TRANSCRIPT_GOAL:.0%} ({transcript_ratio:.1%});"
        " value = worst measured/goal",
        met,
        worst,
    )


if __name__ == "__main__":
    main()
