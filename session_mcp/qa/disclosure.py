"""Personal data an agent says aloud, told apart: a read-back of what the user gave, or a disclosure.

An agent that confirms the number the caller just dictated ("I'll text +49 151 23456789") is doing
its job; one that says an address or a number the caller never said in this session is disclosing
what it holds. ``pii_exposed`` reports the first at the read-back severity (info) and the second
at its own (critical). Decisions:

- **Phones** are found and compared by ``phonenumbers`` (the port of Google's libphonenumber), not
  by hand-written patterns: a span is a phone when the library's matcher finds a *valid* number in
  it for one of ``PHONE_REGIONS`` (a national number such as ``0151 23456789`` needs a region to be
  read; the session does not say which, so each is tried). Two numbers are the same when the
  library says they match (``0151 23456789`` and ``+49 151 23456789``: a national significant
  number match). Toll-free, premium-rate, shared-cost and universal access numbers are a
  business's own (``call the out-of-hours line at 0800 123 4567``): never personal data. Ranges
  the regulators reserve for fiction (``+44 7700 900xxx``) are not valid numbers to the library,
  so they are not found. Only turns with at least ``MIN_PHONE_DIGITS`` digits are searched: the
  matcher is the slow part, and most turns have no number at all. A region's matcher runs only
  where the turn has a run of digits long enough to be a number of that region (``_regions``):
  the same numbers are found, without five parses of every order number or time.
- **Emails** written out are found by the redaction's own pattern; spoken ones as speech-to-text
  writes them (``j dot smith at example dot com``, ``carlos punto ruiz arroba correo punto es``)
  by ``SPOKEN_EMAIL``. Two addresses are the same when their domains match and their local parts
  do ignoring case, dots, dashes and underscores (speech-to-text drops them).
- **Cards** (the redaction's detector: Luhn-valid, 13-19 digits) are never a mere read-back: a full
  card number said aloud is what card-industry rules forbid, whoever gave it; confirm the last four.
- "Given" means said by the user in an earlier turn of the same session.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from session_mcp.sessions.redact import card_runs, email_matches

Kind = Literal["email", "phone", "card"]
PHONE_REGIONS = ("US", "GB", "DE", "ES", "FR")
MIN_PHONE_DIGITS = 7
PHONE_CACHE = 1024  # texts (the keys) whose phones are remembered: about a megabyte of turns

_SEPARATOR = r"(?:dot|punto|punkt|underscore|guion(?:\s+bajo)?|dash|hyphen|minus|strich)"
# "j dot smith at example dot com": words joined by spoken separators, "at" (or arroba, ät), a
# domain whose last label is a top-level domain of 2-6 letters. Bounded: every repetition is
# separated by a literal word the repeated part cannot match.
SPOKEN_EMAIL = re.compile(
    rf"(?<![\w.@])([a-z0-9][a-z0-9._-]{{0,40}}(?:\s+{_SEPARATOR}\s+[a-z0-9][a-z0-9._-]{{0,40}}){{0,6}})"
    r"\s+(?:at|arroba|ät|@)\s+"
    rf"([a-z0-9][a-z0-9-]{{0,40}}(?:(?:\s+(?:dot|punto|punkt)\s+|\.)[a-z0-9][a-z0-9-]{{0,40}}){{0,4}}"
    r"(?:\s+(?:dot|punto|punkt)\s+|\.)[a-z]{2,6})(?![\w@])",
    re.I,
)
_SPOKEN = {"dot": ".", "punto": ".", "punkt": ".", "underscore": "_", "dash": "-", "hyphen": "-", "minus": "-"}
_SPOKEN_WORD = re.compile(r"\s*\b(dot|punto|punkt|underscore|guion(?:\s+bajo)?|dash|hyphen|minus|strich)\b\s*", re.I)
# What a spoken address needs around its "at": a word before, a label and a separator after. Far
# cheaper than SPOKEN_EMAIL, which tries every word; a turn without it holds no spoken address.
_SPOKEN_AT = re.compile(r"\s(?:at|arroba|ät|@)\s+[a-z0-9][a-z0-9-]{0,40}(?:\s+(?:dot|punto|punkt)\s+|\.)[a-z0-9]", re.I)
_DIGIT = re.compile(r"[0-9]")
MIN_CARD_DIGITS = 13  # the redaction's shortest card
# Digits (any script, as the phone matcher reads them) joined by at most four characters that are
# not letters or digits (or an "x"): a superset of the digits one of the matcher's candidates holds.
_DIGIT_RUN = re.compile(r"\d+(?:[\W_xXー]{0,4}\d+)*")
_DIGIT_GROUP = re.compile(r"\d+")
# A number read through an international dialling prefix (00 or 011, then a country code and a
# number of any country) has at least this many digits from that prefix's 0 to the end of its run.
MIN_INTERNATIONAL_DIGITS = 4
_NOT_ALNUM = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Item:
    """One piece of personal data in a turn: its kind, where it is, and what it is compared by."""

    kind: Kind
    start: int
    end: int
    keys: tuple[str, ...]  # an email: its comparison key; a phone: E.164 forms (one per region that reads it)


def personal_data(text: str) -> list[Item]:
    """The emails, phones and cards in ``text``, in order of where they start."""
    digits = len(_DIGIT.findall(text)) if _DIGIT.search(text) else 0
    items = _emails(text)
    if digits >= MIN_PHONE_DIGITS:
        items += _phones(text)
    if digits >= MIN_CARD_DIGITS:
        items += _cards(text)
    return sorted(items, key=lambda item: item.start)


def given_by(item: Item, given: Iterable[Item]) -> bool:
    """Whether ``item`` repeats one of ``given`` (what the user said): never for a card."""
    if item.kind == "card":
        return False
    return any(other.kind == item.kind and _same(item, other) for other in given)


def _same(one: Item, other: Item) -> bool:
    if one.kind == "email":
        return bool(set(one.keys) & set(other.keys))
    import phonenumbers  # 35 ms to import: loaded when a turn first holds a number, not at start-up

    return any(
        phonenumbers.is_number_match(a, b) >= phonenumbers.MatchType.SHORT_NSN_MATCH
        for a in one.keys
        for b in other.keys
    )


def _emails(text: str) -> list[Item]:
    found = (
        [Item("email", m.start(), m.end(), (_email_key(m.group()),)) for m in email_matches(text)]
        if "@" in text
        else []
    )
    if not _SPOKEN_AT.search(text):
        return found
    taken = [(item.start, item.end) for item in found]
    for match in SPOKEN_EMAIL.finditer(text):
        if not any(start < match.end() and match.start() < end for start, end in taken):
            address = f"{_unspoken(match.group(1))}@{_unspoken(match.group(2))}"
            found.append(Item("email", match.start(), match.end(), (_email_key(address),)))
    return found


def _unspoken(words: str) -> str:
    """``j dot smith`` as written: ``j.smith``."""
    joined = _SPOKEN_WORD.sub(lambda m: _SPOKEN.get(m.group(1).casefold(), "-"), words)
    return "".join(joined.split())


def _email_key(address: str) -> str:
    """An address as compared: the domain folded, the local part without case, dots, dashes, underscores."""
    local, _, domain = address.casefold().rpartition("@")
    return f"{_NOT_ALNUM.sub('', local)}@{domain}"


@functools.lru_cache(maxsize=PHONE_CACHE)
def _phones(text: str) -> tuple[Item, ...]:
    """The phones in ``text`` (which holds at least ``MIN_PHONE_DIGITS`` digits).

    Remembered for the last ``PHONE_CACHE`` texts: the matcher is the slow part of the checks, and
    a scripted line that holds a number (the business's, a template's) recurs in session after session.
    """
    regions = _regions(text)
    if not regions:
        return ()
    import phonenumbers  # 35 ms to import: loaded when a turn first holds a number, not at start-up

    business = {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
    spans: dict[tuple[int, int], list[str]] = {}
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region):
            if phonenumbers.number_type(match.number) in business:
                continue
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            forms = spans.setdefault((match.start, match.end), [])
            if e164 not in forms:
                forms.append(e164)
    return tuple(Item("phone", start, end, tuple(forms)) for (start, end), forms in _outermost(spans))


def _regions(text: str) -> list[str]:
    """The ``PHONE_REGIONS`` whose matcher may find a number in ``text``.

    Without a "+" or a dialling prefix, a matcher reads only numbers of its own region's country
    (no other country code can be read), whose national significant number has at least
    ``_shortest(region)`` digits, all in one run of ``_DIGIT_RUN`` (parsing only drops digits).
    """
    if "+" in text or "＋" in text:
        return list(PHONE_REGIONS)
    longest = 0
    for run in _DIGIT_RUN.findall(text):
        groups = _DIGIT_GROUP.findall(run)
        left = sum(map(len, groups))
        longest = max(longest, left)
        for group in groups:
            if unicodedata.digit(group[0]) == 0 and left >= MIN_INTERNATIONAL_DIGITS:
                return list(PHONE_REGIONS)  # perhaps a dialling prefix: any country may follow
            left -= len(group)
    return [region for region in PHONE_REGIONS if longest >= _shortest(region)]


@functools.cache
def _shortest(region: str) -> int:
    """The fewest digits of a valid number read in ``region`` (any region sharing its country code),
    by the library's metadata; 0 (always search) where the region's parsing rule may add digits."""
    import phonenumbers

    own = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if own is None or own.country_code is None or own.national_prefix_transform_rule:
        return 0
    shortest = []
    for name in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[own.country_code]:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(name)
        lengths = metadata.general_desc.possible_length if metadata and metadata.general_desc else ()
        shortest.append(min(lengths, default=0))
    return min(shortest, default=0)


def _outermost(spans: dict[tuple[int, int], list[str]]) -> list[tuple[tuple[int, int], list[str]]]:
    """Spans not inside a longer one (regions may read different lengths of one number)."""
    ordered = sorted(spans.items(), key=lambda item: (item[0][0], -item[0][1]))
    kept: list[tuple[tuple[int, int], list[str]]] = []
    for (start, end), forms in ordered:
        if kept and start < kept[-1][0][1]:
            kept[-1][1].extend(f for f in forms if f not in kept[-1][1])
            continue
        kept.append(((start, end), forms))
    return kept


def _cards(text: str) -> list[Item]:
    return [Item("card", start, end, ()) for start, end in card_runs(text)]


def split_read_backs(items: Sequence[Item], given: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """``items`` as (read back: the user gave them, disclosed: the user did not)."""
    read_back = [item for item in items if given_by(item, given)]
    return read_back, [item for item in items if item not in read_back]
