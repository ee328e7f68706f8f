"""What a report shows beside its findings: each reviewed session's row, per companion, week over week.

Every reviewed session (flagged or not) is one ``ReviewedSession``: its outcome, its score and
verdict on its scorecard, the checks it was flagged by (disputed findings left out). ``Breakdown``
tallies those rows as they come (a review of 50,000 keeps counters per companion and per day,
not the rows): the breakdown per companion (sessions, outcomes, verdicts, mean score) and the
trend of this week against the week before it (the 7 days up to the newest reviewed session's
day, and the 7 before), per check and outcome. With no reviewed session in the week before, the
trend says there is not enough history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from session_mcp.qa.scorecard import VERDICTS, Verdict
from session_mcp.render.lines import ID_CHARS, shorten_text
from session_mcp.sessions.outcome import OUTCOMES, OutcomeEvidence

MAX_COMPANIONS = 50  # rows of the per-companion table; the rest are summed into one "other" row
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


class _Tally:
    """Counts over some reviewed sessions: what a companion's row and a week of the trend are made of."""

    __slots__ = ("checks", "flagged", "outcomes", "score_sum", "scored", "sessions", "verdicts")

    def __init__(self) -> None:
        self.sessions = self.flagged = self.score_sum = self.scored = 0
        self.outcomes: Counter[str | None] = Counter()
        self.verdicts: Counter[str | None] = Counter()
        self.checks: Counter[str] = Counter()

    def add(self, row: Mapping[str, Any]) -> None:
        """A reviewed session's row, as ``ReviewedSession`` fields by name."""
        self.sessions += 1
        if checks := row["checks"]:
            self.flagged += 1
            for check in checks:  # not Counter.update: a call in Python for each of 50,000 rows, twice
                self.checks[check] += 1
        self.outcomes[row["outcome"]] += 1
        self.verdicts[row["verdict"]] += 1
        if (score := row["score"]) is not None:
            self.score_sum += score
            self.scored += 1

    def merge(self, other: _Tally) -> _Tally:
        self.sessions += other.sessions
        self.flagged += other.flagged
        self.score_sum += other.score_sum
        self.scored += other.scored
        self.outcomes.update(other.outcomes)
        self.verdicts.update(other.verdicts)
        self.checks.update(other.checks)
        return self

    def companion(self, companion: str | None) -> CompanionRow:
        return CompanionRow(
            companion_id=shorten_text(companion, ID_CHARS) if companion is not None else None,  # upstream text: bounded
            sessions=self.sessions,
            flagged=self.flagged,
            outcomes={name: self.outcomes[name] for name in OUTCOMES},
            verdicts={name: self.verdicts[name] for name in VERDICTS},
            mean_score=round(self.score_sum / self.scored, 1) if self.scored else None,
        )


class Breakdown:
    """The per-companion table and the trend, tallied row by row: a review of any size keeps a few counters per
    companion and per day, never its rows."""

    def __init__(self) -> None:
        self._companions: dict[str | None, _Tally] = {}
        self._days: dict[datetime, _Tally] = {}  # by the midnight of each session's start
        self._midnights: dict[date, datetime] = {}  # a UTC day's midnight, made once per day

    def add(self, row: Mapping[str, Any]) -> None:
        """A reviewed session's row, as ``ReviewedSession`` fields by name (a dict: the report builder makes
        no model of a row it writes as JSON)."""
        _tally_of(self._companions, row["companion_id"]).add(row)
        if (started := row["started_at"]) is not None:
            _tally_of(self._days, self._midnight(started)).add(row)

    def _midnight(self, started: datetime) -> datetime:
        """The midnight that starts ``started``'s day (in its zone): of a UTC time, made once per day (``replace``
        cost a microsecond a session)."""
        if started.tzinfo is not UTC:
            return started.replace(hour=0, minute=0, second=0, microsecond=0)
        midnight = self._midnights.get(day := started.date())
        if midnight is None:
            midnight = self._midnights[day] = started.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight

    def total(self) -> _Tally:
        """The counts of every session tallied: the companions' summed."""
        whole = _Tally()
        for counts in self._companions.values():
            whole.merge(counts)
        return whole

    def companions(self) -> list[CompanionRow]:
        """Per companion, most sessions first: sessions, flagged, outcomes, verdicts, mean score."""
        ordered = sorted(self._companions.items(), key=lambda item: (-item[1].sessions, item[0] or ""))
        if len(ordered) > MAX_COMPANIONS:
            rest = _Tally()
            for _, counts in ordered[MAX_COMPANIONS - 1 :]:
                rest.merge(counts)
            ordered = [*ordered[: MAX_COMPANIONS - 1], (None, rest)]
        return [counts.companion(companion) for companion, counts in ordered]

    def trend(self, check_ids: Sequence[str]) -> Trend:
        """This week (the 7 days up to the newest session's day) against the 7 days before it."""
        if not self._days:
            return Trend(enough_history=False, note="Not enough history: no reviewed session has a start time.")
        end = max(self._days) + timedelta(days=1)
        this, last = _Tally(), _Tally()
        for day, counts in self._days.items():
            if end - WEEK <= day < end:
                this.merge(counts)
            elif end - 2 * WEEK <= day < end - WEEK:
                last.merge(counts)
        if not last.sessions:
            return Trend(
                enough_history=False,
                this_week_start=end - WEEK,
                this_week_sessions=this.sessions,
                note="Not enough history: no reviewed session in the week before this one; review 14 days "
                "(since='14 days ago') to compare.",
            )
        table = [
            TrendRow(name=check, kind="check", this_week=this.checks[check], last_week=last.checks[check])
            for check in check_ids
        ]
        table += [
            TrendRow(name=outcome, kind="outcome", this_week=this.outcomes[outcome], last_week=last.outcomes[outcome])
            for outcome in OUTCOMES
            if this.outcomes[outcome] or last.outcomes[outcome]
        ]
        return Trend(
            enough_history=True,
            this_week_start=end - WEEK,
            this_week_sessions=this.sessions,
            last_week_sessions=last.sessions,
            rows=table,
            note=f"This week: {this.sessions} sessions from {(end - WEEK):%Y-%m-%d}; the week before: {last.sessions}.",
        )


def _tally_of(tallies: dict[Any, _Tally], key: Any) -> _Tally:
    """The tally of ``key``, made the first time (``setdefault`` would make one for every row)."""
    found = tallies.get(key)
    if found is None:
        found = tallies[key] = _Tally()
    return found


def companions(rows: Sequence[ReviewedSession]) -> list[CompanionRow]:
    """Per companion, most sessions first (``Breakdown.companions`` of ``rows``)."""
    return _breakdown(rows).companions()


def trend(rows: Sequence[ReviewedSession], check_ids: Sequence[str]) -> Trend:
    """This week against the week before (``Breakdown.trend`` of ``rows``)."""
    return _breakdown(rows).trend(check_ids)


def _breakdown(rows: Sequence[ReviewedSession]) -> Breakdown:
    breakdown = Breakdown()
    for row in rows:
        breakdown.add(dict(row))
    return breakdown
