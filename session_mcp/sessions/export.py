"""The resumable export: every selected session not yet in a file, one JSON object a line.

``sessions export`` (``session_mcp.cli.sessions``) runs it: the file is appended to as sessions
arrive (memory stays flat whatever the count), a re-run completes it where an interrupted one
stopped, and the lines of sessions still open when written are replaced, in one atomic rewrite,
once they changed. The file is refused unless every line in it is byte for byte one this module
writes.
"""

from __future__ import annotations

import json
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from session_mcp.companion.client import MAX_SESSION_ID_LENGTH, CompanionClient
from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.companion.sanitize import shorten
from session_mcp.errors import InvalidInputError
from session_mcp.sessions.criteria import Scan
from session_mcp.sessions.fetch import Failure, stream_sessions
from session_mcp.sessions.outfile import is_stream, open_in_place, replace_ranges, writes_in_place
from session_mcp.sessions.redact import Redactor
from session_mcp.sessions.select import Listing, Selection

EXPORT_LINE_START = b'{"id": "'  # how every exported line begins: the id is the first wire field
LINE_SLACK = 1024 * 1024  # an exported line may be longer than the body it came from (spacing)

OnProgress = Callable[[int, int | None], None]  # sessions done, of how many (when known)


@dataclass
class ExportResult:
    """What one export run did: the command prints it."""

    file: Path
    written: int = 0
    already_there: int = 0  # selected sessions an earlier run had written
    updated: int = 0  # ... of which still open then, and changed since: their line was replaced
    failures: list[Failure] = field(default_factory=list)
    scan: Scan | None = None  # how the window was scanned, when the selection has one


async def export_sessions(
    client: CompanionClient,
    path: Path,
    selection: Selection,
    redactor: Redactor,
    concurrency: int,
    *,
    on_progress: OnProgress | None = None,
) -> ExportResult:
    """Append every selected session not yet in ``path``, one JSON object a line, in list order.

    Idempotent: ids already in the file are skipped, and a last line cut short by an
    interrupted run is dropped before appending, so a re-run completes the file. A session that
    was still open when it was written is read again, and its line, if it changed, replaced where
    it is (``update_lines``: one atomic rewrite of the file at the end). A session that
    cannot be read or written is listed among the failures, and the others are written. With a
    window or a client-side filter the list is scanned (``Listing``): without a limit the matches
    stream as they are found; with one the newest ``limit`` are written (sorted by start time when
    the list is out of order). ``on_progress`` is called as each session is done.
    """
    before = exported_so_far(path, max_line=2 * client.max_response_bytes + LINE_SLACK)
    listing = Listing(client, selection)
    result = ExportResult(path)
    refreshed: dict[str, tuple[int, int]] = {}  # id -> (offset, length) of its new line in ``fresh``
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, listing.expected)

    async def pending_ids() -> AsyncIterator[str]:
        async for item in listing:
            result.already_there += item.id in before.ids
            if item.id not in before.ids:
                yield item.id
            elif item.id in before.still_open:
                yield item.id  # it may have changed since: read again
            else:
                step()

    with tempfile.TemporaryFile() as fresh:  # private (0600, unlinked): the refreshed lines until the rewrite
        with open_in_place(path) if writes_in_place(path) else path.open("ab") as file:
            async for item in stream_sessions(client, pending_ids(), concurrency=concurrency, use_cache=False):
                line = item if isinstance(item, Failure) else export_line(item, redactor)
                if isinstance(line, Failure):
                    result.failures.append(line)
                elif isinstance(item, SessionDetail) and item.id in before.still_open:
                    refreshed[item.id] = (fresh.tell(), len(line))
                    fresh.write(line)
                else:
                    file.write(line)
                    file.flush()
                    result.written += 1
                step()
        result.updated = update_lines(path, before.still_open, refreshed, fresh) if refreshed else 0
    result.scan = listing.scan
    return result


def export_line(session: SessionDetail, redactor: Redactor) -> bytes | Failure:
    """The line ``session`` is exported as, or why it cannot be (it must not stop the export)."""
    try:
        return (json.dumps(redactor(session).to_wire(), ensure_ascii=False) + "\n").encode()
    except Exception as exc:  # e.g. text no UTF-8 can hold: this session fails, the export goes on
        reason = f"it could not be written as JSON ({type(exc).__name__}): the Companion API sent something unusable."
        return Failure(session_id=shorten(str(session.id), MAX_SESSION_ID_LENGTH), reason=reason)


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
