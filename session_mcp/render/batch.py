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

from session_mcp.companion.models import ConversationItem, SessionDetail
from session_mcp.render.lines import ID_CHARS, cell, one_line, quoted, shorten_text
from session_mcp.render.results import (
    BatchResult,
    BatchTranscript,
    DigestTurn,
    ScanInfo,
    SessionDigest,
    SessionRow,
    Turn,
    make_turn,
    session_row,
    transcript_origin,
)
from session_mcp.render.text import (
    failure_line,
    format_duration,
    format_status,
    format_time,
    plural,
    render_scan,
    row_tags,
    show_id,
    turn_line,
)
from session_mcp.sessions.fetch import Failure

BATCH_OVERHEAD = 500  # the summary line, section headers and separators of a batch answer
DIGEST_TEXT_MAX = 260  # characters of quoted text per digest line when there is room
DIGEST_TEXT_MIN = 40  # what a digest line is promised before a session is given whole; below it, no last exchange
SNIPPET_MIN = 6  # less room than this quotes nothing: a bare ellipsis tells nothing
ENDING_MARKS = len(" ⟶ ") + len("U: ") + len(" A: ")  # what the last exchange costs beyond its quoted text
QUOTES = len('""')  # the marks around each quoted text of a digest line
CELL_SEP = " | "
TIGHT_SEP = "|"  # between cells when the lines would leave under DIGEST_TEXT_TIGHT characters of text each
DIGEST_TEXT_TIGHT = 20
MAX_CALL_IDS = 100  # session_ids one get_session_transcripts call takes in full mode
MAX_DIGEST_IDS = 500  # ... and as digest lines
DEFAULT_MESSAGE_CHARS = 600
logger = logging.getLogger(__name__)
NORMAL_END = "connection_closed"  # the close reason of an ordinary end: not worth a digest's room
DIGEST_COLUMNS = (
    "id | companion | started | duration | status | turns | the user's first request ⟶ the last exchange (U: user, "
    "A: agent)"
)


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
        sizes = [min(DIGEST_TEXT_MAX, _said_length(b.session)) for b in rest]
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


def share_budget(sizes: Sequence[int], budget: int) -> list[int]:
    """Per-item caps whose sum fits ``budget``: small items keep all, large ones share the rest.

    Water-filling: the cap ``c`` is the largest with ``sum(min(size, c)) <= budget``.
    """
    if sum(sizes) <= budget:
        return list(sizes)
    remaining = budget
    caps = [0] * len(sizes)
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    for position, index in enumerate(order):
        fair = remaining // (len(sizes) - position)
        caps[index] = min(sizes[index], fair)
        remaining -= caps[index]
    return caps


@dataclass
class _Block:
    """One session prepared whole: its row, its turns (long messages shortened) and its text size."""

    session: SessionDetail
    row: SessionRow
    turns: list[Turn]
    shortened: int
    size: int


def _whole(session: SessionDetail, max_message_chars: int) -> _Block:
    origin = transcript_origin(session)
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


# -- digests -----------------------------------------------------------------------------------


def session_digest(session: SessionDetail, row: SessionRow, room: int) -> SessionDigest:
    """``session`` in one line whose quoted text, quote marks included, takes about ``room`` characters."""
    first, ending = _said(session)
    if first and room < DIGEST_TEXT_MIN:  # too little room for both: the first request says the most
        ending = []
    room -= QUOTES * (bool(first) + len(ending))
    if room < SNIPPET_MIN:
        return SessionDigest(session=row, last_exchange=[])
    ending_sizes = [len(_flat(turn.text)) for turn in ending]
    # The first request matters most: half the room at least, more when the ending needs less.
    first_room = min(len(_flat(first)), max(room // 2, room - sum(ending_sizes))) if first else 0
    rooms = share_budget(ending_sizes, room - first_room)
    return SessionDigest(
        session=row,
        first_request=_snippet(first, first_room) if first else None,
        last_exchange=[
            DigestTurn(role=t.role, text=_snippet(t.text, r))
            for t, r in zip(ending, rooms, strict=True)
            if r >= SNIPPET_MIN or r >= len(_flat(t.text))
        ],
    )


def _said(session: SessionDetail) -> tuple[str | None, list[ConversationItem]]:
    """The user's first request, and the last exchange: the last user turn and the reply to it."""
    turns = session.turns
    first = next((i for i, t in enumerate(turns) if t.role == "user"), None)
    last_user = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "user"), None)
    if last_user is None:
        ending = turns[-1:]
    elif last_user == first:
        ending = turns[last_user + 1 : last_user + 2]  # the first request is the last: only the reply
    else:
        ending = turns[last_user : last_user + 2]
    return (turns[first].text if first is not None else None), ending


def _said_length(session: SessionDetail) -> int:
    first, ending = _said(session)
    return sum(len(_flat(text)) + QUOTES for text in ([first] if first else []) + [t.text for t in ending])


def _flat(text: str) -> str:
    """``text`` on one line: every break, control character and run of spaces one space."""
    return " ".join(one_line(text, len(text)).split())


def _snippet(text: str, room: int) -> str:
    """``text`` on one line, cut to ``room`` characters with an ellipsis."""
    flat = _flat(text)
    return flat if len(flat) <= room else flat[: max(0, room - 1)].rstrip() + "…"


def digest_line(digest: SessionDigest, *, with_companion: bool, sep: str = CELL_SEP) -> str:
    """One digest line, in the order of ``DIGEST_COLUMNS`` (the day is in the heading above it)."""
    row = digest.session
    moment = row.started_at or row.created_at
    status = cell(row.status)
    if row.close_reason and (row.status == "failed" or row.close_reason != NORMAL_END):
        status = format_status(row)
    cells = [show_id(row.id)]
    if with_companion:
        cells.append(cell(row.companion_id or "-"))
    cells += [
        moment.strftime("%H:%M") if moment else "-",
        format_duration(row.duration_seconds),
        status,
        str(row.turns if row.turns is not None else "-"),
    ]
    said = _digest_text(digest)
    if said:
        cells.append(said)
    return sep.join(cells)


def _digest_text(digest: SessionDigest) -> str:
    """``"first request" ⟶ U: "last user message" A: "the reply"`` (the column header names the
    parts); what people said is ``quoted``, so no ``"``, ``⟶`` or ``|`` in it can end a part."""
    if not digest.last_exchange and digest.first_request is None:
        return "(no transcript)" if digest.session.turns == 0 else ""
    first = _quote(digest.first_request) if digest.first_request is not None else "(the user never spoke)"
    ending = " ".join(f"{_role(t.role)}: {_quote(t.text)}" for t in digest.last_exchange if t.text)
    return f"{first} ⟶ {ending}" if ending else first


def _quote(text: str) -> str:
    """A snippet (already one line and cut to its room) quoted whole."""
    return quoted(text, len(text))


def _role(role: str) -> str:
    return {"user": "U", "agent": "A"}.get(role) or cell(role, 40)


def digest_lines(digests: Sequence[SessionDigest], *, with_companion: bool, sep: str = CELL_SEP) -> list[str]:
    """Digest lines under a heading for each UTC day, in the order given."""
    lines: list[str] = []
    day = None
    for digest in digests:
        moment = digest.session.started_at or digest.session.created_at
        this_day = format_time(moment)[:10] if moment else "unknown day"
        if this_day != day:
            lines.append(f"{this_day}:")
            day = this_day
        lines.append(digest_line(digest, with_companion=with_companion, sep=sep))
    return lines


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
        lines = [f"{heading} (columns: {columns}; times UTC{only}):"]
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
