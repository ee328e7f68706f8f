"""A review's report keeps counts and spools its sessions: every format reads them back a session at a
time and writes what the same report with its lists in memory writes; a big review carries its worst
sessions for the page and the tool; the builder's memory does not grow with the sessions reviewed."""

from __future__ import annotations

import json
import tracemalloc
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.models import SessionDetail
from session_mcp.qa import report as report_module
from session_mcp.qa.checks import Finding, ReviewerVerdict
from session_mcp.qa.report import TOP_SESSIONS, FlaggedSession, QAReport, ReportBuilder, _rank
from session_mcp.qa.rules import RuleSet, parse_rules
from session_mcp.qa.runner import MAX_REVIEW
from session_mcp.qa.verdicts import Verdicts
from session_mcp.qa.writers import FORMATS, WRITERS, json_parts, jsonl_lines, junit_parts, render_html
from session_mcp.sessions.outcome import SessionOutcome, outcome_of
from session_mcp.simulator import Simulator
from session_mcp.store.base import Annotation
from tests.helpers import ANCHOR
from tests.unit.qa.helpers import SCORED_RULES as RULES

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


Reviewed = list[tuple[SessionDetail, list[Finding], SessionOutcome]]


def rank_key(session: FlaggedSession) -> tuple[int, ...]:
    """A flagged session's rank, read from its model: what the report ranked it by from plain data."""
    return _rank(session.worst, [f.severity for f in session.findings if not f.disputed], session.started_at)


@cache
def demo() -> tuple[RuleSet, Verdicts, Reviewed]:
    """The demo sessions checked under a scorecard, with a disputed finding and a note."""
    rules = parse_rules(RULES, "team.toml")
    sessions = [SessionDetail.model_validate(wire) for wire in Simulator(anchor=ANCHOR).sessions_of("demo")]
    reviewed = [(s, rules.review(s), outcome_of(s)) for s in sessions]
    first = next(f for _, found, _ in reviewed for f in found if f.turn_index is not None)
    notes = [
        Annotation(first.session_id, "dispute", "ana", ANCHOR, "", first.check, first.turn_index, rules.fingerprint),
        Annotation(first.session_id, "note", "bo", ANCHOR, "Call back on Monday."),
    ]
    return rules, Verdicts(notes, rules.fingerprint), reviewed


def add_demo(builder: ReportBuilder) -> None:
    for session, found, outcome in demo()[2]:
        builder.add(session, found, shown=session, outcome=outcome)


def demo_report() -> QAReport:
    rules, verdicts, _ = demo()
    builder = ReportBuilder.of(rules, verdicts)
    add_demo(builder)
    return builder.build(now=datetime.fromtimestamp(ANCHOR, UTC))


def in_memory(report: QAReport) -> QAReport:
    """The same report with every list in memory (as one read from JSON): what writers read without a spool."""
    rows = list(report.rows())
    return QAReport.model_validate(
        {
            **report.model_dump(),
            "sessions": [s.model_dump() for s in report.ranked()],
            "reviewed_ids": [session_id for session_id, _, _ in rows],
            "reviewed_sessions": [row.model_dump() for _, row, _ in rows if row is not None],
        }
    )


@pytest.fixture(scope="module")
def report() -> QAReport:
    return demo_report()


def test_the_json_report_is_the_whole_report_dumped_at_once(report: QAReport) -> None:
    whole = in_memory(report)
    assert "".join(json_parts(report)) == whole.model_dump_json(indent=2) + "\n"
    data = json.loads("".join(json_parts(report)))
    assert len(data["sessions"]) == report.listed > 0 and len(data["reviewed_sessions"]) == report.reviewed
    assert report.disputed == 1 and any(f["review"] for s in data["sessions"] for f in s["findings"])


@pytest.mark.parametrize("form", FORMATS)
def test_every_format_reads_the_spool_as_it_reads_the_lists(report: QAReport, form: str) -> None:
    assert "".join(WRITERS[form](report)) == "".join(WRITERS[form](in_memory(report)))  # type: ignore[index]


def test_the_flagged_sessions_come_worst_first_ties_in_the_order_reviewed(report: QAReport) -> None:
    ranked = list(report.ranked())
    assert [s.session_id for s in ranked] == [s.session_id for s in sorted(ranked, key=rank_key)]
    assert len(ranked) == report.listed and report.sessions == ranked  # fewer than TOP_SESSIONS: all of them


def test_junit_is_laid_out_as_element_tree_indents_it_and_its_totals_add_up(report: QAReport) -> None:
    text = "".join(junit_parts(report))
    root = ET.fromstring(text.removeprefix(XML_HEAD))
    suite = root[0]
    assert int(suite.get("tests", -1)) == len(suite.findall("testcase")) > report.reviewed
    assert int(suite.get("failures", -1)) == len(suite.findall("testcase/failure")) > 0
    assert len(suite.findall("testcase/skipped")) == 1 and suite.get("errors") == "0"
    ET.indent(root)
    assert text == XML_HEAD + ET.tostring(root, encoding="unicode") + "\n"
    empty = "".join(junit_parts(ReportBuilder(("slow_response",)).build()))
    root = ET.fromstring(empty.removeprefix(XML_HEAD))
    ET.indent(root)
    assert empty == XML_HEAD + ET.tostring(root, encoding="unicode") + "\n" and root[0].get("tests") == "0"


def test_a_big_review_carries_its_worst_sessions_and_the_page_says_how_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_module, "TOP_SESSIONS", 3)
    big = demo_report()
    assert big.sessions == list(big.ranked())[:3] and big.listed > 3
    assert f'"listed":{big.listed}' in render_html(big)
    assert len(json.loads("".join(json_parts(big)))["sessions"]) == big.listed  # the JSON report has them all


def test_the_review_tool_sees_every_flagged_session() -> None:
    assert TOP_SESSIONS >= MAX_REVIEW  # review_sessions reviews at most MAX_REVIEW: its answer misses none


def test_the_builder_holds_no_session_in_memory() -> None:
    """Four times the sessions cost the builder a few bytes each (a rank in the spool's index), not their
    findings, turns and rows (about 10 kB a session when it kept them)."""
    rules, verdicts, reviewed = demo()
    builder = ReportBuilder.of(rules, verdicts)
    tracemalloc.start()
    try:
        add_demo(builder)
        once = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            add_demo(builder)
        four = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert builder.reviewed == 4 * len(reviewed) and builder.spool.flagged > 4 * 100
    assert (four - once) / (3 * len(reviewed)) < 200, f"{(four - once) / (3 * len(reviewed)):.0f} bytes a session"


verdict = st.builds(
    ReviewerVerdict,
    verdict=st.sampled_from(["confirmed", "disputed"]),
    reviewer=st.text(max_size=8),
    at=st.datetimes(timezones=st.just(UTC)),
    comment=st.text(max_size=8),
)
finding = st.builds(
    Finding,
    session_id=st.just("s"),
    check=st.sampled_from(["slow_response", "greeting"]),
    severity=st.sampled_from(["info", "warning", "critical"]),
    turn_index=st.none() | st.integers(0, 10**6),
    offset_seconds=st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10**20).map(float),
    evidence=st.text(),
    message=st.text(max_size=40),
    review=st.none() | verdict,
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(finding, max_size=4), max_size=4))
def test_jsonl_copies_each_findings_json_as_its_model_writes_it(found: list[list[Finding]]) -> None:
    session = SessionDetail.model_validate(Simulator(anchor=ANCHOR).sessions_of("demo")[0])
    builder = ReportBuilder(("slow_response", "greeting"))
    for findings in found:
        builder.add(session, findings)
    built = builder.build()
    expected = "".join(f.model_dump_json() + "\n" for s in built.ranked() for f in s.findings)
    assert "".join(jsonl_lines(built)) == expected
