"""The built-in QA checks: each one caught, each near miss left alone, and no session breaks them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.models import SessionDetail
from session_mcp.qa import escalation
from session_mcp.qa.checks import (
    CHECK_IDS,
    EVIDENCE_CHARS,
    CheckConfig,
    DelayOptions,
    EscalationOptions,
    FailedSessionOptions,
    Finding,
    RepetitionOptions,
    Subject,
    UnansweredOptions,
    quote,
    run_checks,
)
from session_mcp.qa.escalation import ESCALATION
from session_mcp.sessions.redact import redact_session
from tests.helpers import START, make_session


def findings(session: SessionDetail, check: str, config: CheckConfig | None = None) -> list[Finding]:
    found = run_checks(Subject.of(session), config or CheckConfig())
    return [f for f in found if f.check == check]


GOOD = (
    ("agent", "Hi, I'm Ava from support. How can I help?", 1),
    ("user", "I'd like to check my order status please.", 4),
    ("agent", "Of course, it ships tomorrow morning.", 6),
    ("user", "Great, thanks!", 9),
    ("agent", "You're welcome, goodbye.", 10),
)


def test_a_good_session_has_no_findings() -> None:
    assert run_checks(Subject.of(make_session(*GOOD))) == []


def test_every_check_id_is_a_snake_case_noun_from_the_issue() -> None:
    assert CHECK_IDS == (
        "no_user_turn",
        "unanswered_user",
        "slow_response",
        "long_silence",
        "agent_repetition",
        "user_repetition",
        "escalation_request",
        "failed_session",
        "tool_failure",
        "pii_exposed",
    )
    assert set(Finding.model_fields) == {
        "session_id",
        "check",
        "severity",
        "turn_index",
        "offset_seconds",
        "evidence",
        "message",
        "review",  # a reviewer's verdict (issue 18): null until one is given
    }


# -- no_user_turn ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "turns",
    [
        (),
        (("agent", "Hello? Is anyone there?", 1), ("agent", "I'll close the session now.", 12)),
        (("agent", "Hello?", 1), ("user", "   ", 3)),  # a blank user turn is not speech
    ],
)
def test_no_user_turn_caught(turns: tuple[tuple[str, str, float], ...]) -> None:
    [finding] = findings(make_session(*turns), "no_user_turn")
    assert finding.turn_index is None and finding.offset_seconds is None and finding.evidence == ""
    assert finding.severity == "warning"


def test_no_user_turn_counts_open_sessions() -> None:
    session = make_session(("agent", "Hi there!", 1), status="started", closedAt=None, closeReason=None)
    [finding] = findings(session, "no_user_turn")
    assert finding.message == "The user never spoke in this started session: only the agent spoke (1 turn)."


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_no_user_turn_leaves_pending_and_failed_sessions_to_other_checks(status: str) -> None:
    assert not findings(make_session(("agent", "Hi", 1), status=status), "no_user_turn")


def test_no_user_turn_near_miss_one_short_user_turn() -> None:
    assert not findings(make_session(("agent", "Hi", 1), ("user", "ok", 2), ("agent", "Bye", 3)), "no_user_turn")


# -- unanswered_user -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "last",
    [
        "Forget it. I'll dispute it with my bank.",
        "So nothing gets fixed today? Great.",
        "Thanks, but where is my refund?",
    ],
)
def test_unanswered_user_caught(last: str) -> None:
    session = make_session(("agent", "How can I help?", 1), ("user", "My refund never came.", 3), ("user", last, 9))
    [finding] = findings(session, "unanswered_user")
    assert finding.turn_index == 2 and finding.offset_seconds == 9 and finding.evidence == last


@pytest.mark.parametrize("last", ["Great, that's all I needed. Thanks!", "Perfect, merci!", "OK bye", "Danke!"])
def test_unanswered_user_near_miss_a_sign_off_needs_no_reply(last: str) -> None:
    session = make_session(("agent", "Done, it is booked.", 1), ("user", last, 3))
    assert not findings(session, "unanswered_user")
    strict = CheckConfig(unanswered_user=UnansweredOptions(ignore_sign_offs=False))
    assert findings(session, "unanswered_user", strict)


def test_unanswered_user_near_misses() -> None:
    answered = make_session(("user", "Where is my order?", 1), ("agent", "It ships today.", 2))
    assert not findings(answered, "unanswered_user")
    still_open = make_session(("user", "Where is my order?", 1), status="started", closedAt=None, closeReason=None)
    assert not findings(still_open, "unanswered_user")  # the agent may still answer
    blank_reply = make_session(("user", "Where is my order?", 1), ("agent", " ", 2))
    assert findings(blank_reply, "unanswered_user")  # an empty agent turn is no reply


# -- slow_response ---------------------------------------------------------------------------


def test_slow_response_caught_with_the_delay_and_the_reply() -> None:
    session = make_session(("agent", "Hi!", 1), ("user", "Is my order late?", 10), ("agent", "Let me check.", 16.5))
    [finding] = findings(session, "slow_response")
    assert (finding.turn_index, finding.offset_seconds, finding.evidence) == (2, 16.5, "Let me check.")
    assert "6 s after the user" in finding.message and "limit 5 s" in finding.message


def test_slow_response_near_misses() -> None:
    exactly = make_session(("user", "Hello?", 1), ("agent", "Hi!", 6))
    assert not findings(exactly, "slow_response")  # 5 s is not more than 5 s
    two_user_turns = make_session(("user", "Hello?", 1), ("user", "Are you there?", 8), ("agent", "Yes!", 10))
    assert not findings(two_user_turns, "slow_response")  # timed from the user's last turn
    agent_after_agent = make_session(("agent", "One moment.", 1), ("agent", "Found it.", 30))
    assert not findings(agent_after_agent, "slow_response")
    no_times = SessionDetail.model_validate(
        {"id": "s", "status": "closed", "conversation": {"items": [{"role": "user", "text": "a"}, {"role": "agent"}]}}
    )
    assert not findings(no_times, "slow_response")
    relaxed = CheckConfig(slow_response=DelayOptions(seconds=8))
    assert not findings(make_session(("user", "Hello?", 1), ("agent", "Hi!", 8)), "slow_response", relaxed)


# -- long_silence ----------------------------------------------------------------------------


def test_long_silence_caught_between_turns_and_before_the_first() -> None:
    session = make_session(("agent", "Hi, how can I help?", 25), ("user", "Sorry, I was away.", 47))
    found = findings(session, "long_silence")
    assert [(f.turn_index, f.offset_seconds) for f in found] == [(0, 25), (1, 47)]
    assert "from the start" in found[0].message and "22 s" in found[1].message


def test_long_silence_near_misses() -> None:
    session = make_session(("agent", "Hi!", 20), ("user", "Hello.", 40), closedAt=START + 400)
    assert not findings(session, "long_silence")  # 20 s is not more; the wait for the close does not count


# -- repetition ------------------------------------------------------------------------------

LOOP = "I'm sorry, I didn't catch that. Could you repeat your order number?"


def test_agent_repetition_caught_word_for_word_and_almost() -> None:
    session = make_session(
        ("agent", LOOP, 1),
        ("user", "It's 123456.", 3),
        ("agent", LOOP.upper().replace(",", ""), 5),  # case and punctuation do not count
        ("user", "123456!", 7),
        ("agent", LOOP.replace("Could", "Can"), 9),  # similarity 0.97
    )
    found = findings(session, "agent_repetition")
    assert [f.turn_index for f in found] == [2, 4]
    assert "word for word" in found[0].message and "similarity 0.9" in found[1].message
    assert not findings(session, "user_repetition")


def test_agent_repetition_near_misses() -> None:
    short = make_session(("agent", "Okay.", 1), ("agent", "Okay.", 2), ("agent", "Got it, thanks.", 3))
    assert not findings(short, "agent_repetition")  # under 20 characters
    different = make_session(
        ("agent", "Your order left the warehouse yesterday.", 1),
        ("agent", "Your refund left our bank yesterday afternoon.", 2),
    )
    assert not findings(different, "agent_repetition")
    assert findings(different, "agent_repetition", CheckConfig(agent_repetition=RepetitionOptions(similarity=0.5)))


def test_user_repetition_near_misses() -> None:
    short = make_session(("agent", "Anything else?", 1), ("user", "No, thanks.", 2), ("user", "No, thanks.", 3))
    assert not findings(short, "user_repetition")  # under 20 characters
    assert findings(short, "user_repetition", CheckConfig(user_repetition=RepetitionOptions(min_chars=5)))
    different = make_session(
        ("user", "I need to change my delivery address.", 1),
        ("agent", "Sure, which one?", 2),
        ("user", "I need to change my billing address now.", 3),
    )
    assert not findings(different, "user_repetition")  # similarity about 0.8
    assert findings(different, "user_repetition", CheckConfig(user_repetition=RepetitionOptions(similarity=0.5)))
    assert not findings(different, "agent_repetition")


def test_user_repetition_caught_far_apart_and_capped() -> None:
    ask = "I want to cancel my subscription today."
    turns = [("user", ask, 1 + 10 * i) for i in range(6)]
    turns.insert(1, ("agent", "Many other things could be said in between.", 3))
    found = findings(make_session(*turns), "user_repetition")
    assert len(found) == 3 and "(2 more like this in the session.)" in found[-1].message


# -- escalation_request ----------------------------------------------------------------------

ESCALATIONS = [
    "That's not acceptable. I want to talk to a human.",
    "Can I speak to a real person please?",
    "Let me talk to your manager.",
    "Transfer me to a supervisor.",
    "I'd like a human agent, not a bot.",
    "Just get me a representative!",
    "I don't think you understand. I need a human.",
    "Is there a real person I can talk to?",
    "Representative.",
    "I want to escalate this.",
    "No offense, but connect me with someone in charge.",
]
NOT_ESCALATIONS = [
    "I don't need a human, just tell me the price.",
    "No need to get a manager, it's fine.",
    "I never asked to speak to a person.",
    "Are you a human?",
    "My manager said I should call.",
    "It sounds like a person I know.",
    "I'm a real person, not a bot!",
    "I'll check with my supervisor tomorrow.",
    "Talk to you later.",
]


@pytest.mark.parametrize("text", ESCALATIONS)
def test_escalation_request_caught(text: str) -> None:
    [finding] = findings(make_session(("agent", "How can I help?", 1), ("user", text, 3)), "escalation_request")
    assert finding.turn_index == 1 and finding.evidence == text


@pytest.mark.parametrize("text", NOT_ESCALATIONS)
def test_escalation_request_near_misses(text: str) -> None:
    assert not findings(make_session(("agent", "How can I help?", 1), ("user", text, 3)), "escalation_request")


ASKING_WORDS = ["speak", "talk", "to", "with", "get", "me", "through", "want", "need", "a", "the", "real", "live"]
ASKING_WORDS += ["human", "person", "people", "manager", "supervisor", "representative", "operator", "agent", "one"]
ASKING_WORDS += [
    "someone",
    "else",
    "is",
    "there",
    "any",
    "escalate",
    "this",
    "HUMAN",
    "Manager",
    "I'd",
    "like",
    "ſomeone",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ASKING_WORDS), max_size=8).map(" ".join))
def test_the_word_gate_lets_every_request_through(text: str) -> None:
    if ESCALATION.search(text):
        assert escalation._NEEDED.search(text), text
        assert escalation.may_ask(text), text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(ASKING_WORDS), st.text(alphabet="aAeHhKkLlMmNnOoPpRrSsTtUuVvſıİK -'_", max_size=12)),
        max_size=8,
    ).map(" ".join)
)
def test_the_ascii_word_gate_is_never_narrower_than_the_pattern(text: str) -> None:
    """``may_ask`` (substrings of the lower-cased text) lets through every text ``_NEEDED`` matches."""
    if escalation._NEEDED.search(text):
        assert escalation.may_ask(text), text


@pytest.mark.parametrize(
    ("agent", "user"), [("Repeat after me: I want to talk to a manager.", "I want to talk to a manager")]
)
def test_a_user_repeating_the_agent_is_no_request(agent: str, user: str) -> None:
    assert not findings(make_session(("agent", agent, 1), ("user", user, 3)), "escalation_request")


def test_escalation_request_only_counts_the_user_and_takes_more_phrases() -> None:
    agent_says = make_session(("agent", "Would you like to talk to a human?", 1), ("user", "Yes.", 2))
    assert not findings(agent_says, "escalation_request")
    spanish = CheckConfig(escalation_request=EscalationOptions(phrases=("hablar con una persona",)))
    asks = make_session(("user", "Quiero HABLAR con  una persona.", 1))
    assert findings(asks, "escalation_request", spanish)
    assert not findings(asks, "escalation_request")
    declines = make_session(("user", "No quiero hablar con una persona.", 1))
    assert not findings(declines, "escalation_request", spanish)  # "no" negates it


# -- failed_session --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("failed", None, "The session failed."),
        ("failed", "connection_aborted", 'The session failed (close reason "connection_aborted").'),
        ("closed", "no_credits_left", 'The session ended abnormally: close reason "no_credits_left".'),
        ("closed", "unknown", 'The session ended abnormally: close reason "unknown".'),
        ("closed", "brand_new_reason", 'The session ended abnormally: close reason "brand_new_reason".'),
    ],
)
def test_failed_session_caught(status: str, reason: str | None, expected: str) -> None:
    [finding] = findings(make_session(*GOOD, status=status, closeReason=reason), "failed_session")
    assert finding.message == expected and finding.severity == "critical" and finding.turn_index is None


@pytest.mark.parametrize("reason", ["connection_closed", "idle_timeout", None])
def test_failed_session_near_misses(reason: str | None) -> None:
    assert not findings(make_session(*GOOD, closeReason=reason), "failed_session")


def test_failed_session_normal_reasons_come_from_the_rules() -> None:
    session = make_session(*GOOD, closeReason="user_hung_up")
    config = CheckConfig(failed_session=FailedSessionOptions(normal_close_reasons=("user_hung_up",)))
    assert findings(session, "failed_session") and not findings(session, "failed_session", config)


# -- tool_failure ----------------------------------------------------------------------------


def test_tool_failure_caught_with_name_code_and_message() -> None:
    metrics = [
        {"name": "check_inventory", "state": "connected", "startedAt": "2026-09-21T10:15:00Z"},
        {
            "name": "check_inventory",
            "state": "failed",
            "failedAt": "2026-09-21T10:15:07Z",
            "error": {"code": "connection_failed", "message": "WebSocket handshake timed out"},
        },
        {"name": "book_slot", "state": "canceled", "canceledAt": "2026-09-21T10:16:00Z"},
    ]
    [finding] = findings(make_session(*GOOD, functionMetrics=metrics), "tool_failure")
    assert finding.message == (
        'The tool "check_inventory" failed at 2026-09-21T10:15:07Z: "connection_failed: WebSocket handshake timed out".'
    )


def test_tool_failure_reads_the_older_name_and_survives_odd_entries() -> None:
    older = [{"id": "fn_order_status", "error": {"code": "Timeout", "message": "upstream"}}]
    [finding] = findings(make_session(*GOOD, functionStates=older), "tool_failure")
    assert "fn_order_status" in finding.message and "Timeout: upstream" in finding.message
    odd: list[Any] = ["failed", 3, None, {"state": "failed"}, {"state": "canceled", "error": {"code": "x"}}]
    [unnamed] = findings(make_session(*GOOD, functionMetrics=odd), "tool_failure")
    assert "(unnamed tool)" in unnamed.message
    assert not findings(make_session(*GOOD, functionMetrics="not a list"), "tool_failure")


# -- pii_exposed -----------------------------------------------------------------------------


def test_pii_exposed_caught_in_agent_text() -> None:
    session = make_session(
        ("user", "My email is maria.lopez@example.com.", 1),
        ("agent", "Thanks. I'll text a confirmation to +44 20 7946 0958 and mail maria.lopez@example.com.", 2),
    )
    [finding] = findings(session, "pii_exposed")
    assert finding.turn_index == 1 and "email, phone" in finding.message
    assert "+44 20 7946 0958" in finding.evidence


def test_pii_exposed_near_misses() -> None:
    session = make_session(
        ("user", "Call me on +1 415 555 0134.", 1),  # the user's own words are not the agent's
        ("agent", "Your appointment is on 2026-11-24 at 10:40, reference 1710000005, $1,000.00.", 2),
        ("agent", "The card ending in 1111 is refunded.", 3),
    )
    assert not findings(session, "pii_exposed")


def test_pii_exposed_quotes_the_redacted_text_when_redaction_is_on() -> None:
    text = "Sure! " + "Let me read your details back to you. " * 6 + "Your card is 4111 1111 1111 1111, right?"
    session = make_session(("agent", text, 1))
    [finding] = [f for f in run_checks(Subject.of(session, redact_session(session))) if f.check == "pii_exposed"]
    assert "[CARD]" in finding.evidence and "4111" not in finding.evidence
    assert len(finding.evidence) <= EVIDENCE_CHARS and finding.evidence in redact_session(session).turns[0].text


# -- evidence and robustness -----------------------------------------------------------------


@given(st.text(max_size=600), st.integers(0, 600), st.integers(0, 600))
def test_quote_is_a_verbatim_slice_around_the_span(text: str, start: int, length: int) -> None:
    start = min(start, len(text))
    end = min(len(text), start + length)
    quoted = quote(text, start, end)
    assert quoted in text and len(quoted) <= EVIDENCE_CHARS
    if end - start <= EVIDENCE_CHARS:
        assert text[start:end] in quoted


ROLES = st.sampled_from(["agent", "user", "system", ""])
TEXTS = st.one_of(
    st.text(max_size=300),
    st.sampled_from([LOOP, *ESCALATIONS[:3], *NOT_ESCALATIONS[:3], "mail me at a.b@example.com", "Thanks!"]),
)
ITEM = st.fixed_dictionaries(
    {"role": ROLES, "text": TEXTS},
    optional={"timestamp": st.one_of(st.none(), st.integers(START - 100, START + 10_000), st.floats(allow_nan=False))},
)
SESSION = st.fixed_dictionaries(
    {"id": st.just("sess_x"), "conversation": st.fixed_dictionaries({"items": st.lists(ITEM, max_size=12)})},
    optional={
        "status": st.sampled_from(["pending", "started", "closed", "failed", "weird"]),
        "closeReason": st.one_of(st.none(), st.text(max_size=20)),
        "startedAt": st.one_of(st.none(), st.just(START)),
        "createdAt": st.just(START - 5),
        "closedAt": st.one_of(st.none(), st.just(START + 20_000)),
        "functionMetrics": st.lists(
            st.one_of(
                st.none(),
                st.text(max_size=5),
                st.fixed_dictionaries(
                    {}, optional={"name": st.text(max_size=10), "state": st.text(max_size=8), "error": st.none()}
                ),
            ),
            max_size=3,
        ),
    },
)


@settings(max_examples=150, deadline=None)
@given(SESSION)
def test_no_check_raises_and_evidence_is_always_verbatim(wire: dict[str, Any]) -> None:
    session = SessionDetail.model_validate(wire)
    for shown in (session, redact_session(session)):
        for finding in run_checks(Subject.of(session, shown)):
            assert finding.check in CHECK_IDS and len(finding.evidence) <= EVIDENCE_CHARS
            if finding.turn_index is None:
                assert finding.evidence == ""
            else:
                assert finding.evidence in shown.turns[finding.turn_index].text
