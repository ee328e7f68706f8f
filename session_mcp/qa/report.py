"""The aggregate of a QA review: counts per check, findings per day, flagged sessions ranked.

``ReportBuilder`` takes sessions one at a time and keeps only what the report shows (the
findings and a few fields of each flagged session), so a review of a thousand sessions holds
one transcript at a time.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from session_mcp.companion.models import SessionSummary
from session_mcp.qa.checks import SEVERITIES, SEVERITY_RANK, Finding, Severity
from session_mcp.sessions.fetch import Failure
from session_mcp.sessions.window import Window


class CheckCount(BaseModel):
    check: str
    findings: int
    sessions: int = Field(description="Sessions with at least one finding of this check.")
    worst: Severity | None = Field(None, description="The highest severity among its findings.")


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
    worst: Severity
    findings: list[Finding]


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
    flagged: int = Field(description="Sessions with at least one finding.")
    findings: int
    by_severity: dict[str, int]
    checks: list[CheckCount] = Field(description="Every check that ran, in a fixed order.")
    per_day: list[DayCount]
    sessions: list[FlaggedSession] = Field(description="Flagged sessions, worst first.")
    unread: list[Failure] = Field(description="Sessions that could not be read, and why.")

    def reaches(self, severity: Severity) -> bool:
        """Whether any finding is at least ``severity``."""
        return any(SEVERITY_RANK[f.severity] >= SEVERITY_RANK[severity] for s in self.sessions for f in s.findings)


class QAReport(QAView):
    """What a review found, with every session it reviewed (JUnit has a test case for each)."""

    reviewed_ids: list[str] = Field(description="Every session reviewed, in the order read.")


def rank_key(session: FlaggedSession) -> tuple[int, ...]:
    """Worst severity first, then the most critical, warning and info findings, then the newest."""
    counts = Counter(f.severity for f in session.findings)
    newest = -session.started_at.timestamp() if session.started_at else 0.0
    return (
        -SEVERITY_RANK[session.worst],
        *(-counts[severity] for severity in reversed(SEVERITIES)),
        int(newest),
    )


class ReportBuilder:
    """Collects a review session by session; ``build`` makes the report."""

    def __init__(self, check_ids: tuple[str, ...], *, rules: str | None = None) -> None:
        self.check_ids = check_ids
        self.rules = rules
        self.reviewed_ids: list[str] = []
        self.flagged: list[FlaggedSession] = []
        self.unread: list[Failure] = []
        self._days: dict[str, Counter[str]] = {}

    def add(self, session: SessionSummary, findings: list[Finding]) -> None:
        self.reviewed_ids.append(session.id)
        started = session.started or session.created
        day = self._days.setdefault(started.strftime("%Y-%m-%d") if started else "unknown", Counter())
        day["sessions"] += 1
        for finding in findings:
            day[finding.severity] += 1
        if findings:
            self.flagged.append(
                FlaggedSession(
                    session_id=session.id,
                    companion_id=session.companion_id,
                    started_at=started,
                    status=session.state,
                    close_reason=session.close_reason,
                    worst=max((f.severity for f in findings), key=SEVERITY_RANK.__getitem__),
                    findings=findings,
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
        all_findings = [f for s in self.flagged for f in s.findings]
        per_check: dict[str, list[Finding]] = {check: [] for check in self.check_ids}
        for finding in all_findings:
            per_check.setdefault(finding.check, []).append(finding)
        checks = [
            CheckCount(
                check=check,
                findings=len(found),
                sessions=len({f.session_id for f in found}),
                worst=max((f.severity for f in found), key=SEVERITY_RANK.__getitem__) if found else None,
            )
            for check, found in per_check.items()
        ]
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
            flagged=len(self.flagged),
            findings=len(all_findings),
            by_severity={severity: severities[severity] for severity in SEVERITIES},
            checks=checks,
            per_day=[DayCount.model_validate({"day": day, **counts}) for day, counts in sorted(self._days.items())],
            sessions=sorted(self.flagged, key=rank_key),
            unread=self.unread,
            reviewed_ids=self.reviewed_ids,
        )
