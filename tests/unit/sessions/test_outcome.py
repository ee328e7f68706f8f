"""A session's outcome from its ending: each rule decides, near misses do not, nothing breaks it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.models import SessionDetail
from session_mcp.sessions import outcome
from session_mcp.sessions.outcome import OUTCOMES, QUOTE_CHARS, SIGNALS, outcome_of
from tests.helpers import make_session

HELLO = ("agent", "Hi, this is Ava from support. How can I help?", 1)


@pytest.mark.parametrize(
    ("turns", "outcome", "signal", "quoted_turn"),
    [
        (
            [HELLO, ("user", "where's my order", 3), ("agent", "It ships tomorrow.", 5), ("user", "great thanks", 8)],
            "resolved",
            "thanks",
            3,
        ),
        (
            [HELLO, ("user", "Thursday works.", 3), ("agent", "Moved to Thursday at 15:00.", 5)],
            "resolved",
            "agent_done",
            2,
        ),
        (
            [
                HELLO,
                ("user", "I want a person", 3),
                ("agent", "Sure, I'm transferring you now.", 5),
                ("user", "thanks", 8),
            ],
            "escalated",
            "hand_off",
            2,
        ),
        (
            [HELLO, ("user", "¿Me llamas?", 3), ("agent", "¡Claro! Un compañero te llamará mañana.", 5)],
            "escalated",
            "hand_off",
            2,
        ),
        (
            [
                HELLO,
                ("user", "human please", 3),
                ("agent", "I'm sorry, I can't transfer calls right now.", 5),
                ("user", "Forget it.", 8),
            ],
            "unresolved",
            "complaint",
            3,
        ),
        (
            [
                HELLO,
                ("user", "what's the number", 3),
                ("agent", "I'm afraid I don't have that number.", 5),
                ("user", "ok thanks anyway", 8),
            ],
            "unresolved",
            "complaint",
            3,
        ),
        (
            [
                HELLO,
                ("user", "what's the number", 3),
                ("agent", "I'm afraid I don't have that number.", 5),
                ("user", "ok thank you", 8),
            ],
            "unresolved",
            "thanks_anyway",
            2,
        ),
        ([HELLO, ("user", "das hilft mir nicht", 3)], "unresolved", "complaint", 1),
        (
            [
                HELLO,
                ("user", "how much is it", 3),
                ("agent", "Would you like me to set it up?", 5),
                ("user", "Maybe later.", 8),
            ],
            "unresolved",
            "deferral",
            3,
        ),
        ([HELLO, ("user", "I was charged twice, can you check", 3)], "abandoned", "hang_up", 1),
        (
            [HELLO, ("user", "change my address", 3), ("agent", "Sure. What's the new address?", 5)],
            "abandoned",
            "question_unanswered",
            2,
        ),
    ],
)
def test_the_ending_decides(turns: list[tuple[str, str, float]], outcome: str, signal: str, quoted_turn: int) -> None:
    found = outcome_of(make_session(*turns))
    assert (found.outcome, found.signal) == (outcome, signal)
    assert found.evidence is not None and found.evidence.turn_index == quoted_turn
    assert found.evidence.quote in turns[quoted_turn][1]


def test_a_request_left_open_long_before_the_close_is_unresolved_not_abandoned() -> None:
    session = make_session(HELLO, ("user", "Can you check my refund?", 3), closedAt=1_790_000_000 + 60)
    assert outcome_of(session).signal == "request_left_open"
    assert outcome_of(session).outcome == "unresolved"


def test_a_broken_session_is_unresolved_unless_the_user_was_already_satisfied() -> None:
    broken = [HELLO, ("user", "I need to cancel my booking", 3)]
    assert outcome_of(make_session(*broken, closeReason="connection_aborted")).signal == "session_broke"
    satisfied = [*broken, ("agent", "Cancelled.", 5), ("user", "perfect, thanks", 7)]
    assert outcome_of(make_session(*satisfied, status="failed")).outcome == "resolved"


def test_no_user_turn_and_open_sessions_are_unknown_without_evidence() -> None:
    silent = outcome_of(make_session(HELLO))
    live = outcome_of(make_session(HELLO, ("user", "thanks", 3), status="started", closedAt=None))
    assert (silent.outcome, silent.signal, silent.evidence) == ("unknown", "no_user_turn", None)
    assert (live.outcome, live.signal, live.evidence) == ("unknown", "not_over", None)


def test_a_long_turn_is_quoted_around_the_signal() -> None:
    long_text = "Let me explain everything from the start. " * 20 + "Anyway, forget it."
    found = outcome_of(make_session(HELLO, ("user", long_text, 3)))
    assert found.evidence is not None and len(found.evidence.quote) <= QUOTE_CHARS
    assert "forget it" in found.evidence.quote


_TEXT = st.text(alphabet=st.sampled_from(list("abc ?¿!.,'’ thanksforgetdonecan\n")), max_size=60) | st.sampled_from(
    ["thanks", "forget it", "I can't transfer you", "Done.", "Maybe later.", "?", "", "  "]
)


@settings(max_examples=200, deadline=None)
@given(
    turns=st.lists(st.tuples(st.sampled_from(["agent", "user", "system", ""]), _TEXT), max_size=12),
    status=st.sampled_from(["closed", "failed", "started", "pending", None]),
    reason=st.sampled_from(["connection_closed", "idle_timeout", "connection_aborted", "weird", None]),
)
def test_any_session_gets_one_outcome_and_never_breaks(
    turns: list[tuple[str, str]], status: str | None, reason: str | None
) -> None:
    items = [{"role": role, "text": text, "timestamp": 1_790_000_000 + i} for i, (role, text) in enumerate(turns)]
    session = SessionDetail.model_validate(
        {"id": "s", "status": status, "closeReason": reason, "conversation": {"items": items}}
    )
    found = outcome_of(session)
    assert found.outcome in OUTCOMES and found.signal in SIGNALS
    if found.evidence is not None:
        turn = session.turns[found.evidence.turn_index]
        assert found.evidence.role == turn.role and found.evidence.quote in turn.text


@pytest.mark.parametrize(
    ("turns", "outcome", "signal"),
    [
        (
            [
                HELLO,
                ("user", "is it open sunday", 3),
                ("agent", "Yes, 10 to 16.", 5),
                ("user", "thanks. and holidays?", 8),
            ],
            "abandoned",
            "hang_up",
        ),
        (
            [
                HELLO,
                ("user", "my card got declined", 3),
                ("agent", "What are the last four digits?", 5),
                ("user", "um one sec", 8),
            ],
            "abandoned",
            "hang_up",
        ),
        (
            [
                HELLO,
                ("user", "my code isnt working", 3),
                ("agent", "I've applied the discount manually.", 5),
                ("user", "no i dont want a person its fine now, thanks", 8),
            ],
            "resolved",
            "thanks",
        ),
        (
            [HELLO, ("user", "the past tense of gehen?", 3), ("agent", "Ich ging.", 5), ("user", "ok cool bye", 8)],
            "resolved",
            "thanks",
        ),
        (
            [
                HELLO,
                ("user", "can I have the Business plan", 3),
                ("agent", "Shall I tell you more?", 5),
                ("user", "no thanks not interested", 8),
            ],
            "unresolved",
            "deferral",
        ),
        (
            [
                HELLO,
                ("user", "any refund", 3),
                ("agent", "Unfortunately downloads can't be refunded.", 5),
                ("agent", "Is there anything else I can do for you?", 7),
                ("user", "no", 40),
            ],
            "unresolved",
            "agent_cannot",
        ),
        (
            [
                HELLO,
                ("user", "saturday?", 3),
                ("agent", "Sorry, I couldn't load the calendar. Please call back later.", 5),
                ("user", "wow. ok", 8),
            ],
            "unresolved",
            "agent_cannot",
        ),
    ],
)
def test_the_ending_decides_past_the_first_look(turns: list[tuple[str, str, float]], outcome: str, signal: str) -> None:
    found = outcome_of(make_session(*turns))
    assert (found.outcome, found.signal) == (outcome, signal), found


@pytest.mark.parametrize(
    ("last_user", "outcome"),
    [
        ("you're not listening to me", "unresolved"),
        ("that doesnt make any sense", "unresolved"),
        ("ich bin echt enttäuscht", "unresolved"),
        ("no me entiendes", "unresolved"),
        ("that answers my question, cheers", "resolved"),
        ("you've been really helpful", "resolved"),
        ("ah ok, das hilft", "resolved"),
        ("te lo agradezco", "resolved"),
    ],
)
def test_more_ways_to_say_it(last_user: str, outcome: str) -> None:
    turns = [HELLO, ("user", "where is my parcel", 3), ("agent", "It arrives on Friday.", 5), ("user", last_user, 8)]
    assert outcome_of(make_session(*turns)).outcome == outcome


@pytest.mark.parametrize(
    "hand_off",
    [
        "Please hold while I transfer you.",
        "I'll have someone from billing call you today.",
        "Let me get my supervisor.",
    ],
)
def test_more_hand_offs(hand_off: str) -> None:
    turns = [HELLO, ("user", "i was double charged", 3), ("agent", hand_off, 5)]
    assert outcome_of(make_session(*turns)).outcome == "escalated"


# -- the case-sensitive search over lower-cased ASCII text -----------------------------------------
SEARCHED = (
    outcome._HAND_OFF,
    outcome._COMPLAINT,
    outcome._THANKS,
    outcome._DEFERRAL,
    outcome._AGENT_DONE,
    outcome._AGENT_CANNOT,
    outcome.CLOSING,
)
PHRASE_WORDS = [
    "I'll",
    "ILL",
    "transfer",
    "TRANSFERRING",
    "you",
    "a",
    "Colleague",
    "will",
    "call",
    "Thanks",
    "for",
    "nothing",
    "Not",
    "helpful",
    "maybe",
    "LATER",
    "we've",
    "Booked",
    "unfortunately",
    "cannot",
    "bye",
    "OK",
    "still",
    "Doesn't",
    "work",
    "gracias",
    "Danke",
    "ſ",
    "K",
]


def test_every_phrase_list_is_searched_case_sensitively_over_ascii_text() -> None:
    assert all(outcome._case_sensitive(pattern) is not None for pattern in SEARCHED)
    assert outcome._case_sensitive(re.compile("ſ", re.I)) is None  # the long s matches an ASCII s
    assert outcome._case_sensitive(re.compile("A", re.I)) is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SEARCHED),
    st.lists(
        st.one_of(st.sampled_from(PHRASE_WORDS), st.text(alphabet=st.characters(max_codepoint=127), max_size=6)),
        max_size=10,
    ).map(" ".join),
)
def test_the_fast_search_finds_the_spans_of_the_case_insensitive_one(pattern: re.Pattern[str], text: str) -> None:
    spans = [m.span() for m in outcome._finditer(pattern, text)]
    assert spans == [m.span() for m in pattern.finditer(text)]
