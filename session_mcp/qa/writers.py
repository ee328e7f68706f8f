"""A QA report in the forms people and tools read: a text table, JSON, JSON Lines, JUnit XML, HTML.

Each writer yields its output in parts, a session at a time, as it reads the report's sessions
back from its spool (``QAReport.ranked``, ``QAReport.rows``): a report of 50,000 sessions is
written with one session in memory.

- text: the counts per check as a table, then every flagged session worst first, one line per
  finding with its ``[mm:ss]`` quote (one line that nothing quoted can end: a transcript cannot
  forge a row or the words after its quote).
- json: the whole report.
- jsonl: one finding per line with exactly the finding's fields (a reviewer's verdict in
  ``review``), the flagged sessions worst first; with a scorecard, then one
  ``{"record": "session"}`` line per reviewed session (outcome, score, verdict).
- junit: one test case per reviewed session and check, a ``<failure>`` per finding (a disputed one
  ``<skipped>``, its reviewer named); with a scorecard, a ``scorecard`` case per session that fails
  on the verdict ``fail``. CI dashboards show a flagged session as a failing test named after the check.
- html: the self-contained page of ``template``, with the worst ``TOP_SESSIONS`` flagged sessions.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

from pydantic import TypeAdapter

from session_mcp.qa.breakdown import ReviewedSession
from session_mcp.qa.checks import Finding
from session_mcp.qa.report import FlaggedSession, QAReport, QAView, Reads
from session_mcp.qa.template import render_page
from session_mcp.render.common import format_offset, format_time, plural, shown_zone
from session_mcp.render.lines import one_line, quoted
from session_mcp.sessions.window import Window

Format = Literal["text", "json", "jsonl", "junit", "html"]
FORMATS: tuple[Format, ...] = ("text", "json", "jsonl", "junit", "html")

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_TEXT = TypeAdapter(str)


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
    return "".join(text_lines(report))


def text_lines(report: QAReport) -> Iterator[str]:
    """``render_text`` in parts: the counts, then a flagged session at a time, each line ending in a newline."""
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
    if report.listed:
        lines += ["", "Flagged sessions, worst first:"]
    yield "".join(line + "\n" for line in lines)
    for session in report.ranked():
        yield "".join(line + "\n" for line in session_lines(session))
    for failure in report.unread:
        yield f"Not reviewed: {failure.session_id}: {one_line(failure.reason)}\n"


def session_lines(session: FlaggedSession) -> list[str]:
    """A flagged session in the text report: its header, a line per finding, its notes."""
    status = session.status + (f"/{session.close_reason}" if session.close_reason else "")
    lines = [
        f"{session.session_id} · {session.companion_id or '-'} · {format_time(session.started_at)} · {status}"
        + scored_text(session)
    ]
    for finding in session.findings:
        at = f"[{format_offset(finding.offset_seconds)}] " if finding.turn_index is not None else ""
        quote = f" {quoted(finding.evidence)}" if finding.evidence else ""
        lines.append(
            f"  {finding.severity:<8} {finding.check}: {at}{one_line(finding.message, 400)}{quote}"
            + review_text(finding)
        )
    return lines + [f"  note by {one_line(n.reviewer, 80)}: {quoted(n.text, 400)}" for n in session.notes or ()]


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


def json_parts(report: QAReport) -> Iterator[str]:
    """The whole report as indented JSON (``model_dump_json(indent=2)``), its three lists a session at a time."""
    empty = report.model_copy(update={"sessions": [], "reviewed_ids": [], "reviewed_sessions": []})
    rest = empty.model_dump_json(indent=2)
    lists: list[tuple[str, Iterable[str]]] = [
        ("sessions", (s.model_dump_json(indent=2) for s in report.ranked())),
        ("reviewed_ids", (_TEXT.dump_json(i).decode() for i, _, _ in report.rows(flagged=False))),
        ("reviewed_sessions", (r.model_dump_json(indent=2) for _, r, _ in report.rows(flagged=False) if r)),
    ]
    for name, items in lists:
        before, rest = rest.split(f'\n  "{name}": []', 1)  # a top-level key: nothing nested is indented by two
        yield before + f'\n  "{name}": '
        yield from _json_list(items)
    yield rest + "\n"


def _json_list(items: Iterable[str]) -> Iterator[str]:
    """A list of indented JSON values as the value of a top-level key of an indented object."""
    opening = "[\n    "
    for item in items:
        yield opening + item.replace("\n", "\n    ")  # JSON text has no newline but its indentation
        opening = ",\n    "
    yield "[]" if opening == "[\n    " else "\n  ]"


def jsonl_lines(report: QAReport) -> Iterator[str]:
    """A line per finding (its fields, a reviewer's verdict included), the flagged sessions worst first; with a
    scorecard, then a line per reviewed session: ``{"record": "session", ...}`` with its outcome, score and verdict."""
    for session in report.ranked_json():  # each finding's JSON as its model writes it, without parsing it
        yield finding_lines(session).decode()
    if report.scorecards:
        for _, row, _ in report.rows(flagged=False):
            if row is not None:
                yield json.dumps({"record": "session", **row.model_dump(mode="json")}, ensure_ascii=False) + "\n"


_FINDINGS, _AFTER_FINDINGS, _NEXT_FINDING = b'"findings":[', b'],"outcome":', b'},{"session_id":'


def finding_lines(session: bytes) -> bytes:
    """The findings of a flagged session's JSON (``FlaggedSession`` fields in order), a line each, copied
    as written: parsing each row (its context the most of it) only to write its findings again cost an
    eighth of a re-run. A quote inside a JSON string is escaped, so these three markers, each holding
    one, can only be the row's own: the list after ``"findings"``, which ``"outcome"`` follows (no key
    of a finding or its review is that), its items each an object that starts with ``"session_id"``."""
    start = session.index(_FINDINGS) + len(_FINDINGS)
    items = session[start : session.index(_AFTER_FINDINGS, start)]
    return items.replace(_NEXT_FINDING, b'}\n{"session_id":') + b"\n" if items else b""


def junit_parts(report: QAReport) -> Iterator[str]:
    """JUnit XML: a test case per reviewed session and check, a failure per finding (as ``ET.indent`` lays it
    out), written a session at a time: the suite's totals come from the report's counts."""
    check_ids = [c.check for c in report.checks]
    scored = sum(report.verdicts.values())  # every scored session has a verdict
    cases = report.reviewed * len(check_ids) + scored + len(report.unread)
    suite = ET.Element("testsuite", name="session-mcp qa", timestamp=report.generated_at.isoformat())
    suite.set("tests", str(cases))
    suite.set("failures", str(report.findings + report.verdicts.get("fail", 0)))
    suite.set("errors", str(len(report.unread)))
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="session-mcp qa">\n  '
    if not cases:
        yield ET.tostring(suite, encoding="unicode") + "\n</testsuites>\n"
        return
    suite.text = "-"
    yield ET.tostring(suite, encoding="unicode").removesuffix("-</testsuite>")
    for session_id, row, flagged in report.rows():
        yield from _cases(_session_cases(session_id, row, flagged, check_ids))
    for unread in report.unread:
        case = ET.Element("testcase", classname=f"session.{_xml(unread.session_id)}", name="read")
        ET.SubElement(case, "error", message=_xml(one_line(unread.reason)))
        yield from _cases([case])
    yield "\n  </testsuite>\n</testsuites>\n"


def _cases(cases: list[ET.Element]) -> Iterator[str]:
    for case in cases:
        ET.indent(case, level=2)
        yield "\n    " + ET.tostring(case, encoding="unicode")


def _session_cases(
    session_id: str, row: ReviewedSession | None, flagged: FlaggedSession | None, check_ids: list[str]
) -> list[ET.Element]:
    """A reviewed session's test cases: one per check, a scorecard case when it was scored."""
    cases = []
    for check in check_ids:
        case = ET.Element("testcase", classname=f"session.{_xml(session_id)}", name=check)
        cases.append(case)
        for finding in flagged.findings if flagged else ():
            if finding.check != check:
                continue
            at = f"[{format_offset(finding.offset_seconds)}] " if finding.turn_index is not None else ""
            message = _xml(one_line(at + finding.message, 400) + review_text(finding))
            if finding.disputed:  # a reviewer said it is not a problem: skipped, not failed
                ET.SubElement(case, "skipped", message=message)
                continue
            failure = ET.SubElement(case, "failure", type=finding.severity, message=message)
            failure.text = _xml(finding.evidence) or None
    if row is not None and row.score is not None:
        case = ET.Element("testcase", classname=f"session.{_xml(session_id)}", name="scorecard")
        cases.append(case)
        verdict = f"score {row.score}/100 on {_xml(row.scorecard or '')}: {row.verdict}"
        if row.verdict == "fail":
            ET.SubElement(case, "failure", type="fail", message=verdict)
        else:
            ET.SubElement(case, "system-out").text = verdict
    return cases


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render_html(report: QAReport) -> str:
    data = report.model_dump(mode="json", exclude={"reviewed_ids", "reviewed_sessions"})  # the page draws neither
    if report.listed > len(report.sessions):
        data["listed"] = report.listed  # the page says it shows the worst of them
    return render_page(data, title=f"QA review: {report.flagged} of {report.reviewed} flagged")


def view_data(report: QAView) -> dict[str, Any]:
    """What the view script draws, as JSON-ready values: the report without its list of every id."""
    return report.model_dump(mode="json", include=set(QAView.model_fields))


def reads(format: Format, *, scored: bool) -> Reads:
    """What a format's writer reads back of each session (``scored``: the rules have a scorecard). The
    turns around findings: JSON's whole report and the HTML page; every reviewed row: JSON, JUnit (a case
    per session) and, with a scorecard, JSON Lines (a line per session)."""
    return Reads(rows=format in ("json", "junit") or (format == "jsonl" and scored), context=format in ("json", "html"))


WRITERS: dict[Format, Callable[[QAReport], Iterable[str]]] = {
    "text": text_lines,
    "json": json_parts,
    "jsonl": jsonl_lines,
    "junit": junit_parts,
    "html": lambda report: (render_html(report),),
}
