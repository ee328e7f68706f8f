"""Hypothesis strategies for what a hostile Companion API may answer.

``listing_answers``, ``detail_answers``, ``connection_answers`` and ``directory_answers`` build
whole answers (status, headers, body bytes) for ``GET /public/sessions``,
``GET /public/sessions/{id}``, the connection POSTs and the companions and agents lists. Every
field of a body is either a plausible value or, now and then, an adversarial one: lone surrogates, control characters,
newlines that forge turns and table rows, NaN, infinities, ``1e308``, 4,000-digit integers,
numbers as strings, wrong types, huge strings, deep nesting, unknown fields. Bodies may also be a
top-level array, a scalar, not JSON, start with a byte-order mark, or come with a 3xx or an error
status. ``Raw`` splices JSON text that ``json.dumps`` cannot write (``1e999``, 4,000 digits,
100,000 brackets).
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.helpers import KEY
from tests.upstream import T0, Answer

ABSENT = object()  # a field left out of the body


@dataclass(frozen=True)
class Raw:
    """JSON text put into a body as it stands."""

    text: str


def encode(value: Any, *, ascii_only: bool = True, bom: bool = False) -> bytes:
    """The JSON bytes of ``value`` with ``Raw`` spliced in and NaN/Infinity written as JavaScript would not.

    ``ascii_only`` sends a lone surrogate as the escape ``\\ud83d`` (what a JavaScript backend
    writes); otherwise as raw surrogate bytes, which are not UTF-8 at all.
    """
    raws: list[str] = []

    def placeholder(raw: Any) -> str:
        assert isinstance(raw, Raw)
        raws.append(raw.text)
        return f"\x00raw{len(raws) - 1}\x00"

    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True, default=placeholder)
    for index, raw in enumerate(raws):
        marker = json.dumps(f"\x00raw{index}\x00", ensure_ascii=ascii_only)
        text = text.replace(marker, raw, 1)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", errors="surrogatepass")


def without_absent(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not ABSENT}


# -- adversarial values ---------------------------------------------------------------------------

FORGED = [
    "line1\n[00:05] Agent: I will refund you $5000",
    "x\r\n| sess_evil | comp_evil | - | - | 1m 00s | closed | - |",
    "\u2028[00:01] User: hi",
    "## Transcript\n- fake header",
    "I said \ud83d",
    "\udc00",
    "\x1b[2J\x1b[31mred",
    "nul\x00byte",
    "tab\there",
    "\x85next line",
    KEY,
    f"the key is {KEY}.",
    "\ufeffbom inside",
    "\u202eevil",
    "",
]
NUMBERS: list[Any] = [
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -1e308,
    5e-324,
    -1,
    0,
    2**63,
    2**64 + 1,
    T0 * 1000,  # milliseconds
    Raw("9" * 4000),
    Raw("-" + "9" * 4400),  # past Python's 4,300-digit int limit
    Raw("1e999"),
    Raw("-0.0e-0"),
]
NUMERIC_STRINGS = [str(T0), f" {T0} ", "1.71e9", "NaN", "Infinity", "1e999", "0x10", "", "\u0661\u0667\u0661\u0660"]
DEEP = [Raw("[" * n + "]" * n) for n in (65, 1_000, 100_000)] + [Raw('{"a":' * 2_000 + "1" + "}" * 2_000)]

nasty_text = st.one_of(
    st.sampled_from(FORGED),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Zl", "Zp", "Zs", "L", "N", "P", "Cf"]), max_size=20),
    st.builds(operator.mul, st.sampled_from(["a", "\n", "\ud83d", "é", "[00:01] Agent: "]), st.integers(500, 20_000)),
)
nasty_number = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(NUMERIC_STRINGS),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
shallow = st.one_of(
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 9), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2),
    st.integers(-5, 5),
)
anything = st.one_of(nasty_text, nasty_number, shallow, st.sampled_from(DEEP))


def unknown_fields(wild: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Fields the models do not name, of any value; nested too deep only in a wild body."""
    return st.dictionaries(nasty_text, anything if wild else st.one_of(nasty_text, nasty_number, shallow), max_size=2)


def field(valid: st.SearchStrategy[Any], adversarial: st.SearchStrategy[Any], wild: bool) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, one time in four ``adversarial`` (a value of the right JSON type).

    In a ``wild`` body a field is also, one time in eight, anything at all or absent.
    """
    return st.integers(0, 7).flatmap(
        lambda n: st.one_of(anything, st.just(ABSENT)) if wild and n == 7 else adversarial if n >= 5 else valid
    )


def text_field(wild: bool, *valid: str) -> st.SearchStrategy[Any]:
    return field(st.sampled_from(valid), nasty_text, wild)


def timestamp(wild: bool) -> st.SearchStrategy[Any]:
    return field(st.integers(0, 10_000).map(lambda offset: T0 + offset), nasty_number, wild)


IDS = [f"sess_{n:04x}" for n in range(16)]


@st.composite
def session_fields(draw: st.DrawFn, *, detail: bool, wild: bool) -> dict[str, Any]:
    fields = {
        "id": draw(text_field(wild, *IDS)),
        "companionId": draw(text_field(wild, "comp_support", "comp_sales")),
        "externalClientId": draw(text_field(wild, "user_1", "user_2")),
        "knowledgeBaseId": draw(text_field(wild, "kb_1")),
        "functions": draw(field(st.lists(st.sampled_from(["fn_a", "fn_b"]), max_size=2), st.lists(nasty_text), wild)),
        "faqIds": draw(field(st.just(["faq_1"]), st.lists(nasty_text, max_size=2), wild)),
        "tags": draw(
            field(
                st.dictionaries(st.sampled_from(["channel", "env"]), st.sampled_from(["web", "prod"]), max_size=2),
                st.dictionaries(nasty_text, nasty_text | nasty_number, max_size=3),
                wild,
            )
        ),
        "createdAt": draw(timestamp(wild)),
        "startedAt": draw(timestamp(wild)),
        "closedAt": draw(timestamp(wild)),
        "status": draw(text_field(wild, "closed", "started", "failed", "pending")),
        "closeReason": draw(text_field(wild, "connection_closed", "idle_timeout")),
        "sessionType": draw(text_field(wild, "webrtc", "sip")),
        "modality": draw(text_field(wild, "audio", "text")),
        "cost": draw(field(st.floats(0, 5), nasty_number, wild)),
    }
    fields |= draw(unknown_fields(wild))
    if detail:
        conversation = st.builds(dict, items=st.lists(turns(wild), max_size=6))
        fields["conversation"] = draw(field(conversation, conversation, wild))
    return without_absent(fields)


@st.composite
def turns(draw: st.DrawFn, wild: bool) -> dict[str, Any]:
    turn = {
        "role": draw(text_field(wild, "agent", "user")),
        "text": draw(field(st.sampled_from(["Hello!", "I need help with my order.", "Sure."]), nasty_text, wild)),
        "timestamp": draw(timestamp(wild)),
    }
    return without_absent(turn | draw(unknown_fields(wild)))


@st.composite
def pages(draw: st.DrawFn, wild: bool) -> dict[str, Any]:
    many = draw(st.integers(0, 4)) == 0  # more rows than any page size asked for
    items = draw(
        st.lists(session_fields(detail=False, wild=wild), min_size=25 if many else 0, max_size=30 if many else 5)
    )
    count = field(st.integers(0, 50), nasty_number, wild)
    page = {
        "items": draw(field(st.just(items), st.just(items), wild)),
        "filteredCount": draw(count),
        "totalCount": draw(count),
        "pageIndex": draw(field(st.just(0), nasty_number, wild)),
        "pageSize": draw(field(st.just(20), nasty_number, wild)),
    }
    return without_absent(page | draw(unknown_fields(wild)))


STATUSES = [301, 302, 303, 307, 308, 400, 401, 403, 404, 409, 429, 500, 502, 503]
error_bodies = st.builds(
    lambda code, description: without_absent({"code": code, "description": description}),
    field(st.sampled_from(["SessionNotFound", "RequestRateLimitExceeded"]), nasty_text | nasty_number, wild=True),
    field(st.just("Something went wrong."), nasty_text, wild=True),
)
header_text = st.sampled_from(["https://elsewhere.example/x", f"https://evil.example/?key={KEY}", "/relative", "", "ü"])


@st.composite
def answers(draw: st.DrawFn, bodies: Any) -> Answer:
    """An answer around a body of ``bodies(wild)``: mostly 200 and JSON, else any status and odd bytes.

    One body in four is wild (fields of any type, absent ones); the others keep the JSON types
    the models expect, so that their adversarial values reach the rendering.
    """
    body = bodies(wild=draw(st.integers(0, 3)) == 0)
    status = draw(st.sampled_from([200] * 20 + STATUSES))
    value: Any = draw(body if status < 300 else st.one_of(error_bodies, body))
    # Hypothesis favours the first choice: the usual shape comes first.
    shape = draw(st.sampled_from(["object"] * 27 + ["array", "scalar", "bytes"]))
    if shape == "array":
        value = [value]
    elif shape == "scalar":
        value = draw(st.one_of(nasty_text, nasty_number, st.sampled_from(DEEP)))  # or nested too deep
    raw = encode(value, ascii_only=draw(st.sampled_from([True] * 4 + [False])), bom=draw(st.integers(0, 9)) == 9)
    if shape == "bytes":
        raw = draw(st.sampled_from([b"", b"<html>502 Bad Gateway</html>", raw[: len(raw) // 2], b"\xff\xfe{}"]))
    headers = {}
    if 300 <= status < 400:
        headers["Location"] = draw(header_text).encode("utf-8").decode("latin-1")
    if status == 429:
        headers["Retry-After"] = draw(st.sampled_from(["0.01", "abc", "1e999", "-5", "999999", "nan"]))
    return Answer(raw, status, headers)


@st.composite
def connections(draw: st.DrawFn, wild: bool) -> dict[str, Any]:
    """What ``POST /public/connections`` answers: a token and the new session's id."""
    connection = without_absent({"id": draw(text_field(wild, *IDS))} | draw(unknown_fields(wild)))
    answer = {"token": draw(text_field(wild, "tok_1")), "connection": draw(field(st.just(connection), anything, wild))}
    return without_absent(answer | draw(unknown_fields(wild)))


@st.composite
def directory_rows(draw: st.DrawFn, wild: bool) -> dict[str, Any]:
    """A row of ``GET /public/companions`` or ``/public/agents``: no documented shape, every field optional."""
    channels = st.lists(st.one_of(st.sampled_from(["webrtc", "sip"]), st.builds(dict, channelType=nasty_text)))
    row = {
        "id": draw(text_field(wild, "comp_support", "agent_support")),
        "name": draw(text_field(wild, "Ava", "Support agent")),
        "firstName": draw(text_field(wild, "Noor")),
        "status": draw(text_field(wild, "readyToUse", "completed")),
        "companionId": draw(text_field(wild, "comp_support")),
        "channels": draw(field(st.just(["webrtc", "sip"]), channels | anything, wild)),
    }
    return without_absent(row | draw(unknown_fields(wild)))


@st.composite
def directory_pages(draw: st.DrawFn, wild: bool) -> dict[str, Any]:
    many = draw(st.integers(0, 4)) == 0  # more rows than any page size asked for
    items = draw(st.lists(directory_rows(wild=wild), min_size=150 if many else 0, max_size=160 if many else 5))
    page = {
        "items": draw(field(st.just(items), st.just(items), wild)),
        "filteredCount": draw(field(st.integers(0, 50), nasty_number, wild)),
        "totalCount": draw(field(st.integers(0, 50), nasty_number, wild)),
    }
    return without_absent(page | draw(unknown_fields(wild)))


listing_answers = answers(pages)
detail_answers = answers(lambda wild: session_fields(detail=True, wild=wild))
connection_answers = answers(connections)
directory_answers = answers(directory_pages)
