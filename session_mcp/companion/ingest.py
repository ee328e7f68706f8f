"""The ingestion boundary: every upstream body, success or error, enters the models through here.

``ingest`` turns the bytes the Companion API sent into a validated model, or raises
``InvalidResponseError`` saying what was wrong. On the way it bounds the JSON nesting (so no
``RecursionError`` can arise here or downstream), makes every string valid Unicode
without control characters (keys included; newlines and tabs survive in text only), masks the
API key wherever the API echoes it, and reads non-finite or unbounded numbers as unknown. The
models then apply what depends on the field (``session_mcp.companion.models``). Nothing downstream sees
raw upstream text. A plain body (the usual one: no control character, no escape, no key, finite
numbers, shallow) is told apart by a scan in C (``_clean_already``) and skips the walk over every
value, which would change nothing in it: half the cost of reading a transcript.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from session_mcp.companion.plain import keep_text
from session_mcp.companion.sanitize import clean_text, shorten, single_line
from session_mcp.errors import InvalidResponseError

MAX_DEPTH = 64  # the documented shapes nest 4 deep; unknown fields get the rest
MAX_INT_DIGITS = 30  # longer integer literals read as unknown (no 4,300-digit ValueError either)
KEY_MASK = "**********"
_BOM = b"\xef\xbb\xbf"

ModelT = TypeVar("ModelT", bound=BaseModel)


def ingest(
    body: bytes,
    model: type[ModelT],
    *,
    what: str,
    secret: str = "",
    max_items: int | None = None,
    keep_body: bool = False,
) -> ModelT:
    """``body`` as a ``model``, made safe; ``InvalidResponseError`` when it cannot be one.

    ``what`` names the request in messages (``GET /public/sessions``); ``secret`` is the API key,
    masked wherever it appears in the body. With ``max_items``, an ``items`` array is cut to that
    many before anything else reads it (a million rows for a page of 5 cost one parse, no more),
    and the model is validated with the number left out as ``items_left_out`` in its context.
    ``keep_body``: a plain body's text is kept for the model (``plain.kept_text``), for a store.
    """
    text = _text_of(body)
    ints = _BoundedInts()
    data, left_out = _decode(text, what, max_items, ints)
    if not isinstance(data, dict):
        raise InvalidResponseError(
            f"The Companion API answered {what} with a JSON {_json_kind(data)} where an object was expected. "
            "The API may be failing or NAPSTER_API_BASE_URL may point to something else; check it and try again.",
            code="invalid_shape",
        )
    plain = _clean_already(text, data, secret)
    if not plain:  # a plain body (the usual one) has nothing the walk would change
        try:
            data = sanitized(data, secret)
        except _TooDeep:
            raise _too_deep(what) from None
    try:
        validated = model.model_validate(data, context={"items_left_out": left_out})
    except ValidationError as exc:
        raise InvalidResponseError(
            f"The Companion API answered {what} with data that does not fit the documented shape: "
            f"{describe_validation_error(exc)}. This is an upstream problem; report it with this message.",
            code="invalid_shape",
        ) from None
    if keep_body and plain and max_items is None and not ints.dropped:
        keep_text(validated, text.encode())  # what was validated is that text, read back the same way
    return validated


def _text_of(body: bytes) -> str:
    """The body as text: UTF-8, a leading BOM skipped, undecodable bytes as U+FFFD."""
    return body.removeprefix(_BOM).decode("utf-8", errors="replace")


# What in a JSON text could decode to a string ``sanitized`` would change: a character it cleans,
# raw, or any escape (an escape of a quote, a backslash or a slash decodes to itself).
_UNSAFE_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))  # what is left of ASCII once these are deleted is unsafe
_ESCAPE = re.compile(r'\\[^"\\/]')
_CLEAN_DEPTH = 16  # deeper bodies (none of the documented ones) take the walk, which bounds the depth


def _clean_already(text: str, data: dict[str, Any] | list[Any], secret: str) -> bool:
    """True when ``sanitized`` would change nothing in ``data``, the JSON ``text`` decoded.

    The strings are judged on the text, in C: without a character the walk cleans nor an escape
    that could make one, every decoded string (key or value) is its own source text, so a
    ``secret`` absent from the text is in none. Then one pass over the containers only (no call
    per string) checks the numbers are finite and the nesting within ``_CLEAN_DEPTH``. Any doubt
    says False, and the full walk decides.
    """
    if text.isascii():  # the usual body: its bytes are checked in C without the regular expression's loop
        if text.encode().translate(None, _PRINTABLE_ASCII):
            return False
    elif _UNSAFE_CHARACTER.search(text) is not None:
        return False
    if secret and secret in text:
        return False
    if "\\" in text and _ESCAPE.search(text) is not None:
        return False
    return _plain(data, 0)


def _plain(value: dict[str, Any] | list[Any], depth: int) -> bool:
    """No non-finite number in ``value``, nor a container ``_CLEAN_DEPTH`` deep."""
    if depth >= _CLEAN_DEPTH:
        return False
    items: Iterable[Any] = value.values() if isinstance(value, dict) else value
    for item in items:
        kind = type(item)
        if kind is dict or kind is list:
            if not _plain(item, depth + 1):
                return False
        elif kind is float and not math.isfinite(item):
            return False
    return True


def _decode(
    body: bytes | str, what: str, max_items: int | None = None, ints: Callable[[str], int | None] | None = None
) -> tuple[Any, int]:
    """The JSON value of ``body`` (UTF-8, a leading BOM allowed; raw control characters tolerated),
    and how many items of its ``items`` array were dropped past ``max_items``. ``ints`` reads the
    integer literals of a whole decode (``_BoundedInts``, to learn whether one was dropped); a cut
    decode reads them with ``_bounded_int``.

    The decoder itself stops at Python's recursion limit (a clean ``RecursionError``, well before
    the C stack), which is turned into the same error as nesting past ``MAX_DEPTH``.
    """
    text = body if isinstance(body, str) else _text_of(body)
    try:
        if max_items is not None:
            try:
                return _decode_cut(text, max_items)
            except ValueError:
                pass  # not a plain object: json.loads says what is wrong (or reads what this did not)
        return json.loads(text, parse_int=ints or _bounded_int, strict=False), 0
    except RecursionError:
        raise _too_deep(what) from None
    except ValueError:
        raise InvalidResponseError(
            f"The Companion API answered {what} with a body that is not JSON. The API may be failing or "
            "NAPSTER_API_BASE_URL may point to something else; check it and try again.",
            code="invalid_json",
        ) from None


def _decode_cut(text: str, max_items: int) -> tuple[dict[str, Any], int]:
    """``json.loads(text)`` of an object whose ``items`` array keeps ``max_items`` and counts the rest.

    The items past ``max_items`` are parsed one at a time and dropped, so a million rows for a
    page of 20 never stand in memory together. ``ValueError`` when ``text`` is not such an object.
    """
    fields: dict[str, Any] = {}
    left_out = 0
    at = _skip(text, 0)
    if text[at : at + 1] != "{":
        raise ValueError("not an object")
    at = _skip(text, at + 1)
    closing = text[at : at + 1] == "}"
    at += closing
    try:
        while not closing:
            if text[at : at + 1] != '"':
                raise ValueError("a key expected")
            key, at = _SCAN(text, at)
            at = _skip(text, at)
            if text[at : at + 1] != ":":
                raise ValueError("':' expected")
            at = _skip(text, at + 1)
            if key == "items" and text[at : at + 1] == "[":
                fields[key], left_out, at = _cut_array(text, at, max_items)
            else:
                fields[key], at = _SCAN(text, at)
            at = _skip(text, at)
            closing, at = text[at : at + 1] == "}", at + 1
            if not closing and text[at - 1 : at] != ",":
                raise ValueError("',' expected")
            at = _skip(text, at)
    except StopIteration:
        raise ValueError("not JSON") from None
    if _skip(text, at) != len(text):
        raise ValueError("extra data")
    return fields, left_out


def _cut_array(text: str, at: int, keep: int) -> tuple[list[Any], int, int]:
    """The first ``keep`` values of the array at ``text[at]``, how many more it holds, and its end."""
    kept: list[Any] = []
    count = 0
    at = _skip(text, at + 1)
    if text[at : at + 1] == "]":
        return kept, 0, at + 1
    while True:
        value, at = _SCAN(text, at)
        count += 1
        if count <= keep:
            kept.append(value)
        at = _skip(text, at)
        separator, at = text[at : at + 1], at + 1
        if separator == "]":
            return kept, max(0, count - keep), at
        if separator != ",":
            raise ValueError("',' expected")
        at = _skip(text, at)


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _too_deep(what: str) -> InvalidResponseError:
    return InvalidResponseError(
        f"The Companion API answered {what} with JSON nested more than {MAX_DEPTH} levels deep, which is not "
        "read. This is an upstream problem; report it with this message.",
        code="too_deep",
    )


class _TooDeep(Exception):
    """Raised by ``sanitized`` past ``MAX_DEPTH``: the body is refused as a whole."""


def _bounded_int(literal: str) -> int | None:
    return int(literal) if len(literal) <= MAX_INT_DIGITS else None


class _BoundedInts:
    """``_bounded_int`` that notes whether it dropped a literal: the text of such a body is not what was
    validated (the store reads a kept body back with another parser, which reads the number itself)."""

    def __init__(self) -> None:
        self.dropped = False

    def __call__(self, literal: str) -> int | None:
        value = _bounded_int(literal)
        self.dropped = self.dropped or value is None
        return value


# json.loads's scanner, one value at a time (scan_once is the decoder's documented-in-source hook).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(  # type: ignore[attr-defined]
    parse_int=_bounded_int, strict=False
).scan_once
_SPACE = re.compile(r"[ \t\n\r]*")


def sanitized(value: dict[str, Any] | list[Any], secret: str = "") -> Any:
    """A decoded JSON object or array with safe text and finite numbers, at most ``MAX_DEPTH`` deep.

    Strings go through ``clean_text`` (object keys through ``single_line``) and have ``secret``
    masked; NaN and infinities become ``None``; lists are fixed in place. Deeper nesting raises
    ``_TooDeep``, so nothing downstream (validation, rendering, ``json.dumps``) ever recurses far.
    """
    return _Sanitizer(secret).container(value, 0)


class _Sanitizer:
    """One walk over a decoded body: per-type dispatch inline, object keys cleaned once each."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.keys: dict[str, str] = {}  # the decoder shares key objects: most repeat

    def text(self, text: str) -> str:
        text = clean_text(text)
        return text.replace(self.secret, KEY_MASK) if self.secret and self.secret in text else text

    def key(self, key: str) -> str:
        cleaned = self.keys.get(key)
        if cleaned is None:
            cleaned = self.keys[key] = single_line(self.text(key))
        return cleaned

    def item(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value)
        if kind is float:
            return value if math.isfinite(value) else None
        if kind is dict or kind is list:
            return self.container(value, depth + 1)
        return value  # int (bounded by the decoder), bool, None

    def container(self, value: dict[str, Any] | list[Any], depth: int) -> dict[str, Any] | list[Any]:
        if depth >= MAX_DEPTH:
            raise _TooDeep
        if isinstance(value, dict):
            return {self.key(key): self.item(item, depth) for key, item in value.items()}
        for index, item in enumerate(value):
            value[index] = self.item(item, depth)
        return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """The first few failing fields of ``exc`` as ``path: message``, values left out."""
    parts = []
    for error in exc.errors()[:limit]:
        location = ".".join(str(part) for part in error["loc"]) or "(body)"
        parts.append(f"{shorten(location, 80)}: {error['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
