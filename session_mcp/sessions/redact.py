"""Opt-in redaction of emails, phone numbers and payment cards in transcript text.

A transcript shown to a model may carry what a caller said aloud: a card read back to an agent, a
number to call back, an address for a receipt. Each is replaced by a typed placeholder (``[EMAIL]``,
``[CARD]``, ``[PHONE]``) so the model still knows what was there. Standard library only.

The passes run in order, emails, then cards, then phones: an address may hold digits, and a card
grouped in fours is also a formatted run of digits. Each pattern proposes a candidate; a small
check decides. Precision over recall where they conflict, but never at the price of a plain leak:

- Email: ``local@domain.tld``, any script in the local part, plus-addressing, subdomains. The
  domain needs a dot and a top-level label that starts with a letter, so ``user@localhost``,
  ``root@10.0.0.1`` and ``@mentions`` are kept. Quoted local parts and spelled-out addresses
  (``alice at example dot com``) are out of scope.
- Card: 13-19 digits, contiguous or in groups of 3-6 joined by one space or hyphen (mixed is
  fine), first digit 2-6 (the payment-card industries) and a valid Luhn check digit. A card read
  back with its expiry or security code in the same run is still found; digit-by-digit spacing
  (``4 1 1 1 ...``) is not a card.
- Phone: 7-15 digits that carry phone formatting: a leading ``+``, a parenthesised group, or
  groups joined by single spaces, dots or hyphens. A bare run (``2125550199``, ``1710000005``)
  is never a phone; two groups are one only after a trunk ``0`` (``030 12345678``). Dates
  (``2026-11-24``), IPv4 addresses, grouped amounts (``1.000.000``, ``1 000 000``), lists of
  single digits, and numbers glued to letters, ``%``, ``#``, currency signs or a ``:``/``/``/decimal
  continuation (times, prices, ids, versions) are kept. A phone joined by spaces to other numbers
  is judged as one run with them and may be missed.
- Digits other than ASCII ``0-9`` are out of scope, as are numbers spelled in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from session_mcp.companion.models import SessionDetail

# local@domain.tld: the local part starts a token; labels are letters/digits/hyphens; the last
# label starts with a letter, which keeps IP literals and a sentence's final dot out.
_EMAIL = re.compile(
    r"(?<![\w.%+-])"
    r"[\w%+-]++(?:\.[\w%+-]++)*+"
    r"@(?:[^\W_][\w-]*+\.)+[^\W\d_][\w-]++"
)

# A run of digit groups joined by one space or hyphen, not inside a word, a '+' number or a
# decimal. Possessive, so a run is consumed once and never re-scanned from its middle.
_CARD_RUN = re.compile(r"(?<![\w+])(?<![0-9][.,-])[0-9]++(?:[ -][0-9]++)*+")

# An optional '+', then digit groups and (1-4 digit) parenthesised groups joined by one space,
# dot or hyphen; a joiner is optional next to a parenthesis. Not after a letter, '#', a currency
# sign, or a digit followed by '.', ',', ':', '/', '-' (the middle of a time, amount or date).
_PHONE_RUN = re.compile(
    r"(?<![\w+#$€£¥])(?<![0-9][.,:/-])"
    r"\+?(?:\([0-9]{1,4}\)|[0-9]++)"
    r"(?:[ .-]?\([0-9]{1,4}\)|(?<=\))[ .-]?[0-9]++|[ .-][0-9]++)*+"
)

_DIGITS = re.compile(r"[0-9]+")
_WORD_CHAR = re.compile(r"\w")
# What follows a number that is not over yet: a letter or '%', or a time, decimal or date part.
_NUMBER_GOES_ON = re.compile(r"[\w%]|[.,:/][0-9]")
# Runs that read as a date: 2026-11-24, 2026.11.24, 24.11.2026, 11-24-2026 (possibly + more).
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}([.-])[01]?[0-9]\1[0-3]?[0-9](?![0-9])"
    r"|[0-3]?[0-9]([.-])[0-3]?[0-9]\2(?:19|20)[0-9]{2}(?![0-9])"
)
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# Thousands grouping: 1.000.000, or 1 000 000 after a 1-2 digit lead (612 345 678 is a phone).
_AMOUNT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]{1,2}(?: [0-9]{3})+")

_MAX_CARD_GROUPS = 6  # 19 digits in groups of at least 3

_Handler = Callable[[re.Match[str]], tuple[str, int]]


def redact_text(text: str) -> str:
    """``text`` with emails, payment cards and phone numbers replaced by typed placeholders."""
    return redact_counts(text)[0]


def redact_snippet(snippet: str, marks: tuple[str, str]) -> str:
    """A search snippet redacted as its turn would be, its matched words marked again where they remain.

    Marks inside an email or a number would hide it from the patterns, so they come off first.
    """
    start, end = marks
    marked = {w for w in re.findall(re.escape(start) + "(.*?)" + re.escape(end), snippet) if w.strip()}
    plain = redact_text(snippet.replace(start, "").replace(end, ""))
    if not marked:
        return plain
    words = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in sorted(marked, key=len, reverse=True)) + r")(?!\w)")
    return words.sub(lambda m: f"{start}{m.group(1)}{end}", plain)


def email_matches(text: str) -> list[re.Match[str]]:
    """The addresses ``redact_text`` replaces, for a check that compares them with others."""
    return list(_EMAIL.finditer(text))


def card_runs(text: str) -> list[tuple[int, int]]:
    """Where the runs of digits that hold a payment card start and end, as ``redact_text`` finds them."""
    return [(m.start(), m.end()) for m in _CARD_RUN.finditer(text) if _cards(m)[1]]


def redact_counts(text: str) -> tuple[str, dict[str, int]]:
    """The redacted text and how many of each kind were replaced (keys ``email``, ``card``, ``phone``)."""
    counts: dict[str, int] = {}
    for kind, pattern, handle in _PASSES:
        text, counts[kind] = _substitute(pattern, handle, text)
    return text, counts


def _substitute(pattern: re.Pattern[str], handle: _Handler, text: str) -> tuple[str, int]:
    """``pattern.sub`` with a handler that may decline a candidate, counting real replacements only."""
    pieces: list[str] = []
    done = total = 0
    for match in pattern.finditer(text):
        replacement, count = handle(match)
        pieces += (text[done : match.start()], replacement)
        done, total = match.end(), total + count
    pieces.append(text[done:])
    return "".join(pieces), total


def _email(match: re.Match[str]) -> tuple[str, int]:
    return "[EMAIL]", 1


def _cards(match: re.Match[str]) -> tuple[str, int]:
    """Replace each card in a run, longest first from the left: the run may also hold an expiry or CVV."""
    run = match.group()
    groups = list(_DIGITS.finditer(run))
    if _WORD_CHAR.match(match.string, match.end()):
        groups.pop()  # the last group belongs to a token with letters (an id, a tracking number)
    pieces: list[str] = []
    done = count = i = 0
    while i < len(groups):
        for end in range(min(len(groups), i + _MAX_CARD_GROUPS), i, -1):
            if _is_card([g.group() for g in groups[i:end]]):
                pieces += (run[done : groups[i].start()], "[CARD]")
                done, count, i = groups[end - 1].end(), count + 1, end
                break
        else:
            i += 1
    pieces.append(run[done:])
    return "".join(pieces), count


def _is_card(groups: list[str]) -> bool:
    digits = "".join(groups)
    return (
        13 <= len(digits) <= 19
        and (len(groups) == 1 or all(3 <= len(g) <= 6 for g in groups))
        and digits[0] in "23456"
        and _luhn_valid(digits)
    )


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _phone(match: re.Match[str]) -> tuple[str, int]:
    """Replace the run if it reads as a phone; a last word that runs on (``10:40``, ``24T``) is left out."""
    run = candidate = match.group()
    if _NUMBER_GOES_ON.match(match.string, match.end()):
        candidate = run.rpartition(" ")[0]
    if candidate and _is_phone(candidate):
        return "[PHONE]" + run[len(candidate) :], 1
    return run, 0


def _is_phone(candidate: str) -> bool:
    groups = _DIGITS.findall(candidate)
    if not 7 <= sum(map(len, groups)) <= 15 or sum(len(g) == 1 for g in groups) > 1:
        return False
    if candidate.startswith("+") or "(" in candidate:
        return True
    if len(groups) == 2:
        return len(groups[0]) >= 2 and groups[0].startswith("0")
    return len(groups) > 2 and not (
        _DATE.match(candidate) or _IPV4.fullmatch(candidate) or _AMOUNT.fullmatch(candidate)
    )


_PASSES: tuple[tuple[str, re.Pattern[str], _Handler], ...] = (
    ("email", _EMAIL, _email),
    ("card", _CARD_RUN, _cards),
    ("phone", _PHONE_RUN, _phone),
)


def redact_session(session: SessionDetail) -> SessionDetail:
    """A copy of ``session`` with every transcript turn redacted; the cached original is untouched."""
    if session.conversation is None:
        return session
    items = [item.model_copy(update={"text": redact_text(item.text)}) for item in session.conversation.items]
    conversation = session.conversation.model_copy(update={"items": items})
    return session.model_copy(update={"conversation": conversation})


Redactor = Callable[[SessionDetail], SessionDetail]


def redactor(enabled: bool) -> Redactor:
    """What every session passes through before it is shown: ``redact_session`` when enabled."""
    return redact_session if enabled else _unchanged


def _unchanged(session: SessionDetail) -> SessionDetail:
    return session
