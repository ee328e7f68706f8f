"""PII redaction: what a transcript line must lose, what it must keep, and that it stays fast."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_mcp.sessions.redact import redact_counts, redact_text

# -- must catch: (transcript line, expected redaction) ---------------------------------------

CAUGHT = [
    # sales chats with emails
    (
        "Sure, send the quote to maria.lopez@acme-corp.com and I'll review it.",
        "Sure, send the quote to [EMAIL] and I'll review it.",
    ),
    ("mail me at a.b@example.co.uk.", "mail me at [EMAIL]."),
    ("My work address is j.smith+napster@mail.eu.example.org, thanks!", "My work address is [EMAIL], thanks!"),
    ("Es josé.garcía@correo.example.es (con tilde).", "Es [EMAIL] (con tilde)."),
    ("<ops_team-1@example.io>; cc: 用户@例子.公司", "<[EMAIL]>; cc: [EMAIL]"),
    # support calls reading back cards
    ("Okay, the card number is 4111 1111 1111 1111, expiry 12/27.", "Okay, the card number is [CARD], expiry 12/27."),
    ("It's 4111-1111 1111-1111 on the Visa.", "It's [CARD] on the Visa."),
    ("Mastercard 5555555555554444 please", "Mastercard [CARD] please"),
    ("the Amex is 3782 822463 10005", "the Amex is [CARD]"),
    ("Discover: 6011-1111-1111-1117.", "Discover: [CARD]."),
    ("old visa 4222222222222", "old visa [CARD]"),
    ("card #4111111111111111", "card #[CARD]"),
    ("4111111111111111 123 is the number and code", "[CARD] 123 is the number and code"),
    # booking calls giving phone numbers
    ("You can reach me on +44 20 7946 0958 after six.", "You can reach me on [PHONE] after six."),
    ("Mi móvil es +34 612 345 678.", "Mi móvil es [PHONE]."),
    ("Appelez le 0612 34 56 78 ou le 06.12.34.56.78", "Appelez le [PHONE] ou le [PHONE]"),
    ("Call the front desk at (212) 555-0199.", "Call the front desk at [PHONE]."),
    ("It's 212-555-0199 or 212.555.0199, either works", "It's [PHONE] or [PHONE], either works"),
    ("From abroad dial +1 (212) 555-0199", "From abroad dial [PHONE]"),
    ("UK office +44 (0)20 7946 0958", "UK office [PHONE]"),
    ("mobile +33 6 12 34 56 78", "mobile [PHONE]"),
    ("Berlin: 030 12345678", "Berlin: [PHONE]"),
    ("toll free 1-800-555-0199!", "toll free [PHONE]!"),
    ("WhatsApp +4915112345678", "WhatsApp [PHONE]"),
    ("Tel:212-555-0199", "Tel:[PHONE]"),
    ("at 12:30 212-555-0199 works", "at 12:30 [PHONE] works"),
    ("212-555-0199 10:40 tomorrow", "[PHONE] 10:40 tomorrow"),
    # all three in one turn
    (
        "Booked! Confirmation to li.wei@example.com, we'll text +1 212 555 0199, charged to 4111 1111 1111 1111.",
        "Booked! Confirmation to [EMAIL], we'll text [PHONE], charged to [CARD].",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CAUGHT)
def test_pii_is_replaced_by_a_typed_placeholder(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# -- must not touch: left byte-identical -----------------------------------------------------

KEPT = [
    "The appointment is on 2026-11-24 at 10:40.",
    "Event at 2026-11-24T10:15:00Z, logged at 1710000005.",
    "On 2026-11-24 10 people joined; 24.11.2026 too.",
    "From 2026-11-24 10:15 until noon",
    "That's $450 per night, or 18 $ for breakfast.",
    "Your order #757805 has shipped.",
    "Running version 1.2.3 since 2019, upgrading to 10.4.1.2024",
    "I've been a member since 2019-2020, about 3 years, 12 calls.",
    "The server is 192.168.100.200, port 8080.",
    "Session sess_0aee0ca923732881 ended.",
    "Conversion went up 12.5% and 45 % last week.",
    "We raised 1,000,000 then 1.000.000 € and 1 000 000 more.",
    "Tracking 1Z999AA10123456784 and JD014600006281234567.",
    "Account 4111 1111 1111 1112 fails the check, as does 12345678901234567890.",
    "Timestamp in ms 1710000005000 and uuid 12345678-1234-1234-1234-123456789012.",
    "The number was 2125550199 written without any formatting.",
    "Extension 555-0199, zip 10001-1234, range 100-1000.",
    "Pick 1 2 3 4 5 6 7 or 8.",
    "ping @alice, or user@localhost, or root@10.0.0.1, or a@b.c",
    "email alice at example dot com",
    "Unicode digits ٤١١١١١١١١١١١١١١١ and ４１１１ ２１２ ５５５ ０１９９ are out of scope.",
    "Time 10:40:00, ratio 3/4, score 21-17, call at 9.",
]


@pytest.mark.parametrize("text", KEPT)
def test_non_pii_text_is_left_byte_identical(text: str) -> None:
    assert redact_text(text) == text


def test_card_read_with_expiry_and_code_loses_the_card() -> None:
    redacted = redact_text("it's 4111 1111 1111 1111 12 27 123")
    assert redacted.startswith("it's [CARD] ")
    assert "4111" not in redacted


def test_counts_say_how_many_of_each_kind() -> None:
    text = "a@example.com, b@example.org, 4111 1111 1111 1111, +44 20 7946 0958, 2026-11-24"
    redacted, counts = redact_counts(text)
    assert redacted == "[EMAIL], [EMAIL], [CARD], [PHONE], 2026-11-24"
    assert counts == {"email": 2, "card": 1, "phone": 1}


def test_counts_are_zero_when_nothing_is_redacted() -> None:
    assert redact_counts("order #757805 on 2026-11-24") == (
        "order #757805 on 2026-11-24",
        {"email": 0, "card": 0, "phone": 0},
    )


def test_placeholders_are_never_redacted() -> None:
    text = "[EMAIL] [PHONE] [CARD] [EMAIL].[CARD]-[PHONE]"
    assert redact_text(text) == text


@pytest.mark.parametrize(("text", "_expected"), CAUGHT)
def test_redacting_twice_changes_nothing_more(text: str, _expected: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once


# -- properties ---------------------------------------------------------------------------

NO_ASCII_DIGIT_OR_AT = st.text(st.characters(blacklist_characters="0123456789@"))
PII_ALPHABET = st.text(st.sampled_from("0123456789 .-+()@:/,#$%_abxT[]EMAILPHONECARD"), max_size=80)


@given(NO_ASCII_DIGIT_OR_AT)
def test_text_without_digits_or_at_is_unchanged(text: str) -> None:
    assert redact_text(text) == text


@given(st.one_of(st.text(), PII_ALPHABET))
def test_redaction_is_idempotent_and_never_raises(text: str) -> None:
    once, counts = redact_counts(text)
    assert redact_text(once) == once
    assert all(count >= 0 for count in counts.values())


ADVERSARIAL = [
    "1 " * 5000,
    "@" * 10000,
    "a." * 5000,
    "1-" * 5000,
    "1." * 5000,
    "4111 " * 2000,
    "a" * 10000 + "@",
    "x@" + "a1." * 3300,
    "a@" * 5000,
    "(1" * 5000,
    "(1)" * 3333,
    "+1 " * 3333,
    "1:" * 5000,
    "0 0-0." * 1666,
    "1" * 10000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda text: repr(text[:8]))
def test_adversarial_input_is_fast(text: str) -> None:
    start = time.perf_counter()
    redact_text(text)
    # Linear here is ~0.05-0.1 s; the bound is loose so a loaded machine passes, and still far
    # below what catastrophic backtracking on 10,000 characters takes (minutes and more).
    assert time.perf_counter() - start < 2.0
