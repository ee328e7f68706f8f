"""A QA report in the forms people and tools read: a text table, JSON, JSON Lines, JUnit XML, HTML.

- text: the counts per check as a table, then every flagged session worst first, one line per
  finding with its ``[mm:ss]`` quote (one line that nothing quoted can end: a transcript cannot
  forge a row or the words after its quote).
- json: the whole report.
- jsonl: one finding per line with exactly the finding's fields (a reviewer's verdict in
  ``review``); with a scorecard, then one ``{"record": "session"}`` line per reviewed session
  (outcome, score, verdict).
- junit: one test case per reviewed session and check, a ``<failure>`` per finding (a disputed one
  ``<skipped>``, its reviewer named); with a scorecard, a ``scorecard`` case per session that fails
  on the verdict ``fail``. CI dashboards show a flagged session as a failing test named after the check.
- html: the self-contained page of ``template``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, Literal

from session_mcp.qa.checks import Finding
from session_mcp.qa.report import FlaggedSession, QAReport, QAView
from session_mcp.qa.template import render_page
from session_mcp.render.common import format_offset, format_time, plural, shown_zone
from session_mcp.render.lines import one_line, quoted
from session_mcp.sessions.window import Window

Format = Literal["text", "json", "jsonl", "junit", "html"]
FORMATS: tuple[Format, ...] = ("text", "json", "jsonl", "junit", "html")

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def window_text(report: QAReport) -> str:
    """`` (window 2026-09-20T00:00:00Z to ...)`` when the review had one, in this answer's time zone."""
    window = Window(report.window_start, report.window_end, shown_zone())
    return f" (window {window.describe()})" if window.bounded else ""


def scores_lines(report: QAReport) -> list[str]:
    """Outcomes, verdicts and the mean score, the reviewers' disputes, and the companions' means."""
    lines = []
    outcomes = [f"{n} {name}" for name, n in report.outcomes.items() if n]
    if outcomes:
        lines.append("Outcomes: " + ", ".join(outcomes) + ".")
    if report.mean_score is not None:
        verdicts = ", ".join(f"{n} {name}" for name, n in report.verdicts.items())
        per_companion = " · ".join(
            f"{one_line(c.companion_id or 'other', 60)} {c.mean_score:g}"
            for c in report.companions[:10]
            if c.mean_score is not None
        )
        lines.append(f"Scorecard: mean score {report.mean_score:g}; {verdicts}. Mean per companion: {per_companion}.")
    if report.disputed:
        lines.append(f"Disputed by reviewers (not counted): {plural(report.disputed, 'finding')}.")
    return lines


def render_text(report: QAReport) -> str:
    """The terminal summary: a table of counts, then the flagged sessions and their quotes."""
    lines = [
        f"QA review of {plural(report.reviewed, 'session')}{window_text(report)}: {report.flagged} flagged, "
        f"{plural(report.findings, 'finding')} ("
        + ", ".join(f"{n} {s}" for s, n in reversed(report.by_severity.items()))
        + ")."
    ]
    if report.rules:
        lines.append(f"Rules: {report.rules}.")
    lines += scores_lines(report)
    width = max([len("check"), *(len(c.check) for c in report.checks)])
    lines += ["", f"{'check'.ljust(width)}  worst     findings  sessions", "-" * (width + 30)]
    for count in report.checks:
        worst = count.worst or "-"
        lines.append(f"{count.check.ljust(width)}  {worst.ljust(8)}  {count.findings:>8}  {count.sessions:>8}")
    if report.sessions:
        lines += ["", "Flagged sessions, worst first:"]
    for session in report.sessions:
        status = session.status + (f"/{session.close_reason}" if session.close_reason else "")
        lines.append(
            f"{session.session_id} · {session.companion_id or '-'} · {format_time(session.started_at)} · {status}"
            + scored_text(session)
        )
        for finding in session.findings:
            at = f"[{format_offset(finding.offset_seconds)}] " if finding.turn_index is not None else ""
            quote = f" {quoted(finding.evidence)}" if finding.evidence else ""
            lines.append(
                f"  {finding.severity:<8} {finding.check}: {at}{one_line(finding.message, 400)}{quote}"
                + review_text(finding)
            )
        lines += [f"  note by {one_line(n.reviewer, 80)}: {quoted(n.text, 400)}" for n in session.notes or ()]
    for failure in report.unread:
        lines.append(f"Not reviewed: {failure.session_id}: {one_line(failure.reason)}")
    return "\n".join(lines) + "\n"


def scored_text(session: FlaggedSession) -> str:
    """`` · outcome resolved · score 70 coach`` of a flagged session (empty without either)."""
    text = f" · outcome {session.outcome}" if session.outcome else ""
    if session.score is not None:
        text += f" · score {session.score.score} {session.score.verdict}"
    return text


def review_text(finding: Finding) -> str:
    """`` (disputed by ana: not counted)``, `` (confirmed by ana)``, or nothing."""
    if finding.review is None:
        return ""
    counted = ": not counted" if finding.disputed else ""
    return f" ({finding.review.verdict} by {one_line(finding.review.reviewer, 80)}{counted})"


def render_json(report: QAReport) -> str:
    return report.model_dump_json(indent=2) + "\n"


def render_jsonl(report: QAReport) -> str:
    """A line per finding (its fields, a reviewer's verdict included); with a scorecard, then a line per
    reviewed session: ``{"record": "session", ...}`` with its outcome, score and verdict."""
    findings = "".join(f.model_dump_json() + "\n" for s in report.sessions for f in s.findings)
    if not report.scorecards:
        return findings
    return findings + "".join(
        json.dumps({"record": "session", **r.model_dump(mode="json")}, ensure_ascii=False) + "\n"
        for r in report.reviewed_sessions
    )


def render_junit(report: QAReport) -> str:
    """JUnit XML: a test case per reviewed session and check, a failure per finding."""
    by_session = {s.session_id: s for s in report.sessions}
    scored = {r.session_id: r for r in report.reviewed_sessions}
    check_ids = [c.check for c in report.checks]
    suites = ET.Element("testsuites", name="session-mcp qa")
    suite = ET.SubElement(suites, "testsuite", name="session-mcp qa", timestamp=report.generated_at.isoformat())
    cases = failures = 0
    for session_id in report.reviewed_ids:
        flagged = by_session.get(session_id)
        for check in check_ids:
            case = ET.SubElement(suite, "testcase", classname=f"session.{_xml(session_id)}", name=check)
            cases += 1
            for finding in flagged.findings if flagged else ():
                if finding.check != check:
                    continue
                at = f"[{format_offset(finding.offset_seconds)}] " if finding.turn_index is not None else ""
                message = _xml(one_line(at + finding.message, 400) + review_text(finding))
                if finding.disputed:  # a reviewer said it is not a problem: skipped, not failed
                    ET.SubElement(case, "skipped", message=message)
                    continue
                failures += 1
                failure = ET.SubElement(case, "failure", type=finding.severity, message=message)
                failure.text = _xml(finding.evidence) or None
        if (row := scored.get(session_id)) is not None and row.score is not None:
            case = ET.SubElement(suite, "testcase", classname=f"session.{_xml(session_id)}", name="scorecard")
            cases += 1
            verdict = f"score {row.score}/100 on {_xml(row.scorecard or '')}: {row.verdict}"
            if row.verdict == "fail":
                failures += 1
                ET.SubElement(case, "failure", type="fail", message=verdict)
            else:
                ET.SubElement(case, "system-out").text = verdict
    for unread in report.unread:
        case = ET.SubElement(suite, "testcase", classname=f"session.{_xml(unread.session_id)}", name="read")
        ET.SubElement(case, "error", message=_xml(one_line(unread.reason)))
        cases += 1
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", str(len(report.unread)))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_html(report: QAReport) -> str:
    return render_page(
        report.model_dump(mode="json", exclude={"reviewed_ids", "reviewed_sessions"}),  # the page draws neither
        title=f"QA review: {report.flagged} of {report.reviewed} flagged",
    )


def view_data(report: QAView) -> dict[str, Any]:
    """What the view script draws, as JSON-ready values: the report without its list of every id."""
    return report.model_dump(mode="json", include=set(QAView.model_fields))


WRITERS: dict[Format, Callable[[QAReport], str]] = {
    "text": render_text,
    "json": render_json,
    "jsonl": render_jsonl,
    "junit": render_junit,
    "html": render_html,
}
