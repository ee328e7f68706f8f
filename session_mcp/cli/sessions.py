"""``session-mcp sessions ...``: list, show and export sessions without an MCP host.

For QA pipelines: a table on the terminal, JSON with ``--json``, and an export to JSON Lines that
streams (memory stays flat whatever the count) and resumes where a previous run stopped. Exit
status: 0 done, 1 partial (an export left sessions out), 2 usage or fatal error (``cli.main``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from session_mcp.companion.client import CompanionClient, SessionFilters
from session_mcp.companion.models import MAX_PAGE_SIZE
from session_mcp.errors import InvalidInputError
from session_mcp.render.common import plural, show_times_in
from session_mcp.render.lines import ID_CHARS, one_line
from session_mcp.sessions.criteria import Criteria
from session_mcp.sessions.outfile import same_file
from session_mcp.sessions.redact import Redactor
from session_mcp.sessions.scan import MAX_SCAN
from session_mcp.sessions.select import Selection, needs_scan
from session_mcp.sessions.tags import parse_tag_pairs
from session_mcp.sessions.window import Window, window_of
from session_mcp.sessions.window_words import WINDOW_FORMS, zone_named

if TYPE_CHECKING:  # the actions' own modules are imported when they run: `session-mcp qa` needs none of them
    from session_mcp.render.page import SessionPageResult
    from session_mcp.sessions.export import ExportResult

_CURSOR_CALL = re.compile(r"call list_sessions with cursor='([^']*)'")
EXIT_STATUS = "Exit status: 0 done, 1 partial (an export left sessions out), 2 usage or fatal error."
JSON_HELP = {
    "list": "print the API's page as JSON (items, filteredCount, totalCount, pageIndex, pageSize), not the table; "
    "with --since, --status and the like: items, nextCursor and the scan",
    "show": "print the whole session as JSON, as the API sent it (transcript included), not the rendering",
    "export": "print the summary as JSON ({file, written, already_there, updated, failed: [{session_id, reason}]})",
}


def add_session_commands(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> Any:
    """The ``sessions`` command and its subcommands; ``shared`` adds the connection flags.

    Returns the subcommands, for those defined elsewhere (``cli.store``'s ``search``).
    """
    sessions = commands.add_parser(
        "sessions", help="list, show or export sessions (no MCP host needed)", epilog=EXIT_STATUS
    )
    actions = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="one page of sessions",
        description="One page of sessions, newest first: an aligned table on a terminal, one "
        "'id | companion | ...' line per session when piped.",
        epilog=EXIT_STATUS,
    )
    show = actions.add_parser("show", help="one session with its transcript", epilog=EXIT_STATUS)
    export = actions.add_parser("export", help="sessions with transcripts to a JSON Lines file", epilog=EXIT_STATUS)
    for name, parser in (("list", listing), ("show", show), ("export", export)):
        shared(parser)
        parser.add_argument("--json", action="store_true", help=JSON_HELP[name])
    for parser in (listing, export):
        add_filter_flags(parser)
        add_query_flags(parser)
    listing.add_argument("--page-index", type=whole_number(0), default=0, help="zero-based page number (default 0)")
    listing.add_argument(
        "--page-size",
        type=whole_number(1, MAX_PAGE_SIZE),
        default=20,
        help=f"sessions per page, 1 to {MAX_PAGE_SIZE} (default 20)",
    )
    listing.add_argument(
        "--limit",
        dest="page_size",
        type=whole_number(1, MAX_PAGE_SIZE),
        default=argparse.SUPPRESS,  # --page-size's default stands
        metavar="N",
        help=f"at most this many sessions, newest first, like export's and qa's --limit: here the same as "
        f"--page-size (1 to {MAX_PAGE_SIZE})",
    )
    listing.add_argument(
        "--cursor", help="where a list filtered by time or status goes on (the previous page prints it)"
    )
    show.add_argument("session_id", help="the id exactly as the list shows it")
    export.add_argument("--out", required=True, type=Path, help="the .jsonl file (appended to, resumable)")
    export.add_argument("--limit", type=whole_number(1), help="at most this many sessions, newest first")
    return actions


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number within bounds, else a usage error (exit status 2) that says so."""
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is None or number < minimum or (maximum is not None and number > maximum):
            raise argparse.ArgumentTypeError(f"must be a whole number {bounds}, not {text!r}")
        return number

    return parse


def add_filter_flags(parser: argparse.ArgumentParser) -> None:
    """The list filters, shared by every command that selects sessions (read back by ``filters_of``)."""
    parser.add_argument("--companion-id", help="only this companion's sessions")
    parser.add_argument("--external-client-id", help="only this external client's sessions")
    parser.add_argument("--search", help="free-text search")
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only sessions with this tag; repeatable, all must match",
    )


def parse_tags(pairs: list[str]) -> dict[str, str] | None:
    try:
        return parse_tag_pairs(pairs) or None
    except ValueError as exc:
        raise InvalidInputError(f"--tag takes KEY=VALUE, e.g. --tag channel=web ({exc}).") from None


def add_query_flags(parser: argparse.ArgumentParser) -> None:
    """The time window and the filters this program applies itself (the API has neither)."""
    parser.add_argument(
        "--since", metavar="WHEN", help=f"sessions started at or after: {WINDOW_FORMS}; alone, a span is taken whole"
    )
    parser.add_argument("--until", metavar="WHEN", help="sessions started before this (exclusive), like --since")
    for flag, values in (
        ("--status", "pending, started, closed, failed"),
        ("--close-reason", "e.g. idle_timeout"),
        ("--session-type", "webrtc, websocket, voip, sip, kiosk"),
        ("--modality", "audio, text, video"),
    ):
        parser.add_argument(flag, action="append", default=[], metavar="VALUE", help=f"{values} (repeatable, or a,b)")


def filters_of(args: argparse.Namespace) -> SessionFilters:
    return SessionFilters(
        companion_id=args.companion_id,
        external_client_id=args.external_client_id,
        search=args.search,
        tags=parse_tags(args.tag),
    )


def query_of(args: argparse.Namespace) -> tuple[Window, Criteria]:
    """The window (as of now, in the --timezone's days) and the client-side filters of the flags."""
    criteria = Criteria.of(
        status=args.status, close_reason=args.close_reason, session_type=args.session_type, modality=args.modality
    )
    zone = command_zone(args)
    return window_of(args.since, args.until, now=datetime.now(UTC), zone=zone), criteria


def command_zone(args: argparse.Namespace) -> tzinfo:
    """The zone of ``--timezone`` (or ``SESSION_MCP_TIMEZONE``, checked at start-up); the text shows times in it."""
    zone = zone_named(getattr(args, "timezone", None))
    show_times_in(zone)
    return zone


def selection_of(args: argparse.Namespace, *, limit: int | None, max_scan: int | None = MAX_SCAN) -> Selection:
    """The sessions the filter and query flags choose: the newest ``limit`` of them (``None``: all)."""
    window, criteria = query_of(args)
    return Selection(filters=filters_of(args), window=window, criteria=criteria, limit=limit, max_scan=max_scan)


async def run_sessions_command(
    args: argparse.Namespace, client: CompanionClient, redactor: Redactor, concurrency: int, out: TextIO
) -> int:
    """Run one ``sessions`` action and return the exit status: 1 when an export left sessions out.

    ``CompanionError`` and ``OSError`` reach the caller with their message.
    """
    from session_mcp.render.page import render_session_page, session_page_result, trim_page
    from session_mcp.render.scan_info import upstream_note
    from session_mcp.render.transcript import render_transcript, transcript_window
    from session_mcp.sessions.claims import page_inconsistencies
    from session_mcp.sessions.export import export_sessions

    command_zone(args)  # times in the --timezone, ``show`` included
    if args.action == "list":
        window, criteria = query_of(args)
        if needs_scan(window, criteria) or args.cursor:
            return await list_scanned(args, client, window, criteria, out)
        page = await client.list_sessions(page_index=args.page_index, page_size=args.page_size, **filters_of(args))
        if args.json:
            out.write(json.dumps(trim_page(page, args.page_size)[0].to_wire(), ensure_ascii=False, indent=2) + "\n")
            # The page as it came; what its own rows contradict goes to stderr, a line each.
            for inconsistency in page_inconsistencies(page, args.page_index, args.page_size):
                sys.stderr.write(f"session-mcp: {upstream_note(inconsistency)}\n")
            return 0
        result = session_page_result(page, args.page_index, args.page_size)
        text = render_session_page(result).replace("call list_sessions with page_index=", "use --page-index ")
        out.write((aligned_page(text, result) if out.isatty() else text) + "\n")
    elif args.action == "show":
        session = redactor(await client.get_session(args.session_id))
        if args.json:
            out.write(json.dumps(session.to_wire(), ensure_ascii=False, indent=2) + "\n")
            return 0
        whole = transcript_window(session, 0, len(session.turns), budget=sys.maxsize)
        out.write(render_transcript(whole) + "\n")
    else:
        # The export reads on to the window's start: it has no scan bound.
        selection = selection_of(args, limit=args.limit, max_scan=None)
        progress = Progress(sys.stderr)
        done = await export_sessions(client, args.out, selection, redactor, concurrency, on_progress=progress.update)
        progress.finish()
        summary = export_summary(done, selection)
        # Exported to stdout itself (--out /dev/stdout | jq): the summary must not join the sessions.
        told = sys.stderr if same_file(args.out, out) else out
        told.write((json.dumps(summary) if args.json else format_export_summary(summary)) + "\n")
        return 1 if summary["failed"] else 0
    return 0


async def list_scanned(
    args: argparse.Namespace, client: CompanionClient, window: Window, criteria: Criteria, out: TextIO
) -> int:
    """``sessions list`` with a window or a client-side filter: a page of the matches and a cursor."""
    from session_mcp.render.page import render_session_page, scanned_page_result
    from session_mcp.render.scan_info import scan_info
    from session_mcp.sessions.cursors import CursorSigner, scan_page

    if args.page_index:
        raise InvalidInputError(
            "--page-index pages the plain list; a list filtered by time or status goes on with --cursor (the "
            "previous page prints it)."
        )
    page = await scan_page(
        client,
        filters_of(args),
        window,
        criteria,
        page_size=args.page_size,
        cursor=args.cursor,
        # Each run is a new process: the secret comes from the key, so the next run opens this run's cursor.
        signer=CursorSigner(client.derived_secret("cursor")),
        window_words=(args.since or "", args.until or ""),
    )
    info = scan_info(page.scan, criteria, MAX_SCAN)
    if args.json:
        wire = {
            "items": [item.to_wire() for item in page.scan.sessions],
            "nextCursor": page.next_cursor,
            "scan": info.model_dump(mode="json", exclude_none=True),
        }
        out.write(json.dumps(wire, ensure_ascii=False, indent=2) + "\n")
        return 0
    result = scanned_page_result(
        page.scan, info, args.page_size, matched_before=page.matched_before, next_cursor=page.next_cursor
    )
    text = _CURSOR_CALL.sub(r"use --cursor \1", render_session_page(result))
    out.write((aligned_page(text, result) if out.isatty() else text) + "\n")
    return 0


def aligned_page(text: str, page: SessionPageResult) -> str:
    """The rendered page with its table in aligned columns, for a person at a terminal."""
    from session_mcp.render.session_info import session_cells

    lines = text.split("\n")
    if not page.sessions:
        return text
    at = next(n for n, line in enumerate(lines) if line.startswith("id | "))  # the line that names the columns
    header = lines[at].split(" | ")
    rows = [session_cells(row, with_turns="turns" in header, with_outcome="outcome" in header) for row in page.sessions]
    lines[at : at + 1 + len(rows)] = aligned([header, *rows])
    return "\n".join(lines)


def aligned(rows: list[list[str]]) -> list[str]:
    """Rows as columns padded to their widest cell as a terminal draws it, two spaces apart."""
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell + " " * (width - display_width(cell)) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def display_width(text: str) -> int:
    """Terminal columns of ``text``: wide (CJK, emoji) characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def export_summary(done: ExportResult, selection: Selection) -> dict[str, Any]:
    """What ``--json`` prints: {file, written, already_there, updated, failed: [...]}, and the scan if any."""
    from session_mcp.render.scan_info import scan_info

    summary: dict[str, Any] = {
        "file": str(done.file),
        "written": done.written,
        "already_there": done.already_there,
        "updated": done.updated,
        "failed": [failure.model_dump() for failure in done.failures],
    }
    if done.scan is not None:
        info = scan_info(done.scan, selection.criteria, selection.max_scan)
        summary["scan"] = info.model_dump(mode="json", exclude_none=True)
    return summary


def format_export_summary(summary: dict[str, Any]) -> str:
    from session_mcp.render.scan_info import ScanInfo, render_scan

    text = f"Exported {plural(summary['written'], 'session')} to {summary['file']}"
    if summary["already_there"]:
        there = "was" if summary["already_there"] == 1 else "were"
        updated = f", {summary['updated']} of them updated" if summary.get("updated") else ""
        text += f" ({summary['already_there']} {there} already there{updated})"
    text += "."
    if "scan" in summary:
        text += "\n" + render_scan(ScanInfo.model_validate(summary["scan"]))
    for failure in summary["failed"]:
        text += f"\nNot exported: {one_line(failure['session_id'], ID_CHARS)}: {one_line(failure['reason'], 1_000)}"
    return text


class Progress:
    """A one-line progress counter on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.done = 0

    def update(self, done: int, total: int | None) -> None:
        """``done`` sessions of ``total`` (``None``: not known), drawn over the line before."""
        self.done = done
        if self.enabled:
            of = f"/{total}" if total is not None else ""
            width = 30
            bar = ""
            if total:
                filled = min(width, width * done // total)
                bar = "[" + "#" * filled + "." * (width - filled) + "] "
            self.stream.write(f"\r{bar}{done}{of} sessions")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
