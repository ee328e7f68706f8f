"""Findings kept in the store: a compact record that reads back as the report needs it, without a copy
of the list row the store keeps beside it; a record of the first format still reads."""

from __future__ import annotations

import json
import zlib

from session_mcp.qa.breakdown import ContextTurn, context_of
from session_mcp.qa.checks import Finding
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.stored import decode, encode
from session_mcp.sessions.outcome import SessionOutcome, outcome_of
from session_mcp.store.rows import summary_json
from tests.unit.store.helpers import sessions

RULES = RuleSet()


Checked = tuple[str, str, list[Finding], SessionOutcome, list[ContextTurn]]


def checked(count: int = 60) -> list[Checked]:
    done: list[Checked] = []
    for session in sessions(count):
        findings = RULES.review(session, session)
        done.append((session.id, summary_json(session), findings, outcome_of(session), context_of(session, findings)))
    return done


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
