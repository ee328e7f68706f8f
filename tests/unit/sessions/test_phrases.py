"""The phrases the outcome and the QA checks share: closings that need no reply, and negations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_mcp.qa.checks import CheckConfig, Subject, run_checks
from session_mcp.sessions.phrases import last_sentence, needs_no_reply, negated
from tests.helpers import make_session

CLOSINGS = [
    "Maybe later.",
    "ok thanks bye",
    "no that's all",
    "nope",
    "wow. ok",
    "Seriously? OK, bye.",
    "Danke! That helps a lot.",
    "no thanks not interested",
    "um one sec",
    "vale, gracias, hasta luego",
    "passt, danke, tschüss",
]
OWED_A_REPLY = [
    "So nothing gets fixed today? Great.",
    "thanks. and on holidays?",
    "Thanks, but where is my refund?",
    "wait thats not my email",
    "Forget it. I'll dispute it with my bank.",
    "¿me puedes decir dónde está mi pedido",
]


@pytest.mark.parametrize("text", CLOSINGS)
def test_closings_need_no_reply_and_are_not_flagged(text: str) -> None:
    assert needs_no_reply(text)
    session = make_session(("agent", "Anything else I can help with?", 1), ("user", text, 3))
    assert not [f for f in run_checks(Subject.of(session)) if f.check == "unanswered_user"]


@pytest.mark.parametrize("text", OWED_A_REPLY)
def test_questions_and_objections_are_owed_a_reply(text: str) -> None:
    assert not needs_no_reply(text)
    session = make_session(("agent", "Anything else I can help with?", 1), ("user", text, 3))
    assert [f.turn_index for f in run_checks(Subject.of(session)) if f.check == "unanswered_user"] == [1]


def test_a_hang_up_right_after_the_user_is_not_the_agents_silence() -> None:
    turns = (("agent", "How can I help?", 1), ("user", "where is my order?", 3))
    hung_up = make_session(*turns, closedAt=1_790_000_000 + 5)  # 2 s later: no time to answer
    waited = make_session(*turns, closedAt=1_790_000_000 + 7)
    assert not [f for f in run_checks(Subject.of(hung_up)) if f.check == "unanswered_user"]
    assert [f.check for f in run_checks(Subject.of(waited)) if f.check == "unanswered_user"] == ["unanswered_user"]


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("I don't need a human, just tell me the price.", False),
        ("no need to transfer me, just tell me when the refund lands", False),
        ("no i dont want a person its fine now", False),
        ("i never asked for a manager i just want my password reset", False),
        ("how do i say i want to talk to the manager in german", False),
        ("thats not acceptable i want to talk to a human", True),
        ("it doesnt work, get me a supervisor", True),
        ("no. i want a real person", True),
    ],
)
def test_negations_and_mentions_without_punctuation(text: str, asks: bool) -> None:
    session = make_session(("agent", "How can I help?", 1), ("user", text, 3))
    found = [f for f in run_checks(Subject.of(session), CheckConfig()) if f.check == "escalation_request"]
    assert bool(found) is asks


def test_a_drill_line_repeated_is_not_a_request() -> None:
    session = make_session(
        ("agent", "Repeat after me: I'd like to speak to the manager, please.", 1),
        ("user", "id like to speak to the manager please", 3),
    )
    assert not [f for f in run_checks(Subject.of(session)) if f.check == "escalation_request"]


@given(st.text(max_size=300), st.integers(0, 300))
def test_the_phrase_helpers_take_any_text(text: str, start: int) -> None:
    assert isinstance(needs_no_reply(text), bool)
    assert isinstance(negated(text, min(start, len(text))), bool)
    assert last_sentence(text) in text or not text.strip()
