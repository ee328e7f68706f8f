"""A session in one line: status, duration, turns, outcome, the user's first request and the last exchange.

What a batch gives for each session that does not fit whole (and for every session with
``detail="digest"``): the quoted text shortened to the room the batch shares out
(``share_budget``), what people said ``quoted`` so no ``"``, ``⟶`` or ``|`` in it can end a part.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from session_mcp.companion.models import ConversationItem, SessionDetail
from session_mcp.render.common import format_duration, format_time, show_id
from session_mcp.render.lines import cell, one_line, quoted
from session_mcp.render.session_info import SessionRow, format_status

DIGEST_TEXT_MAX = 260  # characters of quoted text per digest line when there is room
DIGEST_TEXT_MIN = 40  # what a digest line is promised before a session is given whole; below it, no last exchange
SNIPPET_MIN = 6  # less room than this quotes nothing: a bare ellipsis tells nothing
ENDING_MARKS = len(" ⟶ ") + len("U: ") + len(" A: ")  # what the last exchange costs beyond its quoted text
QUOTES = len('""')  # the marks around each quoted text of a digest line
CELL_SEP = " | "
NORMAL_END = "connection_closed"  # the close reason of an ordinary end: not worth a digest's room
# How a session ended (sessions.outcome) as one mark: 500 digest lines share one answer's budget, and a
# word there would take the room of the quoted text (the structured result has the word).
OUTCOME_MARKS = {"resolved": "✓", "unresolved": "✗", "escalated": "↗", "abandoned": "⊘", "unknown": "?"}
DIGEST_COLUMNS = (
    "id | companion | started | duration | status | turns | outcome ("
    + ", ".join(f"{mark} {outcome}" for outcome, mark in OUTCOME_MARKS.items())
    + ") | the user's first request ⟶ the last exchange (U: user, A: agent)"
)


class DigestTurn(BaseModel):
    role: str
    text: str = Field(description="Shortened to fit, on one line.")


class SessionDigest(BaseModel):
    """A session in one line: what the user first asked and how it ended."""

    session: SessionRow
    first_request: str | None = Field(
        None,
        description="The user's first message, shortened; absent if the user never spoke or it did not fit.",
    )
    last_exchange: list[DigestTurn] = Field(description="The last user message and the reply to it, shortened.")


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


def said_length(session: SessionDetail) -> int:
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
        OUTCOME_MARKS.get(row.outcome or "", "-"),  # how it ended, computed from the transcript
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
