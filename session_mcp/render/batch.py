"""Batch answers that scale: whole sessions while the budget holds, one digest line for each other.

A model summarizing many sessions reads better from whole transcripts and one-line digests than
from every transcript cut to its first turn. ``fit_batch`` keeps sessions whole, in order, while
the character budget holds, and gives each session that does not fit one line: status,
duration, turns, the user's first request and the last exchange, shortened to the room left.
The answer names those sessions and the exact calls that read them in full, each within the
budget. ``detail="digest"`` gives every session as a digest line, for hundreds in one answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pydantic import BaseModel, Field

from session_mcp.companion.models import SessionDetail
from session_mcp.render.common import format_duration, format_time, plural, show_id, zone_label
from session_mcp.render.digests import (
    CELL_SEP,
    DIGEST_COLUMNS,
    DIGEST_TEXT_MAX,
    DIGEST_TEXT_MIN,
    ENDING_MARKS,
    SessionDigest,
    digest_line,
    digest_lines,
    said_length,
    session_digest,
    share_budget,
)
from session_mcp.render.freshness import StoreFreshness
from session_mcp.render.lines import ID_CHARS, one_line, shorten_text
from session_mcp.render.scan_info import ScanInfo, render_scan
from session_mcp.render.session_info import SessionRow, format_status, row_tags, session_row
from session_mcp.render.transcript import Turn, make_turn, turn_line
from session_mcp.sessions.fetch import Failure

BATCH_OVERHEAD = 500  # the summary line, section headers and separators of a batch answer
TIGHT_SEP = "|"  # between cells when the lines would leave under DIGEST_TEXT_TIGHT characters of text each
DIGEST_TEXT_TIGHT = 20
MAX_CALL_IDS = 100  # session_ids one get_session_transcripts call takes in full mode
MAX_DIGEST_IDS = 500  # ... and as digest lines
DEFAULT_MESSAGE_CHARS = 600
logger = logging.getLogger(__name__)


class BatchTranscript(BaseModel):
    """One whole session of a batch (long messages may be shortened, each with a marker)."""

    session: SessionRow
    turns: list[Turn]
    total_turns: int


class BatchResult(BaseModel):
    """Many transcripts in one call: whole sessions while the budget holds, a digest line for the others."""

    detail: str = Field(description="full or digest.")
    transcripts: list[BatchTranscript] = Field(description="The sessions given whole, in order.")
    digests: list[SessionDigest] = Field(description="The others, one line each, in order.")
    left_out: list[str] = Field(description="Ids of sessions not even a digest line fitted for.")
    failures: list[Failure]
    requested: int = Field(description="Sessions asked for (ids given, or matches up to the limit).")
    matched: int | None = Field(None, description="Sessions matching the filters, when known.")
    more_matching: bool = Field(False, description="More sessions match than were asked for (count unknown).")
    budget_chars: int
    shortened_messages: int = Field(description="Messages of whole sessions cut to the per-message limit.")
    read_calls: list[str] = Field(
        description="Calls that read on, each within the budget: the digested sessions in full, or (as digests) the "
        "sessions left out."
    )
    unnamed: int = Field(0, description="Sessions to read on that no read call names: the calls did not fit.")
    scan: ScanInfo | None = None
    store: StoreFreshness | None = Field(None, description="Present when the answer came from the session store.")


def fit_batch(
    sessions: list[SessionDetail],
    failures: list[Failure],
    *,
    requested: int,
    matched: int | None,
    max_message_chars: int,
    budget: int,
    detail: str = "full",
    scan: ScanInfo | None = None,
    more_matching: bool = False,
) -> BatchResult:
    """The answer to a batch: in ``full`` detail whole sessions first, digests for the rest, within ``budget``.

    Everything the answer says is measured here, the summary's "more match" and the calls that read
    on included, so the last bound of every tool answer never has to cut it.
    """
    blocks: list[_Block] = []
    failures = list(failures)
    for session in sessions:
        try:  # one session that cannot be rendered is a failure, not the end of the batch
            blocks.append(_whole(session, max_message_chars))
        except Exception as exc:
            logger.warning("session %.80r could not be rendered", session.id, exc_info=exc)
            reason = f"it could not be rendered ({type(exc).__name__}): the Companion API sent something unusable."
            failures.append(Failure(session_id=shorten_text(str(session.id), ID_CHARS), reason=reason))
    overhead = BATCH_OVERHEAD + sum(len(f.reason) + len(f.session_id) + 4 for f in failures)
    overhead += len(render_scan(scan)) if scan is not None else 0
    whole: set[int] = set()
    if detail == "full":
        # Every session as a digest with its minimum room, then whole ones in order while they fit.
        digest_cost = [_digest_cost(block) for block in blocks]
        used = overhead + sum(digest_cost)
        for index, block in enumerate(blocks):
            if used - digest_cost[index] + block.size <= budget:
                whole.add(index)
                used += block.size - digest_cost[index]
    batch = _Batch(blocks, whole, failures, requested, matched, more_matching, budget, detail, scan, max_message_chars)
    result = batch.assemble(None)
    # Share the room left among the digest lines, then make sure the whole answer fits.
    rest = [b for i, b in enumerate(blocks) if i not in whole]
    if rest:
        sep = _separator(result)
        spare = budget - len(render_batch(result))
        sizes = [min(DIGEST_TEXT_MAX, said_length(b.session)) for b in rest]
        while True:
            rooms = _text_rooms(sizes, spare, len(sep))
            result = batch.assemble(rooms)
            over = len(render_batch(result)) - budget
            if over <= 0 or spare <= 0:
                break
            spare -= max(over, spare // 10)
    return _drop_to_fit(result, rest, batch)


def _drop_to_fit(result: BatchResult, rest: list[_Block], batch: _Batch) -> BatchResult:
    """Digest lines dropped from the end, then the last read calls, until the answer fits the budget.

    A session whose digest line is dropped is left out but still named in a read call; only when the
    calls themselves do not fit does the answer count the sessions that no call names.
    """
    budget = result.budget_chars
    while len(render_batch(result)) > budget and result.digests:
        keep = len(result.digests) - max(1, len(result.digests) // 10)
        result = result.model_copy(
            update={
                "digests": result.digests[:keep],
                "left_out": [b.row.id for b in rest[keep:]],
                "read_calls": [c.call for c in batch.read_calls(rest, keep)],
            }
        )
    calls = batch.read_calls(rest, len(result.digests))
    to_read = sum(c.sessions for c in calls)
    while len(render_batch(result)) > budget and calls:
        calls.pop()
        unnamed = to_read - sum(c.sessions for c in calls)
        result = result.model_copy(update={"read_calls": [c.call for c in calls], "unnamed": unnamed})
    return result


def _text_rooms(sizes: Sequence[int], spare: int, sep_chars: int) -> list[int]:
    """Rooms of quoted text whose lines, marks included, take about ``spare`` characters.

    Each line with text costs its separator too, and a last exchange its marks (arrow, ``U:``,
    ``A:``): without counting them, hundreds of lines overrun and every room is cut to nothing.
    """
    rooms = share_budget(sizes, max(0, spare - sep_chars * len(sizes)))
    with_ending = sum(room >= DIGEST_TEXT_MIN for room in rooms)
    return share_budget(sizes, max(0, spare - sep_chars * len(sizes) - ENDING_MARKS * with_ending))


@dataclass
class _Block:
    """One session prepared whole: its row, its turns (long messages shortened) and its text size."""

    session: SessionDetail
    row: SessionRow
    turns: list[Turn]
    shortened: int
    size: int


def _whole(session: SessionDetail, max_message_chars: int) -> _Block:
    origin = session.turn_origin
    turns = []
    shortened = 0
    for index, item in enumerate(session.turns):
        text = shorten_text(item.text, max_message_chars)
        shortened += text != item.text
        turns.append(make_turn(index, item, origin, text))
    row = session_row(session, len(turns))
    whole = BatchTranscript(session=row, turns=turns, total_turns=len(turns))
    return _Block(session, row, turns, shortened, len(render_batch_transcript(whole)) + 2)


def _digest_base(block: _Block) -> int:
    """The characters of a digest line without its quoted text, its day heading counted in."""
    return len(digest_line(SessionDigest(session=block.row, last_exchange=[]), with_companion=True)) + 1 + 12


def _digest_cost(block: _Block) -> int:
    """What a session given as a digest line takes at least: the line, and its id in a read call."""
    return _digest_base(block) + len(block.row.id) + 4 + DIGEST_TEXT_MIN


class ReadCall(NamedTuple):
    """A call that reads on, and how many sessions it reads."""

    call: str
    sessions: int


@dataclass
class _Batch:
    """What a batch answer is assembled from: the sessions prepared, which are whole, and the figures."""

    blocks: list[_Block]
    whole: set[int]
    failures: list[Failure]
    requested: int
    matched: int | None
    more_matching: bool
    budget: int
    detail: str
    scan: ScanInfo | None
    max_message_chars: int

    def assemble(self, rooms: list[int] | None) -> BatchResult:
        """The result with the whole sessions given whole and the others as digests with ``rooms`` of text."""
        transcripts = [
            BatchTranscript(session=b.row, turns=b.turns, total_turns=len(b.turns))
            for i, b in enumerate(self.blocks)
            if i in self.whole
        ]
        rest = [b for i, b in enumerate(self.blocks) if i not in self.whole]
        return BatchResult(
            detail=self.detail,
            transcripts=transcripts,
            digests=[session_digest(b.session, b.row, rooms[n] if rooms else 0) for n, b in enumerate(rest)],
            left_out=[],
            failures=self.failures,
            requested=self.requested,
            matched=self.matched,
            more_matching=self.more_matching,
            budget_chars=self.budget,
            shortened_messages=sum(b.shortened for i, b in enumerate(self.blocks) if i in self.whole),
            read_calls=[c.call for c in self.read_calls(rest, len(rest))],
            scan=self.scan,
        )

    def read_calls(self, rest: list[_Block], digested: int) -> list[ReadCall]:
        """The calls that read on, each answer within the budget: in ``full`` detail every session of
        ``rest`` whole; as digests, the sessions after the first ``digested`` (those left out)."""
        if self.detail == "full":
            chars = self.max_message_chars
            extra = "" if chars == DEFAULT_MESSAGE_CHARS else f", max_message_chars={chars}"
            return read_calls(rest, self.budget, extra, MAX_CALL_IDS, lambda b: b.size)
        return read_calls(rest[digested:], self.budget, ", detail='digest'", MAX_DIGEST_IDS, _digest_cost)


def read_calls(
    blocks: Sequence[_Block], budget: int, extra: str, most: int, size: Callable[[_Block], int]
) -> list[ReadCall]:
    """Calls that read ``blocks`` in order, at most ``most`` a call, each answer within ``budget``.

    ``size`` is what a session takes in that answer; ``extra`` the arguments every call repeats."""
    room = budget - BATCH_OVERHEAD
    calls: list[ReadCall] = []
    group: list[str] = []
    used = 0

    def close() -> None:
        if group:
            calls.append(ReadCall(f"get_session_transcripts(session_ids={group!r}{extra})", len(group)))
            group.clear()

    for block in blocks:
        if size(block) > room:  # too long for any batch: the one-session tool pages through it
            close()
            used = 0
            calls.append(ReadCall(f"get_session_transcript(session_id={block.row.id!r})", 1))
            continue
        if used + size(block) > room or len(group) >= most:
            close()
            used = 0
        group.append(block.row.id)
        used += size(block)
    close()
    return calls


def _separator(result: BatchResult) -> str:
    """``" | "`` between cells, or ``"|"`` when lines that wide would leave the quoted text under
    ``DIGEST_TEXT_TIGHT`` characters each (hundreds of digests): the text says more than spaces.

    Decided from the rows alone, so the quoted text that is fitted afterwards cannot change it."""
    room = result.budget_chars - BATCH_OVERHEAD - sum(len(render_batch_transcript(t)) + 2 for t in result.transcripts)
    with_companion = len({d.session.companion_id for d in result.digests}) > 1
    wide = sum(
        len(digest_line(SessionDigest(session=d.session, last_exchange=[]), with_companion=with_companion))
        + len(CELL_SEP)
        + DIGEST_TEXT_TIGHT
        + 12  # the day headings, at most one a line
        for d in result.digests
    )
    return CELL_SEP if wide <= room else TIGHT_SEP


# -- the answer --------------------------------------------------------------------------------


def batch_header(row: SessionRow, total_turns: int) -> str:
    """The one-line header of a session inside a batch."""
    cells = [f"## {show_id(row.id)}", one_line(row.companion_id or "-")]
    if row.external_client_id:
        cells.append(f"client {one_line(row.external_client_id)}")
    cells.append(format_time(row.started_at or row.created_at))
    cells += [format_duration(row.duration_seconds), format_status(row), plural(total_turns, "turn")]
    if row.tags:
        cells.append(row_tags(row))
    return " · ".join(cells)


def render_batch_transcript(item: BatchTranscript) -> str:
    lines = [batch_header(item.session, item.total_turns)]
    if item.total_turns == 0:
        lines.append("(no transcript)")
    lines.extend(turn_line(turn) for turn in item.turns)
    return "\n".join(lines)


def _more_hint(result: BatchResult) -> str:
    """What reads more sessions: full detail takes at most ``MAX_CALL_IDS``, digests many more."""
    if result.detail == "digest":
        return "raise limit or narrow the window"
    higher = f"raise limit (up to {MAX_CALL_IDS} in full detail), " if result.requested < MAX_CALL_IDS else ""
    return f"{higher}pass detail='digest' for more sessions as one line each, or narrow the window"


def render_batch(result: BatchResult) -> str:
    shown = len(result.transcripts) + len(result.digests)
    digest_mode = result.detail == "digest"
    summary = f"{'Digests' if digest_mode else 'Transcripts'} of {plural(shown, 'session')}"
    if result.matched is not None:
        summary += f" (newest {result.requested} of {result.matched} matching)"
    elif result.more_matching:
        summary += f" (the newest {result.requested}; more match: {_more_hint(result)})"
    notes = []
    if digest_mode:
        notes.append("one line each")
    elif result.digests:
        notes.append(
            f"{len(result.transcripts)} whole, {len(result.digests)} as one digest line each (they did not fit in "
            f"{result.budget_chars:,} characters)"
        )
    if result.shortened_messages:
        notes.append(f"{plural(result.shortened_messages, 'long message')} shortened")
    if result.left_out:
        notes.append(f"{len(result.left_out)} left out")
    if result.failures:
        notes.append(f"{len(result.failures)} could not be read")
    blocks = [summary + (": " + "; ".join(notes) if notes else "") + "."]
    if result.scan is not None:
        blocks[0] += "\n" + render_scan(result.scan)
    blocks.extend(render_batch_transcript(item) for item in result.transcripts)
    if result.digests:
        companions = {d.session.companion_id for d in result.digests}
        with_companion = len(companions) > 1
        columns = DIGEST_COLUMNS if with_companion else DIGEST_COLUMNS.replace(" companion |", "")
        sep = _separator(result)
        columns = columns.replace(CELL_SEP, sep)
        heading = "Digests" if digest_mode else "Sessions that did not fit whole"
        only = "" if with_companion else f", all of companion {one_line(next(iter(companions)) or '-')}"
        lines = [f"{heading} (columns: {columns}; times {zone_label()}{only}):"]
        lines += digest_lines(result.digests, with_companion=with_companion, sep=sep)
        blocks.append("\n".join(lines))
    if digest_mode and result.digests:
        blocks.append(
            f"Read one in full with get_session_transcript(session_id=...), or up to {MAX_CALL_IDS} with "
            "get_session_transcripts(session_ids=[...]): sessions that do not fit come as digest lines again."
        )
    if result.read_calls:
        heading = "Read the ones left out as digest lines" if digest_mode else "Read them in full"
        blocks.append(f"{heading} (each call fits the budget):\n" + "\n".join(result.read_calls))
    if result.left_out:
        blocks.append(
            f"{plural(len(result.left_out), 'more session')} did not fit even as one line each (the last of "
            "this batch): ask for fewer (limit or session_ids) or a narrower window (until)."
        )
    if result.unnamed:
        blocks.append(
            f"{plural(result.unnamed, 'session')} of this batch {'is' if result.unnamed == 1 else 'are'} in no call "
            f"above (the calls for them did not fit in {result.budget_chars:,} characters): ask for fewer (limit or "
            "session_ids) or a narrower window (until)."
        )
    if result.failures:
        blocks.append("Not read:\n" + "\n".join(failure_line(f) for f in result.failures))
    return "\n\n".join(blocks)


def failure_line(failure: Failure) -> str:
    return f"- {show_id(failure.session_id)}: {one_line(failure.reason, 1_000)}"
