"""pii_exposed tells a read-back (info) from a disclosure (critical); phones compared by libphonenumber."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.qa import disclosure
from session_mcp.qa.checks import CheckConfig, Finding, PiiOptions, Subject, run_checks
from session_mcp.qa.disclosure import personal_data, split_read_backs
from session_mcp.sessions.redact import redact_session
from tests.helpers import make_session


def pii(*turns: tuple[str, str, float], config: CheckConfig | None = None) -> list[Finding]:
    found = run_checks(Subject.of(make_session(*turns)), config or CheckConfig())
    return [f for f in found if f.check == "pii_exposed"]


@pytest.mark.parametrize(
    ("given", "read_back"),
    [
        ("my number is 0151 23456789", "I'll text the confirmation to +49 151 23456789."),
        ("si llamame al 612 34 56 78", "Anotado: +34 612 345 678."),
        ("call me back on 212 555 0199 please", "Sure, I've noted (212) 555-0199."),
        ("its j dot smith at example dot com", "Sent to j.smith@example.com."),
        ("my email is j.smith@example.com", "Just to confirm, that's j dot smith at example dot com?"),
        ("mi correo es carlos punto ruiz arroba correo punto es", "Te escribo a carlos.ruiz@correo.es."),
        ("reset it for Lukas.Becker@Web.de", "I've sent a link to lukas.becker@web.de."),
    ],
)
def test_a_read_back_of_what_the_user_gave_is_info(given: str, read_back: str) -> None:
    [finding] = pii(("agent", "Hi, how can I help?", 1), ("user", given, 3), ("agent", read_back, 5))
    assert finding.severity == "info" and finding.turn_index == 2
    assert finding.message.startswith("The agent reads back what the user gave in this session (")


def test_what_the_user_never_gave_is_critical_and_named() -> None:
    [finding] = pii(
        ("user", "book me for friday, my number is 0151 23456789", 1),
        ("agent", "Booked. I'll text 0151 23456789; we also have ana@example.com on file.", 3),
    )
    assert finding.severity == "critical" and "the user did not give the email" in finding.message
    assert finding.evidence.startswith("Booked. I'll text")  # quoted from the turn's start: it is short
    later = pii(("agent", "Can I text a confirmation to +34 612 345 678?", 1), ("user", "+34 612 345 678", 3))
    assert [f.severity for f in later] == ["critical"]  # given after the agent said it: not a read-back


def test_a_full_card_number_is_critical_even_read_back() -> None:
    card = "4111 1111 1111 1111"
    [finding] = pii(("user", f"my card is {card}", 1), ("agent", f"Let me confirm: {card}, right?", 3))
    assert finding.severity == "critical" and "card" in finding.message


def test_near_misses_business_numbers_references_dates_and_the_last_four() -> None:
    assert not pii(
        ("user", "my son has a fever", 1),
        ("agent", "Please call the out-of-hours line at 0800 123 4567.", 3),
        ("agent", "Booking 2026-11-24 at 10:40, reference 1710000005, total $1,000.00.", 5),
        ("agent", "Your tracking number is 1Z999AA10123456784; the card ending in 1881 is refunded.", 7),
        ("agent", "We open at nine. Our website is example dot com.", 9),
    )


def test_the_read_back_severity_is_tunable_and_redaction_still_hides_the_quote() -> None:
    turns = (("user", "its 0151 23456789", 1), ("agent", "I'll text +49 151 23456789.", 3))
    quiet = CheckConfig(pii_exposed=PiiOptions(read_back_severity="warning"))
    assert [f.severity for f in pii(*turns, config=quiet)] == ["warning"]
    session = make_session(*turns)
    [finding] = [f for f in run_checks(Subject.of(session, redact_session(session))) if f.check == "pii_exposed"]
    assert "[PHONE]" in finding.evidence and "151" not in finding.evidence


def test_split_read_backs_compares_the_library_way() -> None:
    given = personal_data("you can reach me at +44 20 7946 0958")
    read_back, disclosed = split_read_backs(personal_data("I have 020 7946 0958 and 020 7946 0000."), given)
    assert [i.kind for i in read_back] == ["phone"] and [i.kind for i in disclosed] == ["phone"]


_PIECES = st.sampled_from(
    [" ", "0151 23456789", "+49", " dot ", " at ", "example", "com", "@", "4111 1111 1111 1111", "(212) 555-0199", "x"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES | st.text(max_size=8), max_size=20).map("".join))
def test_any_text_gives_items_inside_it_and_never_breaks(text: str) -> None:
    items = personal_data(text)
    assert all(0 <= item.start < item.end <= len(text) for item in items)
    assert [item.start for item in items] == sorted(item.start for item in items)
    read_back, disclosed = split_read_backs(items, items)
    assert {i.kind for i in disclosed} <= {"card"} and len(read_back) + len(disclosed) == len(items)


# -- the cheap gates in front of the slow detectors: they never hide what the detectors find --------

NUMBERS = ["0151 23456789", "+49 151 23456789", "(212) 555-0199", "612 34 56 78", "020 7946 0958", "0044 20 7946 0958"]
NUMBERS += [
    "011 44 20 7946 0958",
    "030/1234",
    "12345",
    "4111 1111 1111 1111",
    "55120",
    "06 12 34 56 78",
    "+1 415 555 0134",
]
NUMBERISH = st.lists(
    st.one_of(
        st.sampled_from(NUMBERS),
        st.text(alphabet="0123456789０٣ +-.()/x:,", max_size=18),
        st.sampled_from([" call ", " order ", " at ", " ext ", ", ", " y "]),
    ),
    max_size=6,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(NUMBERISH)
def test_a_phone_matcher_skipped_would_have_found_nothing(text: str) -> None:
    import phonenumbers

    regions = disclosure._regions(text)
    for region in disclosure.PHONE_REGIONS:
        if region not in regions:
            assert not list(phonenumbers.PhoneNumberMatcher(text, region)), (region, text)


def test_a_remembered_text_gives_the_same_phones_and_a_caller_cannot_change_them() -> None:
    """The phones of a text are remembered (scripted lines recur): the second answer is the first."""
    text = "Can I text a confirmation to +44 20 7946 0958? Or 0151 23456789?"
    first = personal_data(text)
    first.clear()  # the caller's list, not the remembered one
    assert personal_data(text) == personal_data(text + " ")[:2]
    assert [item.kind for item in personal_data(text)] == ["phone", "phone"]


def test_the_digit_runs_join_what_the_phone_matcher_joins() -> None:
    from phonenumbers.phonenumberutil import _VALID_PUNCTUATION

    for mark in _VALID_PUNCTUATION + _VALID_PUNCTUATION.upper():
        assert disclosure._DIGIT_RUN.fullmatch(f"1{mark}2"), mark


def test_only_the_regions_a_run_can_be_a_number_of_are_searched() -> None:
    assert disclosure._regions("Tuesday at 10:00 or 15:00; order 55120 left, 9.99 more") == ["DE"]
    assert disclosure._regions("call 555 2199") == ["US", "GB", "DE"]
    assert disclosure._regions("it's 612 345 678") == list(disclosure.PHONE_REGIONS)
    assert disclosure._regions("dial 0044 20 7946") == list(disclosure.PHONE_REGIONS)  # a dialling prefix
    assert disclosure._regions("it is +1 415") == list(disclosure.PHONE_REGIONS)


SPOKEN = st.lists(
    st.one_of(
        st.sampled_from(["j", "smith", "Carlos", "correo", "example", "com", "es", "de", "x1", "web-de"]),
        st.sampled_from([" dot ", " punto ", " at ", " arroba ", " ät ", " @ ", ".", "_", " ", "  ", "\n"]),
    ),
    max_size=14,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(SPOKEN)
def test_the_spoken_address_gate_lets_every_spoken_address_through(text: str) -> None:
    if disclosure.SPOKEN_EMAIL.search(text):
        assert disclosure._SPOKEN_AT.search(text), text
