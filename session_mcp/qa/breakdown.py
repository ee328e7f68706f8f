"""What a report shows beside its findings: each reviewed session's row, per companion, week over week.

Every reviewed session (flagged or not) is one ``ReviewedSession``: its outcome, its score and
verdict on its scorecard, the checks it was flagged by (disputed findings left out) — about a
hundred bytes, so a review of thousands keeps them all. From those rows: the breakdown per
companion (sessions, outcomes, verdicts, mean score) and the trend of this week against the week
before it (the 7 days up to the newest reviewed session's day, and the 7 before), per check and
outcome. With no reviewed session in the week before, the trend says there is not enough history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from session_mcp.companion.models import SessionDetail
from session_mcp.qa.checks import Finding
from session_mcp.qa.scorecard import VERDICTS, Verdict
from session_mcp.render.lines import ID_CHARS, shorten_text
from session_mcp.render.transcript import make_turn
from session_mcp.sessions.outcome import OUTCOMES, OutcomeEvidence, SessionOutcome

MAX_COMPANIONS = 50  # rows of the per-companion table; the rest are summed into one "other" row
CONTEXT_CHARS = 300  # of each turn shown around a finding
WEEK = timedelta(days=7)


class ReviewedSession(BaseModel):
    """One reviewed session, flagged or not: what the JSON report lists for every session."""

    session_id: str
    companion_id: str | None = None
    started_at: datetime | None = None
    status: str
    close_reason: str | None = None
    outcome: str | None = Field(None, description="resolved, unresolved, escalated, abandoned or unknown.")
    outcome_reason: str | None = Field(None, description="Why, in one sentence.")
    outcome_evidence: OutcomeEvidence | None = Field(None, description="The turn the outcome was decided on, quoted.")
    score: int | None = Field(None, description="0-100 on its scorecard; null without one.")
    verdict: Verdict | None = None
    scorecard: str | None = None
    checks: list[str] = Field(description="The checks that flagged it (disputed findings left out).")
    disputed: int = Field(0, description="Its findings disputed by a reviewer.")

    @staticmethod
    def told(outcome: SessionOutcome | None) -> dict[str, Any]:
        """The outcome fields of a session (of ``ReviewedSession`` and ``FlaggedSession`` alike)."""
        if outcome is None:
            return {}
        return {"outcome": outcome.outcome, "outcome_reason": outcome.reason, "outcome_evidence": outcome.evidence}


class ContextTurn(BaseModel):
    """A turn around a finding, as shown (redacted when on), cut to a few hundred characters."""

    model_config = ConfigDict(frozen=True)

    turn_index: int
    role: str
    offset_seconds: float | None = None
    text: str


class CompanionRow(BaseModel):
    companion_id: str | None = Field(description="Null: sessions without one (or the companions past the table).")
    sessions: int
    flagged: int
    outcomes: dict[str, int]
    verdicts: dict[str, int]
    mean_score: float | None = Field(None, description="Over its scored sessions.")


class TrendRow(BaseModel):
    """A check or outcome: sessions this week and the week before (and their shares of the reviewed)."""

    name: str
    kind: str = Field(description="check or outcome")
    this_week: int
    last_week: int


class Trend(BaseModel):
    enough_history: bool
    this_week_start: datetime | None = None
    this_week_sessions: int = 0
    last_week_sessions: int = 0
    rows: list[TrendRow] = Field(default_factory=list)
    note: str


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


def companions(rows: Sequence[ReviewedSession]) -> list[CompanionRow]:
    """Per companion, most sessions first: sessions, flagged, outcomes, verdicts, mean score."""
    groups: dict[str | None, list[ReviewedSession]] = {}
    for row in rows:
        groups.setdefault(row.companion_id, []).append(row)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0] or ""))
    if len(ordered) > MAX_COMPANIONS:
        rest = [row for _, group in ordered[MAX_COMPANIONS - 1 :] for row in group]
        ordered = [*ordered[: MAX_COMPANIONS - 1], (None, rest)]
    return [_companion(companion, group) for companion, group in ordered]


def _companion(companion: str | None, rows: Sequence[ReviewedSession]) -> CompanionRow:
    scores = [r.score for r in rows if r.score is not None]
    return CompanionRow(
        companion_id=shorten_text(companion, ID_CHARS) if companion is not None else None,  # upstream text: bounded
        sessions=len(rows),
        flagged=sum(1 for r in rows if r.checks),
        outcomes=tally((r.outcome for r in rows), OUTCOMES),
        verdicts=tally((r.verdict for r in rows), VERDICTS),
        mean_score=round(sum(scores) / len(scores), 1) if scores else None,
    )


def tally(values: object, names: Sequence[str]) -> dict[str, int]:
    """How many of ``values`` are each of ``names`` (in that order; None and others not counted)."""
    counts = Counter(values)  # type: ignore[call-overload]
    return {name: counts[name] for name in names}


def trend(rows: Sequence[ReviewedSession], check_ids: Sequence[str]) -> Trend:
    """This week (the 7 days up to the newest session's day) against the 7 days before it."""
    dated = [r for r in rows if r.started_at is not None]
    if not dated:
        return Trend(enough_history=False, note="Not enough history: no reviewed session has a start time.")
    newest = max(r.started_at for r in dated if r.started_at is not None)
    end = newest.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    this = [r for r in dated if r.started_at is not None and end - WEEK <= r.started_at < end]
    last = [r for r in dated if r.started_at is not None and end - 2 * WEEK <= r.started_at < end - WEEK]
    if not last:
        return Trend(
            enough_history=False,
            this_week_start=end - WEEK,
            this_week_sessions=len(this),
            note="Not enough history: no reviewed session in the week before this one; review 14 days "
            "(since='14 days ago') to compare.",
        )
    table = [
        TrendRow(
            name=check,
            kind="check",
            this_week=sum(check in r.checks for r in this),
            last_week=sum(check in r.checks for r in last),
        )
        for check in check_ids
    ]
    table += [
        TrendRow(
            name=outcome,
            kind="outcome",
            this_week=sum(r.outcome == outcome for r in this),
            last_week=sum(r.outcome == outcome for r in last),
        )
        for outcome in OUTCOMES
        if any(r.outcome == outcome for r in (*this, *last))
    ]
    return Trend(
        enough_history=True,
        this_week_start=end - WEEK,
        this_week_sessions=len(this),
        last_week_sessions=len(last),
        rows=table,
        note=f"This week: {len(this)} sessions from {(end - WEEK):%Y-%m-%d}; the week before: {len(last)}.",
    )
