"""The aggregate of a QA review: counts per check, findings per day, flagged sessions ranked.

``ReportBuilder`` takes sessions one at a time and keeps only counts (per check, severity, day,
outcome, verdict, companion) in memory: each session's rows go to a ``Spool`` on disk as it is
added, so a review of 50,000 sessions holds what one of 1,000 holds. The report it builds carries
the worst ``TOP_SESSIONS`` flagged sessions (what the HTML page and the review tool show) and
reads every row back from the spool for the formats that write them all (``QAReport.ranked``,
``QAReport.rows``).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, Field, PrivateAttr
from pydantic_core import to_json

from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.qa.breakdown import Breakdown, CompanionRow, ReviewedSession, Trend
from session_mcp.qa.checks import SEVERITIES, SEVERITY_RANK, Finding, Severity
from session_mcp.qa.context import ContextTurn, context_of
from session_mcp.qa.explain import CheckHelp, explain
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.scorecard import VERDICTS, Score, Scorecards
from session_mcp.qa.spool import Spool
from session_mcp.qa.verdicts import Note, Verdicts
from session_mcp.sessions.fetch import Failure
from session_mcp.sessions.outcome import OUTCOMES, OutcomeEvidence, SessionOutcome
from session_mcp.sessions.window import Window
from session_mcp.store.base import Listed

# The flagged sessions a report carries, worst first: all of a review_sessions call (at most
# runner.MAX_REVIEW sessions), the worst of a bigger review for its HTML page.
TOP_SESSIONS = 1_000


class CheckCount(BaseModel):
    check: str
    findings: int
    sessions: int = Field(description="Sessions with at least one finding of this check.")
    worst: Severity | None = Field(None, description="The highest severity among its findings.")
    disputed: int = Field(0, description="Its findings a reviewer disputed: not counted above.")


class DayCount(BaseModel):
    """Findings of the sessions that started (or were created) on one UTC day."""

    day: str = Field(description="YYYY-MM-DD (UTC).")
    sessions: int = Field(description="Sessions reviewed that day.")
    info: int = 0
    warning: int = 0
    critical: int = 0


class FlaggedSession(BaseModel):
    session_id: str
    companion_id: str | None = None
    started_at: datetime | None = Field(None, description="Start time, or creation time if it never started.")
    status: str
    close_reason: str | None = None
    worst: Severity = Field(description="Of its counted findings (of the disputed ones when all are).")
    findings: list[Finding] = Field(description="Disputed ones included, marked by their review.")
    outcome: str | None = None
    outcome_reason: str | None = None
    outcome_evidence: OutcomeEvidence | None = None
    score: Score | None = None
    notes: list[Note] | None = Field(None, description="Reviewers' notes on the session (null: none).")
    context: list[ContextTurn] | None = Field(
        None, description="The turns around each finding: one before, one after (null: not kept)."
    )


class QAView(BaseModel):
    """What the report's view draws (``assets/report.js``): the HTML page and the review tool's result."""

    generated_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    rules: str | None = Field(None, description="The rules file applied, if any.")
    scanned: int | None = Field(None, description="Sessions of the list scanned to find them (none for given ids).")
    limit_hit: bool = Field(
        False, description="More sessions matched than the limit let through: the newest were kept."
    )
    scan_complete: bool = Field(True, description="False when the scan bound stopped before the window's start.")
    reviewed: int = Field(description="Sessions whose transcript was reviewed.")
    flagged: int = Field(description="Sessions with at least one finding no reviewer disputed.")
    findings: int = Field(description="Findings counted: disputed ones are not.")
    disputed: int = Field(0, description="Findings a reviewer disputed under these rules.")
    by_severity: dict[str, int]
    checks: list[CheckCount] = Field(description="Every check that ran, in a fixed order.")
    explained: list[CheckHelp] = Field(default_factory=list, description="What each check means, its threshold.")
    outcomes: dict[str, int] = Field(default_factory=dict, description="Reviewed sessions per outcome.")
    verdicts: dict[str, int] = Field(default_factory=dict, description="Scored sessions per verdict.")
    mean_score: float | None = Field(None, description="Over the scored sessions; null without a scorecard.")
    scorecards: list[dict[str, Any]] = Field(default_factory=list, description="The scorecards applied.")
    companions: list[CompanionRow] = Field(default_factory=list, description="Per companion, most sessions first.")
    trend: Trend | None = Field(None, description="This week against the week before, per check and outcome.")
    per_day: list[DayCount]
    sessions: list[FlaggedSession] = Field(
        description=f"Flagged sessions, worst first (all disputed: last); a report page shows the worst {TOP_SESSIONS}."
    )
    unread: list[Failure] = Field(description="Sessions that could not be read, and why.")

    def reaches(self, severity: Severity) -> bool:
        """Whether any counted (not disputed) finding is at least ``severity``."""
        rank = SEVERITY_RANK[severity]
        return any(n for name, n in self.by_severity.items() if SEVERITY_RANK[name] >= rank)


class QAReport(QAView):
    """What a review found, with every session it reviewed (JUnit has a test case for each).

    A report the builder made keeps those lists in its spool, not in ``reviewed_ids``,
    ``reviewed_sessions`` and ``sessions`` (the worst ``TOP_SESSIONS`` only): read them with
    ``rows`` and ``ranked``, which read the lists when there is no spool (a report parsed from JSON).
    """

    reviewed_ids: list[str] = Field(description="Every session reviewed, in the order read.")
    reviewed_sessions: list[ReviewedSession] = Field(
        default_factory=list, description="Every session reviewed, flagged or not: outcome, score, verdict."
    )
    _spool: Spool | None = PrivateAttr(None)

    @property
    def listed(self) -> int:
        """How many flagged sessions (with a finding, disputed or not) there are in all."""
        return self._spool.flagged if self._spool is not None else len(self.sessions)

    def ranked(self) -> Iterator[FlaggedSession]:
        """Every flagged session, worst first."""
        if self._spool is None:
            yield from self.sessions
            return
        yield from self.sessions  # the worst, read from the spool once already
        for row in self._spool.ranked(start=len(self.sessions)):
            yield FlaggedSession.model_validate_json(row)

    def ranked_json(self) -> Iterator[bytes]:
        """Every flagged session worst first, as its JSON (``model_dump_json``), unparsed: for a writer that
        copies what it holds (parsing each back into a model costs more than the rest of a re-run)."""
        if self._spool is None:
            for session in self.sessions:
                yield session.model_dump_json().encode()
            return
        yield from self._spool.ranked()

    def rows(self, flagged: bool = True) -> Iterator[tuple[str, ReviewedSession | None, FlaggedSession | None]]:
        """Every reviewed session in the order read: its id, its row and, when flagged (and ``flagged``), its
        findings."""
        if self._spool is None:
            by_id = {s.session_id: s for s in self.sessions}
            scored = {r.session_id: r for r in self.reviewed_sessions}
            for session_id in self.reviewed_ids:
                yield session_id, scored.get(session_id), by_id.get(session_id)
            return
        for reviewed, found in self._spool.rows():
            row = ReviewedSession.model_validate_json(reviewed)
            yield row.session_id, row, FlaggedSession.model_validate_json(found) if flagged and found else None


def _rank(worst: str, counted: list[str], started: datetime | None) -> tuple[int, ...]:
    """A flagged session's rank (the lowest first): worst severity first, then the most critical, warning and
    info findings, then the newest; a session whose findings were all disputed after every other."""
    newest = -started.timestamp() if started else 0.0
    return (int(not counted), -SEVERITY_RANK[worst], *[-counted.count(s) for s in _WORST_FIRST], int(newest))


_WORST_FIRST = tuple(reversed(SEVERITIES))


def told_of(
    listed: SessionSummary | Listed,
    started: datetime | None,
    outcome: str | None = None,
    reason: str | None = None,
    evidence: OutcomeEvidence | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a session's row and its flagged entry both say of it (``ReviewedSession`` fields, in order):
    its list row's (the session's, or the store's reading of a kept one's), and its outcome's (the
    outcome, its reason, its evidence as a model or its fields)."""
    return {
        "session_id": listed.id,
        "companion_id": listed.companion_id,
        "started_at": started,
        "status": listed.state,
        "close_reason": listed.close_reason,
        "outcome": outcome,
        "outcome_reason": reason,
        "outcome_evidence": evidence,
    }


@dataclass(frozen=True)
class Reads:
    """What a report's writer reads back of each session: the reviewed rows (``QAReport.rows``), the turns
    around the findings (``FlaggedSession.context``). A builder spools no more: a re-run of 50,000 sessions
    for JSON Lines wrote (and wrote out) 130 MB of rows, a fifth of them read back."""

    rows: bool = True
    context: bool = True


class _Graded(NamedTuple):
    """A counted finding as a scorecard reads it (``scorecard.Graded``)."""

    check: str
    severity: str


class _CheckTally:
    """A check's counts while the review runs (``CheckCount`` once built: a model's attributes cost more to set)."""

    __slots__ = ("disputed", "findings", "sessions", "worst")

    def __init__(self) -> None:
        self.findings = self.sessions = self.disputed = 0
        self.worst = -1  # the rank of its worst severity; none yet

    def count(self, check: str) -> CheckCount:
        worst = SEVERITIES[self.worst] if self.worst >= 0 else None
        return CheckCount(
            check=check, findings=self.findings, sessions=self.sessions, worst=worst, disputed=self.disputed
        )


_to_json = functools.partial(to_json, inf_nan_mode="null")  # as a model writes its floats (NaN as null)


class ReportBuilder:
    """Collects a review session by session, keeping counts and spooling rows; ``build`` makes the report.

    A session's rows are written from plain data (``add_told``): what a model of them would write
    (``model_dump_json``), byte for byte, without making one: a re-run of 50,000 kept sessions makes
    no model of any of them.
    """

    def __init__(
        self,
        check_ids: tuple[str, ...],
        *,
        rules: str | None = None,
        scorecards: Scorecards | None = None,
        verdicts: Verdicts | None = None,
        explained: list[CheckHelp] | None = None,
        reads: Reads | None = None,
    ) -> None:
        self.check_ids = check_ids
        self.reads = reads or Reads()
        self.rules = rules
        self.scorecards = scorecards or Scorecards()
        self.verdicts = verdicts or Verdicts()
        self.explained = explained or []
        self.spool = Spool()
        self.unread: list[Failure] = []
        self.reviewed = self.disputed = 0
        self._checks = {check: _CheckTally() for check in check_ids}
        self._severities: Counter[str] = Counter()
        self._breakdown = Breakdown()  # outcomes, verdicts and scores: per companion, summed for the whole
        self._days: dict[str, Counter[str]] = {}
        self._day_of: dict[date, str] = {}  # a day's key, made once per day

    @classmethod
    def of(cls, rules: RuleSet, verdicts: Verdicts | None = None, reads: Reads | None = None) -> ReportBuilder:
        """A builder for a review with ``rules``: its checks, scorecards, explanations and the verdicts given;
        spooling what ``reads`` says is read back."""
        return cls(
            rules.check_ids,
            rules=rules.source,
            scorecards=rules.scorecards,
            verdicts=verdicts,
            explained=explain(rules),
            reads=reads,
        )

    def add(
        self,
        session: SessionSummary,
        findings: list[Finding],
        *,
        shown: SessionDetail | None = None,
        outcome: SessionOutcome | None = None,
        context: list[ContextTurn] | None = None,
    ) -> None:
        """A reviewed session: its findings (marked with reviewers' verdicts here), outcome and score.

        ``shown`` (the session as shown: redacted when on) gives the turns around each finding, unless
        ``context`` gives them already.
        """
        said = (outcome.outcome, outcome.reason, outcome.evidence) if outcome else ()
        told = told_of(session, session.started or session.created, *said)
        found = [f.model_dump() for f in findings]
        self.add_told(told, found, context_of(shown, findings) if shown is not None else context)

    def add_told(self, told: dict[str, Any], findings: list[dict[str, Any]], context: Sequence[Any] | None) -> None:
        """A reviewed session as plain data: ``told_of`` it, its findings as ``Finding`` fields by name (JSON-ready),
        the turns around them (``ContextTurn`` fields, or models). Its verdicts and score are added here."""
        if self.verdicts.verdicts:
            findings = [self.verdicts.marked(f) for f in findings]
        started: datetime | None = told["started_at"]
        counted = self._count(findings, self._day(started))
        flagged_by = list(dict.fromkeys([f["check"] for f in counted]))
        for check in flagged_by:
            self._checks[check].sessions += 1
        severities = [f["severity"] for f in counted]
        companion, value = told["companion_id"], told["outcome"]
        score = None
        if self.scorecards.cards:  # no list of graded findings made for none
            score = self.scorecards.score(companion, [_Graded(f["check"], f["severity"]) for f in counted], value)
        row = {
            **told,
            "score": score.score if score else None,
            "verdict": score.verdict if score else None,
            "scorecard": score.scorecard if score else None,
            "checks": flagged_by,
            "disputed": len(findings) - len(counted),
        }
        self.reviewed += 1
        self._breakdown.add(row)
        reviewed = _to_json(row) if self.reads.rows else None
        if not findings:
            if reviewed is not None:
                self.spool.add(reviewed)
            return
        worst = max(severities or [f["severity"] for f in findings], key=SEVERITY_RANK.__getitem__)
        flagged = {
            "session_id": told["session_id"],
            "companion_id": companion,
            "started_at": started,
            "status": told["status"],
            "close_reason": told["close_reason"],
            "worst": worst,
            "findings": findings,
            "outcome": value,
            "outcome_reason": told["outcome_reason"],
            "outcome_evidence": told["outcome_evidence"],
            "score": score,
            "notes": self.verdicts.notes_of(told["session_id"]) or None,
            "context": context if self.reads.context else None,
        }
        self.spool.add(reviewed, _to_json(flagged), _rank(worst, severities, started))

    def _day(self, started: datetime | None) -> Counter[str]:
        """The counts of the UTC day a session started, with the session counted."""
        if started is None:
            key = "unknown"
        elif (key := self._day_of.get(day := started.date(), "")) == "":
            key = self._day_of[day] = started.strftime("%Y-%m-%d")
        counts = self._days.get(key)
        if counts is None:
            counts = self._days[key] = Counter()
        counts["sessions"] += 1
        return counts

    def _count(self, findings: list[dict[str, Any]], day: Counter[str]) -> list[dict[str, Any]]:
        """Per check: findings, the worst severity, disputed; per severity, per severity that ``day``; the
        findings counted (those no reviewer disputed)."""
        checks, severities, counted = self._checks, self._severities, []
        for finding in findings:
            check, severity, review = finding["check"], finding["severity"], finding["review"]
            count = checks.get(check)
            if count is None:  # a check not among the rules' (a finding kept in the store under them)
                count = checks[check] = _CheckTally()
            if review is not None and review["verdict"] == "disputed":
                count.disputed += 1
                continue
            counted.append(finding)
            count.findings += 1
            if (rank := SEVERITY_RANK[severity]) > count.worst:
                count.worst = rank
            severities[severity] += 1
            day[severity] += 1
        self.disputed += len(findings) - len(counted)
        return counted

    def add_failure(self, failure: Failure) -> None:
        self.unread.append(failure)

    def build(
        self,
        *,
        window: Window | None = None,
        scanned: int | None = None,
        limit_hit: bool = False,
        scan_complete: bool = True,
        now: datetime | None = None,
    ) -> QAReport:
        """The report: the counts, the worst ``TOP_SESSIONS`` flagged sessions, the spool for the rest."""
        total = self._breakdown.total()
        report = QAReport(
            generated_at=now or datetime.now(UTC),
            window_start=window.start if window else None,
            window_end=window.end if window else None,
            rules=self.rules,
            scanned=scanned,
            limit_hit=limit_hit,
            scan_complete=scan_complete,
            reviewed=self.reviewed,
            flagged=total.flagged,
            findings=sum(self._severities.values()),
            disputed=self.disputed,
            by_severity={severity: self._severities[severity] for severity in SEVERITIES},
            checks=[count.count(check) for check, count in self._checks.items()],
            explained=self.explained,
            outcomes={name: total.outcomes[name] for name in OUTCOMES},
            verdicts={name: total.verdicts[name] for name in VERDICTS},
            mean_score=round(total.score_sum / total.scored, 1) if total.scored else None,
            scorecards=self.scorecards.describe(),
            companions=self._breakdown.companions(),
            trend=self._breakdown.trend(self.check_ids),
            per_day=[DayCount.model_validate({"day": day, **counts}) for day, counts in sorted(self._days.items())],
            sessions=[FlaggedSession.model_validate_json(row) for row in self.spool.ranked(TOP_SESSIONS)],
            unread=self.unread,
            reviewed_ids=[],
        )
        report._spool = self.spool
        return report
