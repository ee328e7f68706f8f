"""Findings kept in the store: a compact record that reads back as the report needs it, without a copy
of the list row the store keeps beside it; a record of the first format still reads; the report
writes a kept record's plain data byte for byte as it writes the models it was made from."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.models import SessionSummary
from session_mcp.qa.breakdown import ReviewedSession
from session_mcp.qa.checks import Finding
from session_mcp.qa.context import ContextTurn, context_of
from session_mcp.qa.report import FlaggedSession, ReportBuilder
from session_mcp.qa.rules import RuleSet, parse_rules
from session_mcp.qa.stored import CHECKS_MODULES, encode, told
from session_mcp.qa.verdicts import Verdicts
from session_mcp.sessions.outcome import SessionOutcome, outcome_of
from session_mcp.store.base import Annotation, Listed
from session_mcp.store.rows import summary_json
from tests.unit.qa.kept import decode
from tests.unit.store.helpers import sessions

RULES = RuleSet()


Checked = tuple[str, str, list[Finding], SessionOutcome, list[ContextTurn]]


def checked(count: int = 60) -> list[Checked]:
    done: list[Checked] = []
    for session in sessions(count):
        findings = RULES.review(session, session)
        done.append((session.id, summary_json(session), findings, outcome_of(session), context_of(session, findings)))
    return done


def listed(row: str) -> Listed:
    """What the store reads beside a kept record of the session whose list row is ``row``."""
    return Listed.of(SessionSummary.model_validate_json(row))


def first_format(row: str, findings: list[Finding], outcome: SessionOutcome, context: list[ContextTurn]) -> str:
    """A record as the first format (``Kept`` with every field by name and a copy of the list row) wrote it."""
    return json.dumps(
        {
            "session": json.loads(row),
            "findings": [f.model_dump(mode="json") for f in findings],
            "outcome": outcome.model_dump(mode="json"),
            "context": [t.model_dump(mode="json") for t in context],
        }
    )


def test_a_kept_record_reads_back_as_it_was_checked() -> None:
    done = checked()
    assert sum(len(findings) for _, _, findings, _, _ in done) > 60  # the sessions have findings to keep
    for session_id, row, findings, outcome, context in done:
        for context_kept in (context, None):
            kept = decode(session_id, encode(findings, outcome, context_kept), row)
            assert kept.summary().id == session_id and kept.row == row
            if context_kept is not None:
                assert (kept.findings, kept.outcome, kept.context) == (findings, outcome, context)
            else:
                assert (kept.outcome, kept.context) == (outcome, None)
                assert [f.model_dump() for f in kept.findings] == [f.model_dump() for f in findings]


def test_a_record_of_the_first_format_still_reads() -> None:
    for session_id, row, findings, outcome, context in checked(20):
        kept = decode(session_id, first_format(row, findings, outcome, context), row)
        assert (kept.findings, kept.outcome, kept.context) == (findings, outcome, context)
        assert kept.summary().id == session_id


def test_a_kept_record_is_far_smaller_than_the_first_format() -> None:
    done = checked()
    new = sum(len(zlib.compress(encode(f, o, c).encode())) for _, _, f, o, c in done)
    old = sum(len(zlib.compress(first_format(r, f, o, c).encode())) for _, r, f, o, c in done)
    assert new < old * 0.6, (new, old)  # and it seldom needs an overflow page in SQLite (a row over ~1 KB)


SCORED = parse_rules(
    """\
[[scorecards]]
[[scorecards.criteria]]
check = "slow_response"
weight = 40
[[scorecards.criteria]]
outcome = ["resolved", "escalated"]
weight = 60
"""
)


def rows_written(builder: ReportBuilder) -> list[tuple[bytes, bytes | None]]:
    """The builder's rows, each checked to be what its model writes (``model_dump_json``) of it."""
    rows = list(builder.spool.rows())
    for reviewed, flagged in rows:
        assert ReviewedSession.model_validate_json(reviewed).model_dump_json().encode() == reviewed
        assert flagged is None or FlaggedSession.model_validate_json(flagged).model_dump_json().encode() == flagged
    return rows


def test_a_kept_record_is_reported_as_its_models_are_byte_for_byte() -> None:
    """``told`` hands the builder plain data, and the builder writes it as it writes the models: the same
    rows, counts and ranks, under verdicts (a disputed finding, a note) and a scorecard, in both formats."""
    done = checked()
    first = next(f for _, _, found, _, _ in done for f in found if f.turn_index is not None)
    notes = [
        Annotation(first.session_id, "dispute", "ana", 1, "", first.check, first.turn_index, SCORED.fingerprint),
        Annotation(first.session_id, "note", "bo", 2, "Call back."),
    ]
    for rules, verdicts in ((RULES, Verdicts()), (SCORED, Verdicts(notes, SCORED.fingerprint))):
        models, plain, old = (ReportBuilder.of(rules, verdicts) for _ in range(3))
        for session_id, row, findings, outcome, context in done:
            models.add(SessionSummary.model_validate_json(row), findings, outcome=outcome, context=context)
            plain.add_told(*told(session_id, encode(findings, outcome, context), listed(row)))
            old.add_told(*told(session_id, first_format(row, findings, outcome, context), listed(row)))
        now = datetime.fromtimestamp(1_790_000_000, UTC)
        expected = models.build(now=now)
        assert expected.disputed == (rules is SCORED) and (expected.mean_score is None) == (rules is RULES)
        for built in (plain, old):
            assert rows_written(built) == rows_written(models)
            assert list(built.spool.ranked()) == list(models.spool.ranked())
            assert built.build(now=now).model_dump() == expected.model_dump()


list_row = st.fixed_dictionaries(
    {"id": st.text(max_size=6)},
    optional={
        "companionId": st.none() | st.text(max_size=6),
        "createdAt": st.none() | st.integers(0, 5_000_000_000) | st.floats(allow_nan=True),
        "startedAt": st.none() | st.integers(0, 5_000_000_000) | st.floats(allow_nan=True),
        "closedAt": st.none() | st.integers(0, 5_000_000_000),
        "status": st.none() | st.sampled_from(["", "closed", "started", "failed"]) | st.text(max_size=6),
        "closeReason": st.none() | st.text(max_size=6),
        "tags": st.none() | st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    },
)
finding = st.builds(
    Finding,
    session_id=st.just("s"),
    check=st.sampled_from(["slow_response", "greeting"]),
    severity=st.sampled_from(["info", "warning", "critical"]),
    turn_index=st.none() | st.integers(0, 4),
    offset_seconds=st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10**20).map(float),
    evidence=st.text(max_size=20),
    message=st.text(max_size=20),
)
turn = st.builds(
    ContextTurn,
    turn_index=st.integers(0, 4),
    role=st.sampled_from(["agent", "user", "x\u2028"]),
    offset_seconds=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    text=st.text(max_size=20),
)


@settings(max_examples=80, deadline=None)
@given(
    list_row, st.lists(finding, max_size=4), st.none() | st.lists(turn, max_size=3, unique_by=lambda t: t.turn_index)
)
def test_any_kept_record_is_reported_as_its_models_are(
    wire: dict[str, object], findings: list[Finding], context: list[ContextTurn] | None
) -> None:
    row = json.dumps(wire, ensure_ascii=False)
    outcome = SessionOutcome(outcome="resolved", signal="thanks", reason="r", evidence=None)
    models, plain = ReportBuilder(("slow_response",)), ReportBuilder(("slow_response",))
    models.add(SessionSummary.model_validate_json(row), findings, outcome=outcome, context=context)
    plain.add_told(*told("s", encode(findings, outcome, context), listed(row)))
    assert rows_written(plain) == rows_written(models) and plain.build().checks == models.build().checks


def test_the_checks_fingerprint_covers_the_code_of_what_a_kept_record_holds_and_not_the_report_s() -> None:
    for kept in (Finding, SessionOutcome, ContextTurn):  # what ``encode`` writes
        assert kept.__module__ in CHECKS_MODULES
    assert "session_mcp.qa.breakdown" not in CHECKS_MODULES  # the report's tallies: changing them keeps what was kept
