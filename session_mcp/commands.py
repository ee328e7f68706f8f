"""``session-mcp sessions ...``: list, show and export sessions without an MCP host.

For QA pipelines: a table on the terminal, JSON with ``--json``, and an export to JSON Lines that
streams (memory stays flat whatever the count) and resumes where a previous run stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

from session_mcp.batch import stream_sessions
from session_mcp.client import MAX_PAGE_SIZE, CompanionClient, SessionFilters
from session_mcp.errors import InvalidInputError
from session_mcp.redact import Redactor
from session_mcp.render import plural, render_session_page, render_transcript, transcript_window
from session_mcp.results import Failure, session_page_result

EXPORT_LINE_START = b'{"id": '  # how every exported line begins: the id is the first wire field


def add_session_commands(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``sessions`` command and its subcommands; ``shared`` adds the connection flags."""
    sessions = commands.add_parser("sessions", help="list, show or export sessions (no MCP host needed)")
    actions = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one page of sessions")
    show = actions.add_parser("show", help="one session with its transcript")
    export = actions.add_parser("export", help="sessions with transcripts to a JSON Lines file")
    for parser in (listing, show, export):
        shared(parser)
        parser.add_argument("--json", action="store_true", help="JSON output instead of a table")
    for parser in (listing, export):
        add_filter_flags(parser)
    listing.add_argument("--page-index", type=int, default=0)
    listing.add_argument("--page-size", type=int, default=20)
    show.add_argument("session_id")
    export.add_argument("--out", required=True, type=Path, help="the .jsonl file (appended to, resumable)")
    export.add_argument("--limit", type=int, help="at most this many sessions, newest first")


def add_filter_flags(parser: argparse.ArgumentParser) -> None:
    """The list filters, shared by every command that selects sessions (read back by ``filters_of``)."""
    parser.add_argument("--companion-id", help="only this companion's sessions")
    parser.add_argument("--external-client-id", help="only this external client's sessions")
    parser.add_argument("--search", help="free-text search")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="tag filter, repeatable")


def parse_tags(pairs: list[str]) -> dict[str, str] | None:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--tag takes KEY=VALUE, not {pair!r}.")
        tags[key] = value
    return tags or None


def filters_of(args: argparse.Namespace) -> SessionFilters:
    return SessionFilters(
        companion_id=args.companion_id,
        external_client_id=args.external_client_id,
        search=args.search,
        tags=parse_tags(args.tag),
    )


async def run_sessions_command(
    args: argparse.Namespace, client: CompanionClient, redactor: Redactor, concurrency: int, out: TextIO
) -> int:
    """Run one ``sessions`` action and return the exit status: 1 when an export left sessions out.

    ``CompanionError`` and ``OSError`` reach the caller with their message.
    """
    if args.action == "list":
        page = await client.list_sessions(page_index=args.page_index, page_size=args.page_size, **filters_of(args))
        if args.json:
            out.write(json.dumps(page.to_wire(), ensure_ascii=False, indent=2) + "\n")
            return 0
        result = session_page_result(page, args.page_index, args.page_size)
        text = render_session_page(result).replace("call list_sessions with page_index=", "use --page-index ")
        out.write(text + "\n")
    elif args.action == "show":
        session = redactor(await client.get_session(args.session_id))
        if args.json:
            out.write(json.dumps(session.to_wire(), ensure_ascii=False, indent=2) + "\n")
            return 0
        whole = transcript_window(session, 0, len(session.turns), budget=sys.maxsize)
        out.write(render_transcript(whole) + "\n")
    else:
        summary = await export_sessions(client, args.out, filters_of(args), args.limit, redactor, concurrency)
        out.write((json.dumps(summary) if args.json else format_export_summary(summary)) + "\n")
        return 1 if summary["failed"] else 0
    return 0


async def export_sessions(
    client: CompanionClient,
    path: Path,
    filters: SessionFilters,
    limit: int | None,
    redactor: Redactor,
    concurrency: int,
) -> dict[str, Any]:
    """Append every matching session not yet in ``path``, one JSON object a line, in list order.

    Idempotent: ids already in the file are skipped, and a last line cut short by an
    interrupted run is dropped before appending, so a re-run completes the file.
    """
    done = existing_ids(path)
    progress = Progress(sys.stderr)
    failures: list[Failure] = []
    written = skipped = 0

    async def pending_ids() -> AsyncIterator[str]:
        nonlocal skipped
        async for page in client.iter_pages(page_size=MAX_PAGE_SIZE, limit=limit, **filters):
            progress.total = page.filtered_count if limit is None else min(limit, page.filtered_count or limit)
            for item in page.items:
                if item.id in done:
                    skipped += 1
                    progress.step()
                else:
                    yield item.id

    with path.open("a", encoding="utf-8") as file:
        async for item in stream_sessions(client, pending_ids(), concurrency=concurrency, use_cache=False):
            if isinstance(item, Failure):
                failures.append(item)
            else:
                file.write(json.dumps(redactor(item).to_wire(), ensure_ascii=False) + "\n")
                file.flush()
                written += 1
            progress.step()
    progress.finish()
    return {
        "file": str(path),
        "written": written,
        "already_there": skipped,
        "failed": [failure.model_dump() for failure in failures],
    }


def existing_ids(path: Path) -> set[str]:
    """Ids of the sessions already exported to ``path``; trims a last line an interruption cut.

    Only a cut line that starts like an exported session is dropped: any other content means the
    file is not an export, and it is left alone.
    """
    if not path.exists():
        return set()
    ids: set[str] = set()
    with path.open("rb+") as file:
        good_end = 0
        unterminated = False
        for line in file:
            session_id = _session_id_of(line)
            if session_id is None:
                if not line.endswith(b"\n") and (
                    line.startswith(EXPORT_LINE_START) or EXPORT_LINE_START.startswith(line)
                ):
                    break  # cut by an interruption: dropped, and that session is fetched again
                raise InvalidInputError(
                    f"{path} has a line that is not an exported session: choose another --out file."
                )
            ids.add(session_id)
            good_end += len(line)
            unterminated = not line.endswith(b"\n")  # a whole session that only lacks its newline
        file.truncate(good_end)
        if unterminated:
            file.seek(good_end)
            file.write(b"\n")
    return ids


def _session_id_of(line: bytes) -> str | None:
    """The id of an exported session line, or ``None`` when the line is not one."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    session_id = value.get("id") if isinstance(value, dict) else None
    return session_id if isinstance(session_id, str) else None


def format_export_summary(summary: dict[str, Any]) -> str:
    text = f"Exported {plural(summary['written'], 'session')} to {summary['file']}"
    if summary["already_there"]:
        text += f" ({summary['already_there']} were already there)"
    text += "."
    for failure in summary["failed"]:
        text += f"\nNot exported: {failure['session_id']}: {failure['reason']}"
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
