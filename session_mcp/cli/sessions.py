"""``session-mcp sessions ...``: list, show and export sessions without an MCP host.

For QA pipelines: a table on the terminal, JSON with ``--json``, and an export to JSON Lines that
streams (memory stays flat whatever the count) and resumes where a previous run stopped. Exit
status: 0 done, 1 partial (an export left sessions out), 2 usage or fatal error (``cli``).
"""

from __future__ import annotations

import argparse
import json
import re
import stat
import sys
import tempfile
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from pydantic import ValidationError

from session_mcp.companion.client import CompanionClient, SessionFilters
from session_mcp.companion.models import MAX_PAGE_SIZE, SessionDetail, SessionSummary
from session_mcp.errors import InvalidInputError
from session_mcp.render.common import plural
from session_mcp.render.lines import ID_CHARS, one_line, shorten_text
from session_mcp.render.page import (
    SessionPageResult,
    render_session_page,
    scanned_page_result,
    session_page_result,
    trim_page,
)
from session_mcp.render.scan_info import ScanInfo, render_scan, scan_info, upstream_note
from session_mcp.render.session_info import session_cells
from session_mcp.render.transcript import render_transcript, transcript_window
from session_mcp.sessions.claims import page_inconsistencies
from session_mcp.sessions.criteria import Criteria, Scan
from session_mcp.sessions.cursors import CursorSigner, scan_page
from session_mcp.sessions.fetch import Failure, stream_sessions
from session_mcp.sessions.outfile import is_stream, open_in_place, replace_ranges, same_file, writes_in_place
from session_mcp.sessions.redact import Redactor
from session_mcp.sessions.scan import MAX_SCAN, WindowScanner, scan_sessions
from session_mcp.sessions.tags import parse_tag_pairs
from session_mcp.sessions.window import TIME_FORMS, Window, window_of

_CURSOR_CALL = re.compile(r"call list_sessions with cursor='([^']*)'")
EXPORT_LINE_START = b'{"id": "'  # how every exported line begins: the id is the first wire field
LINE_SLACK = 1024 * 1024  # an exported line may be longer than the body it came from (spacing)
EXIT_STATUS = "Exit status: 0 done, 1 partial (an export left sessions out), 2 usage or fatal error."
JSON_HELP = {
    "list": "print the API's page as JSON (items, filteredCount, totalCount, pageIndex, pageSize), not the table; "
    "with --since, --status and the like: items, nextCursor and the scan",
    "show": "print the whole session as JSON, as the API sent it (transcript included), not the rendering",
    "export": "print the summary as JSON ({file, written, already_there, updated, failed: [{session_id, reason}]})",
}


def add_session_commands(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``sessions`` command and its subcommands; ``shared`` adds the connection flags."""
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
        "--since", metavar="WHEN", help=f"sessions started at or after: {TIME_FORMS}; 'yesterday' alone is that day"
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
    """The window (as of now, UTC) and the client-side filters of the flags."""
    criteria = Criteria.of(
        status=args.status, close_reason=args.close_reason, session_type=args.session_type, modality=args.modality
    )
    return window_of(args.since, args.until, now=datetime.now(UTC)), criteria


async def run_sessions_command(
    args: argparse.Namespace, client: CompanionClient, redactor: Redactor, concurrency: int, out: TextIO
) -> int:
    """Run one ``sessions`` action and return the exit status: 1 when an export left sessions out.

    ``CompanionError`` and ``OSError`` reach the caller with their message.
    """
    if args.action == "list":
        window, criteria = query_of(args)
        if window.bounded or criteria or args.cursor:
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
        summary = await export_sessions(
            client, args.out, filters_of(args), args.limit, redactor, concurrency, query=query_of(args)
        )
        # Exported to stdout itself (--out /dev/stdout | jq): the summary must not join the sessions.
        told = sys.stderr if same_file(args.out, out) else out
        told.write((json.dumps(summary) if args.json else format_export_summary(summary)) + "\n")
        return 1 if summary["failed"] else 0
    return 0


async def list_scanned(
    args: argparse.Namespace, client: CompanionClient, window: Window, criteria: Criteria, out: TextIO
) -> int:
    """``sessions list`` with a window or a client-side filter: a page of the matches and a cursor."""
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


async def export_sessions(
    client: CompanionClient,
    path: Path,
    filters: SessionFilters,
    limit: int | None,
    redactor: Redactor,
    concurrency: int,
    *,
    query: tuple[Window, Criteria] = (Window(), Criteria()),
) -> dict[str, Any]:
    """Append every matching session not yet in ``path``, one JSON object a line, in list order.

    Idempotent: ids already in the file are skipped, and a last line cut short by an
    interrupted run is dropped before appending, so a re-run completes the file. A session that
    was still open when it was written is read again, and its line, if it changed, replaced where
    it is (``update_lines``: one atomic rewrite of the file at the end). A session that
    cannot be read or written is listed among the failures, and the others are written. With a
    window or a client-side filter (``query``) the list is scanned to the window's start, with no
    bound: the summary then says the window and how many sessions were scanned; with a ``limit``
    too, the newest ``limit`` are written (sorted by start time when the list is out of order).
    """
    before = exported_so_far(path, max_line=2 * client.max_response_bytes + LINE_SLACK)
    progress = Progress(sys.stderr)
    failures: list[Failure] = []
    written = there = 0
    refreshed: dict[str, tuple[int, int]] = {}  # id -> (offset, length) of its new line in ``fresh``
    window, criteria = query
    scanned = window.bounded or bool(criteria)
    scanner = WindowScanner(client, filters, window, criteria, max_scan=None) if scanned and limit is None else None
    newest: list[Scan] = []  # with a limit: the newest ``limit``, sorted by start time when the list is not

    async def listed() -> AsyncIterator[SessionSummary]:
        if scanned and limit is not None:
            newest.append(await scan_sessions(client, filters, window, criteria=criteria, limit=limit, max_scan=None))
            for item in newest[0].sessions:
                yield item
            return
        if scanner is not None:
            async for _, item in scanner.matches():
                yield item
            return
        async for page in client.iter_pages(page_size=MAX_PAGE_SIZE, limit=limit, **filters):
            progress.total = page.filtered_count if limit is None else min(limit, page.filtered_count or limit)
            for item in page.items:
                yield item

    async def pending_ids() -> AsyncIterator[str]:
        nonlocal there
        count = 0
        async for item in listed():
            if limit is not None and count >= limit:
                return
            count += 1
            there += item.id in before.ids
            if item.id not in before.ids:
                yield item.id
            elif item.id in before.still_open:
                yield item.id  # it may have changed since: read again
            else:
                progress.step()

    with tempfile.TemporaryFile() as fresh:  # private (0600, unlinked): the refreshed lines until the rewrite
        with open_in_place(path) if writes_in_place(path) else path.open("ab") as file:
            async for item in stream_sessions(client, pending_ids(), concurrency=concurrency, use_cache=False):
                line = item if isinstance(item, Failure) else export_line(item, redactor)
                if isinstance(line, Failure):
                    failures.append(line)
                elif isinstance(item, SessionDetail) and item.id in before.still_open:
                    refreshed[item.id] = (fresh.tell(), len(line))
                    fresh.write(line)
                else:
                    file.write(line)
                    file.flush()
                    written += 1
                progress.step()
        updated = update_lines(path, before.still_open, refreshed, fresh) if refreshed else 0
    progress.finish()
    summary: dict[str, Any] = {
        "file": str(path),
        "written": written,
        "already_there": there,
        "updated": updated,
        "failed": [failure.model_dump() for failure in failures],
    }
    scan = scanner.result([]) if scanner is not None else (newest[0] if newest else None)
    if scan is not None:
        summary["scan"] = scan_info(scan, criteria, None).model_dump(mode="json", exclude_none=True)
    return summary


def export_line(session: SessionDetail, redactor: Redactor) -> bytes | Failure:
    """The line ``session`` is exported as, or why it cannot be (it must not stop the export)."""
    try:
        return (json.dumps(redactor(session).to_wire(), ensure_ascii=False) + "\n").encode()
    except Exception as exc:  # e.g. text no UTF-8 can hold: this session fails, the export goes on
        reason = f"it could not be written as JSON ({type(exc).__name__}): the Companion API sent something unusable."
        return Failure(session_id=shorten_text(str(session.id), ID_CHARS), reason=reason)


def update_lines(path: Path, old: dict[str, tuple[int, int]], new: dict[str, tuple[int, int]], fresh: BinaryIO) -> int:
    """Put each refreshed session's new line (in ``fresh``) where its old line is; how many changed.

    One atomic rewrite (``outfile.replace_ranges``): a reader, or an interruption, sees the old
    file or the new one, each a whole export. Nothing is rewritten when no line changed.
    """
    with path.open("rb") as current:
        changed = sorted((old[i], new[i]) for i in new if _read_at(current, *old[i]) != _read_at(fresh, *new[i]))
    if changed:
        replace_ranges(path, ((offset, length, _read_at(fresh, *line)) for (offset, length), line in changed))
    return len(changed)


def _read_at(file: BinaryIO, offset: int, size: int) -> bytes:
    file.seek(offset)
    return file.read(size)


@dataclass
class Exported:
    """What earlier runs left in an export file."""

    ids: set[str] = field(default_factory=set)
    # id -> (offset, length) of the line of a session that was still open when it was written
    still_open: dict[str, tuple[int, int]] = field(default_factory=dict)


def exported_so_far(path: Path, *, max_line: int) -> Exported:
    """The sessions already exported to ``path``, with the lines of those still open; trims a cut last line.

    A file counts as an earlier export only when every complete line is byte for byte what the
    export writes: a JSON object whose first key is a string ``id``, in ``json.dumps`` spacing,
    UTF-8. Anything else is refused and left untouched, and so is a file whose only line is cut.
    Lines are read with a bounded length, and refused at their first bytes when they do not
    begin like an exported line (``--out /dev/zero`` fails at once). A pipe, socket or terminal
    (``--out /dev/stdout``) is written to without being read: there is nothing to resume.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return Exported()
    if is_stream(path, mode):
        return Exported()
    exported = Exported()
    ids = exported.ids
    good_end = 0
    unterminated = False  # the last line is a whole session that only lacks its newline
    with path.open("rb") as file:
        while line := _read_line(file, path, max_line):
            unterminated = not line.endswith(b"\n")
            session = _exported(line + b"\n" if unterminated else line)
            if session is not None:
                ids.add(session["id"])
                if not _was_closed(session):
                    exported.still_open[session["id"]] = (good_end, len(line) + unterminated)
                good_end += len(line)
                continue
            if not unterminated or not ids:
                raise _not_an_export(path)  # a foreign line, or a file whose only line is cut
            if not (line.startswith(EXPORT_LINE_START) or EXPORT_LINE_START.startswith(line)):
                raise _not_an_export(path)
            unterminated = False
            break  # a last line cut by an interruption: dropped, and that session is fetched again
    if stat.S_ISREG(mode) and (unterminated or path.stat().st_size != good_end):
        with path.open("rb+") as file:
            file.truncate(good_end)
            if unterminated:
                file.seek(good_end)
                file.write(b"\n")
    return exported


def _read_line(file: BinaryIO, path: Path, max_line: int) -> bytes:
    """The next line (``b""`` at the end), refused as soon as it cannot be an exported one."""
    head = file.readline(len(EXPORT_LINE_START))
    if len(head) < len(EXPORT_LINE_START) or head.endswith(b"\n"):
        return head  # short, or the end of the file: judged by the caller
    if head != EXPORT_LINE_START:
        raise _not_an_export(path)
    line = head + file.readline(max_line - len(head) + 1)
    if len(line) > max_line:
        raise InvalidInputError(
            f"{path} has a line longer than {max_line:,} bytes: it is not an export. Choose another --out file."
        )
    return line


def _exported(line: bytes) -> dict[str, Any] | None:
    """The session of a line exactly as the export writes it, or ``None`` when the line is anything else."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or next(iter(value)) != "id":
        return None
    return value if (json.dumps(value, ensure_ascii=False) + "\n").encode() == line else None


def _was_closed(session: dict[str, Any]) -> bool:
    """Whether an exported session could no longer change when it was written (the models' own rule)."""
    try:
        return SessionSummary.model_validate(
            {k: session[k] for k in ("id", "status", "closedAt") if k in session}
        ).is_closed
    except ValidationError:
        return True  # nothing to tell by: left as it is


def _not_an_export(path: Path) -> InvalidInputError:
    return InvalidInputError(
        f"{path} has a line that is not an exported session: choose another --out file (the export only "
        "appends to a file it wrote)."
    )


def aligned_page(text: str, page: SessionPageResult) -> str:
    """The rendered page with its table in aligned columns, for a person at a terminal."""
    lines = text.split("\n")
    if not page.sessions:
        return text
    at = next(n for n, line in enumerate(lines) if line.startswith("id | "))  # the line that names the columns
    header = lines[at].split(" | ")
    rows = [session_cells(row, with_turns="turns" in header) for row in page.sessions]
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


def format_export_summary(summary: dict[str, Any]) -> str:
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
        self.total: int | None = None

    def step(self) -> None:
        self.done += 1
        if self.enabled:
            of = f"/{self.total}" if self.total is not None else ""
            width = 30
            bar = ""
            if self.total:
                filled = min(width, width * self.done // self.total)
                bar = "[" + "#" * filled + "." * (width - filled) + "] "
            self.stream.write(f"\r{bar}{self.done}{of} sessions")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
