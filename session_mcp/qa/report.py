"""The aggregate of a QA review: counts per check, findings per day, flagged sessions ranked.

``ReportBuilder`` takes sessions one at a time and keeps only what the report shows (the
findings and a few fields of each flagged session), so a review of a thousand sessions holds
one transcript at a time.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.qa.breakdown import (
    CompanionRow,
    ContextTurn,
    ReviewedSession,
    Trend,
    companions,
    context_of,
    tally,
    trend,
)
from session_mcp.qa.checks import SEVERITIES, SEVERITY_RANK, Finding, Severity
from session_mcp.qa.explain import CheckHelp, explain
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.scorecard import VERDICTS, Score, Scorecards
from session_mcp.qa.verdicts import Note, Verdicts
from session_mcp.sessions.fetch import Failure
from session_mcp.sessions.outcome import OUTCOMES, OutcomeEvidence, SessionOutcome
from session_mcp.sessions.window import Window


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
    sessions: list[FlaggedSession] = Field(description="Flagged sessions, worst first (all disputed: last).")
    unread: list[Failure] = Field(description="Sessions that could not be read, and why.")

    def reaches(self, severity: Severity) -> bool:
        """Whether any counted (not disputed) finding is at least ``severity``."""
        rank = SEVERITY_RANK[severity]
        return any(SEVERITY_RANK[f.severity] >= rank and not f.disputed for s in self.sessions for f in s.findings)


class QAReport(QAView):
    """What a review found, with every session it reviewed (JUnit has a test case for each)."""

    reviewed_ids: list[str] = Field(description="Every session reviewed, in the order read.")
    reviewed_sessions: list[ReviewedSession] = Field(
        default_factory=list, description="Every session reviewed, flagged or not: outcome, score, verdict."
    )


def rank_key(session: FlaggedSession) -> tuple[int, ...]:
    """Worst severity first, then the most critical, warning and info findings, then the newest; a session
    whose findings were all disputed after every other."""
    counts = Counter(f.severity for f in session.findings if not f.disputed)
    newest = -session.started_at.timestamp() if session.started_at else 0.0
    return (
        int(not counts),
        -SEVERITY_RANK[session.worst],
        *(-counts[severity] for severity in reversed(SEVERITIES)),
        int(newest),
    )


class ReportBuilder:
    """Collects a review session by session; ``build`` makes the report."""

    def __init__(
        self,
        check_ids: tuple[str, ...],
        *,
        rules: str | None = None,
        scorecards: Scorecards | None = None,
        verdicts: Verdicts | None = None,
        explained: list[CheckHelp] | None = None,
    ) -> None:
        self.check_ids = check_ids
        self.rules = rules
        self.scorecards = scorecards or Scorecards()
        self.verdicts = verdicts or Verdicts()
        self.explained = explained or []
        self.reviewed_ids: list[str] = []
        self.reviewed: list[ReviewedSession] = []
        self.flagged: list[FlaggedSession] = []
        self.unread: list[Failure] = []
        self._days: dict[str, Counter[str]] = {}

    @classmethod
    def of(cls, rules: RuleSet, verdicts: Verdicts | None = None) -> ReportBuilder:
        """A builder for a review with ``rules``: its checks, scorecards, explanations and the verdicts given."""
        return cls(
            rules.check_ids,
            rules=rules.source,
            scorecards=rules.scorecards,
            verdicts=verdicts,
            explained=explain(rules),
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
        ``context`` gives them already (a session whose findings were kept in the store).
        """
        findings = self.verdicts.mark(findings)
        counted = [f for f in findings if not f.disputed]
        self.reviewed_ids.append(session.id)
        started = session.started or session.created
        day = self._days.setdefault(started.strftime("%Y-%m-%d") if started else "unknown", Counter())
        day["sessions"] += 1
        for finding in counted:
            day[finding.severity] += 1
        value = outcome.outcome if outcome else None
        told = {
            "outcome": value,
            "outcome_reason": outcome and outcome.reason,
            "outcome_evidence": outcome and outcome.evidence,
        }
        score = self.scorecards.score(session.companion_id, counted, value)
        self.reviewed.append(
            ReviewedSession(
                session_id=session.id,
                companion_id=session.companion_id,
                started_at=started,
                status=session.state,
                close_reason=session.close_reason,
                **told,
                score=score.score if score else None,
                verdict=score.verdict if score else None,
                scorecard=score.scorecard if score else None,
                checks=list(dict.fromkeys(f.check for f in counted)),
                disputed=len(findings) - len(counted),
            )
        )
        if findings:
            self.flagged.append(
                FlaggedSession(
                    session_id=session.id,
                    companion_id=session.companion_id,
                    started_at=started,
                    status=session.state,
                    close_reason=session.close_reason,
                    worst=max((f.severity for f in counted or findings), key=SEVERITY_RANK.__getitem__),
                    findings=findings,
                    **told,
                    score=score,
                    notes=self.verdicts.notes_of(session.id) or None,
                    context=context_of(shown, findings) if shown is not None else context,
                )
            )

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
        every = [f for s in self.flagged for f in s.findings]
        all_findings = [f for f in every if not f.disputed]
        per_check: dict[str, list[Finding]] = {check: [] for check in self.check_ids}
        for finding in every:
            per_check.setdefault(finding.check, []).append(finding)
        checks = [
            CheckCount(
                check=check,
                findings=len(counted := [f for f in found if not f.disputed]),
                sessions=len({f.session_id for f in counted}),
                worst=max((f.severity for f in counted), key=SEVERITY_RANK.__getitem__) if counted else None,
                disputed=len(found) - len(counted),
            )
            for check, found in per_check.items()
        ]
        scores = [r.score for r in self.reviewed if r.score is not None]
        severities = Counter(f.severity for f in all_findings)
        return QAReport(
            generated_at=now or datetime.now(UTC),
            window_start=window.start if window else None,
            window_end=window.end if window else None,
            rules=self.rules,
            scanned=scanned,
            limit_hit=limit_hit,
            scan_complete=scan_complete,
            reviewed=len(self.reviewed_ids),
            flagged=sum(1 for r in self.reviewed if r.checks),
            findings=len(all_findings),
            disputed=len(every) - len(all_findings),
            by_severity={severity: severities[severity] for severity in SEVERITIES},
            checks=checks,
            explained=self.explained,
            outcomes=tally((r.outcome for r in self.reviewed), OUTCOMES),
            verdicts=tally((r.verdict for r in self.reviewed), VERDICTS),
            mean_score=round(sum(scores) / len(scores), 1) if scores else None,
            scorecards=self.scorecards.describe(),
            companions=companions(self.reviewed),
            trend=trend(self.reviewed, self.check_ids),
            per_day=[DayCount.model_validate({"day": day, **counts}) for day, counts in sorted(self._days.items())],
            sessions=sorted(self.flagged, key=rank_key),
            unread=self.unread,
            reviewed_ids=self.reviewed_ids,
            reviewed_sessions=self.reviewed,
        )
