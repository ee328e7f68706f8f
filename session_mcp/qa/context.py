"""The turns around a session's findings, kept with them: what a report quotes of the transcript.

They are part of what the store keeps for a checked session (``stored.encode``), so this module's
code is among those the checks' fingerprint covers (``stored.CHECKS_MODULES``); the report's other
structures (``breakdown``) are not, and changing them keeps what was kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from session_mcp.companion.models import SessionDetail
from session_mcp.qa.checks import Finding
from session_mcp.render.transcript import make_turn

CONTEXT_CHARS = 300  # of each turn shown around a finding


class ContextTurn(BaseModel):
    """A turn around a finding, as shown (redacted when on), cut to a few hundred characters."""

    model_config = ConfigDict(frozen=True)

    turn_index: int
    role: str
    offset_seconds: float | None = None
    text: str


def context_of(session: SessionDetail, findings: Sequence[Finding]) -> list[ContextTurn]:
    """The turns of ``session`` (as shown) one before to one after each finding's turn."""
    wanted = sorted(
        {i for f in findings if f.turn_index is not None for i in range(f.turn_index - 1, f.turn_index + 2)}
    )
    origin = session.turn_origin
    context = []
    for index in wanted:
        if 0 <= index < len(session.turns):
            turn = make_turn(index, session.turns[index], origin)
            text = turn.text if len(turn.text) <= CONTEXT_CHARS else turn.text[: CONTEXT_CHARS - 1] + "…"
            context.append(ContextTurn(turn_index=index, role=turn.role, offset_seconds=turn.offset_seconds, text=text))
    return context
