"""Scorecards: weighted criteria summing to 100, fatal criteria, marks, a card per companion; bad ones
refused naming their line; scores and verdicts on fixed sessions; disputed findings do not count."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.qa.checks import Finding
from session_mcp.qa.report import ReportBuilder
from session_mcp.qa.rules import RulesError, load_rules, parse_rules
from session_mcp.qa.verdicts import Verdicts
from session_mcp.sessions.outcome import SessionOutcome
from session_mcp.store.base import Annotation
from tests.helpers import ROOT, make_session

CARDS = """\
[[rules]]
id = "greeting"
type = "required_phrase"
phrase = "welcome"
within_agent_turns = 1

[[scorecards]]
pass = 80
coach = 60
[[scorecards.criteria]]
check = "unanswered_user"
weight = 30
[[scorecards.criteria]]
outcome = ["resolved", "escalated"]
weight = 50
[[scorecards.criteria]]
check = "greeting"
weight = 20
[[scorecards.criteria]]
check = "pii_exposed"
severity = "critical"
fatal = true

[[scorecards]]
name = "sales"
companion_ids = ["comp_sales"]
pass = 50
coach = 50
[[scorecards.criteria]]
check = "slow_response"
weight = 100
"""

GOOD = (
    ("user", "Hi, my order is late", 0.0),
    ("agent", "Welcome! It ships tomorrow.", 2.0),
    ("user", "Thanks, bye!", 5.0),
)
NO_GREETING = (
    ("user", "Hi, my order is late", 0.0),
    ("agent", "It ships tomorrow.", 2.0),
    ("user", "Thanks, bye!", 5.0),
)
UNANSWERED = (("user", "Hi", 0.0), ("agent", "Welcome! How can I help?", 2.0), ("user", "Where is my order?", 5.0))
PII = (("user", "Hi", 0.0), ("agent", "Welcome! Mail bob@example.com about it.", 2.0), ("user", "Thanks, bye", 5.0))


def score_of(turns: tuple[tuple[str, str, float], ...], outcome: str | None, companion: str = "comp_support") -> tuple:
    rules = parse_rules(CARDS, "cards.toml")
    session = make_session(*turns, companionId=companion)
    score = rules.scorecards.score(session.companion_id, rules.review(session), outcome)
    assert score is not None
    return score.score, score.verdict, score.missed


@pytest.mark.parametrize(
    ("turns", "outcome", "expected"),
    [
        (GOOD, "resolved", (100, "pass", [])),
        (GOOD, "escalated", (100, "pass", [])),
        (GOOD, "unresolved", (50, "fail", ["outcome resolved/escalated"])),
        (GOOD, None, (50, "fail", ["outcome resolved/escalated"])),  # no outcome: unknown
        (NO_GREETING, "resolved", (80, "pass", ["no greeting"])),
        (UNANSWERED, "resolved", (70, "coach", ["no unanswered_user"])),
        (PII, "resolved", (0, "fail", ["no pii_exposed (at least critical) (fatal)"])),
    ],
)
def test_scores_and_verdicts_on_fixed_sessions(turns: tuple, outcome: str | None, expected: tuple) -> None:
    assert score_of(turns, outcome) == expected


def test_a_companion_with_its_own_card_is_scored_on_it_and_others_on_the_default() -> None:
    slow = (("user", "Hi", 0.0), ("agent", "Welcome!", 9.0))
    assert score_of(slow, "resolved", "comp_sales") == (0, "fail", ["no slow_response"])
    assert score_of(GOOD, "unresolved", "comp_sales") == (100, "pass", [])
    only_sales = parse_rules(CARDS[: CARDS.index("[[scorecards]]")] + CARDS[CARDS.index("[[scorecards]]\nname") :])
    assert only_sales.scorecards.score("comp_support", [], "resolved") is None  # no default card: no score


def test_the_fingerprint_includes_the_scorecard() -> None:
    base = parse_rules(CARDS, "a.toml")
    assert parse_rules(CARDS, "elsewhere.toml").fingerprint == base.fingerprint  # the file's name is not the rules
    assert parse_rules(CARDS.replace("pass = 80", "pass = 85"), "a.toml").fingerprint != base.fingerprint
    assert parse_rules(CARDS.split("[[scorecards]]", maxsplit=1)[0], "a.toml").fingerprint != base.fingerprint


SLOW = '[[scorecards.criteria]]\ncheck = "slow_response"\nweight = 100\n'
BAD_CARDS = [
    (CARDS.replace("weight = 30", "weight = 31"), 7, "scorecard 'default': the weights of its criteria sum to 101"),
    (CARDS.replace('check = "greeting"', 'check = "greting"'), 17, "criterion 3: no such check 'greting'"),
    (CARDS.replace("coach = 60", "coach = 90"), 9, "coach mark 90 is above the pass mark 80"),
    (CARDS.replace("pass = 80", "pass = 180"), 8, "pass: must be from 0 to 100"),
    (CARDS.replace("weight = 50", "weight = -5"), 15, "criterion 2: weight: must be from 0 to 100"),
    (CARDS.replace('"escalated"]', '"solved"]'), 14, "criterion 2: outcome: each must be one of resolved"),
    (CARDS.replace("weight = 30", "weight = 30\nmood = 1"), 13, "criterion 1: unknown field 'mood'"),
    (CARDS.replace('companion_ids = ["comp_sales"]', ""), 25, "a second default scorecard"),
    (CARDS.replace('check = "slow_response"', 'check = "slow_response"\noutcome = ["resolved"]'), 29, "not both"),
    (
        "[checks.long_silence]\nenabled = false\n" + CARDS.replace('"slow_response"', '"long_silence"'),
        32,
        "check 'long_silence' is disabled",
    ),
    (CARDS + '[[scorecards]]\nname = "sales"\ncompanion_ids = ["x"]\n' + SLOW, 34, "another scorecard has this name"),
    (
        CARDS + '[[scorecards]]\nname = "b"\ncompanion_ids = ["comp_sales"]\n' + SLOW,
        34,
        "companion 'comp_sales' is already",
    ),
    # written inline: the line of the array that holds it
    (
        '[[scorecards]]\npass = 80\ncriteria = [{check = "nope", weight = 100}]\n',
        3,
        "criterion 1: no such check 'nope'",
    ),
    ('\n\nscorecards = [{criteria = [{check = "slow_response", weight = 90}]}]\n', 3, "sum to 90, not 100"),
    ("\n[scorecards]\npass = 1\n", 2, "'scorecards' must be an array of tables"),
]


@pytest.mark.parametrize(("text", "line", "expected"), BAD_CARDS)
def test_a_bad_scorecard_is_refused_naming_its_line(text: str, line: int, expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "team.toml")
    message = str(caught.value)
    assert message.startswith(f"rules file team.toml: line {line}: ") and expected in message, message
    assert "\n" not in message


_fields = st.sampled_from(["check", "outcome", "weight", "fatal", "severity", "pass", "coach", "name", "x"])
_values = st.one_of(
    st.integers(-5, 120).map(str),
    st.sampled_from(['"pii_exposed"', '"nope"', '["resolved"]', '["x"]', "true", '"critical"', '"a\\nb"', "[]", "{}"]),
)
_table = st.builds(
    lambda header, pairs: header + "\n" + "".join(f"{k} = {v}\n" for k, v in pairs),
    st.sampled_from(["[[scorecards]]", "[[scorecards.criteria]]", "[scorecards]", "[scorecards.criteria]"]),
    st.lists(st.tuples(_fields, _values), max_size=4, unique_by=lambda kv: kv[0]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=st.lists(_table, max_size=6).map("\n".join))
def test_any_scorecard_is_read_or_refused_in_one_line(document: str, tmp_path: Path) -> None:
    path = tmp_path / "cards.toml"
    path.write_text(document)
    try:
        rules = load_rules(path)
    except RulesError as exc:
        message = str(exc)
        assert message.startswith(f"rules file {path}: ") and "\n" not in message and len(message) < 1_000
        return
    for card in rules.scorecards.cards:
        assert sum(c.weight for c in card.criteria) == 100 and 0 <= card.coach_mark <= card.pass_mark <= 100


def test_a_disputed_finding_neither_counts_nor_costs_points() -> None:
    rules = parse_rules(CARDS, "cards.toml")
    session = make_session(*UNANSWERED)
    findings = rules.review(session)
    unanswered = next(f for f in findings if f.check == "unanswered_user")
    dispute = Annotation(
        session.id,
        "dispute",
        "ana",
        1.0,
        "the user said bye",
        "unanswered_user",
        unanswered.turn_index,
        rules.fingerprint,
    )
    for verdicts, flagged, score in ((None, 1, 70), (Verdicts([dispute], rules.fingerprint), 0, 100)):
        builder = ReportBuilder.of(rules, verdicts)
        builder.add(session, findings, outcome=SessionOutcome(outcome="resolved", signal="thanks", reason="Thanks."))
        report = builder.build()
        ((_, row, _),) = report.rows()  # the session's row, read back from the report's spool
        assert row is not None and (report.flagged, report.findings, row.score) == (flagged, flagged, score)
        assert report.reaches("info") is bool(flagged)
    assert report.disputed == 1 and report.sessions[0].findings[0].disputed
    other_rules = Verdicts([dispute], parse_rules(CARDS.replace("pass = 80", "pass = 81")).fingerprint)
    assert other_rules.marked(findings[0].model_dump())["review"] is None  # a verdict holds for its rules only


def test_every_rules_example_in_the_qa_page_is_a_valid_rules_file() -> None:
    page = (ROOT / "docs" / "qa.md").read_text()
    examples = [block.split("```", 1)[0] for block in page.split("```toml\n")[1:]]
    assert len(examples) >= 2
    cards = [parse_rules(example, "qa.md").scorecards for example in examples]
    assert any(len(c.cards) == 2 for c in cards)  # the scorecard example: a default and the sales card


def test_the_latest_verdict_on_a_finding_wins_and_notes_are_kept_in_order() -> None:
    rules = parse_rules(CARDS, "cards.toml")
    session = make_session(*UNANSWERED)
    finding = next(f for f in rules.review(session) if f.check == "unanswered_user")
    key = (session.id, "unanswered_user", finding.turn_index, rules.fingerprint)
    verdicts = Verdicts(
        [
            Annotation(session.id, "dispute", "ana", 1.0, "", key[1], key[2], key[3]),
            Annotation(session.id, "note", "bo", 2.0, "first"),
            Annotation(session.id, "confirm", "cy", 3.0, "on second look", key[1], key[2], key[3]),
            Annotation(session.id, "note", "bo", 4.0, "second"),
        ],
        rules.fingerprint,
    )
    marked = Finding.model_validate(verdicts.marked(finding.model_dump()))
    assert marked.review is not None and (marked.review.verdict, marked.review.reviewer) == ("confirmed", "cy")
    assert not marked.disputed and [n.text for n in verdicts.notes_of(session.id)] == ["first", "second"]
