"""The ingestion boundary: every upstream body, success or error, enters the models through here.

``ingest`` turns the bytes the Companion API sent into a validated model, or raises
``InvalidResponseError`` saying what was wrong. On the way it bounds the JSON nesting (before
decoding, so no ``RecursionError`` can arise here or later), makes every string valid Unicode
without control characters (keys included; newlines and tabs survive in text only), masks the
API key wherever the API echoes it, and reads non-finite or unbounded numbers as unknown. The
models then apply what depends on the field (``session_mcp.models``). Nothing downstream sees
raw upstream text.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from session_mcp.errors import InvalidResponseError
from session_mcp.text import clean_text, shorten, single_line

MAX_DEPTH = 64  # the documented shapes nest 4 deep; unknown fields get the rest
MAX_INT_DIGITS = 30  # longer integer literals read as unknown (no 4,300-digit ValueError either)
KEY_MASK = "**********"
_BOM = b"\xef\xbb\xbf"
# A JSON string, escapes included: what the depth count must skip (brackets inside are text).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}

ModelT = TypeVar("ModelT", bound=BaseModel)


def ingest(body: bytes, model: type[ModelT], *, what: str, secret: str = "") -> ModelT:
    """``body`` as a ``model``, made safe; ``InvalidResponseError`` when it cannot be one.

    ``what`` names the request in messages (``GET /public/sessions``); ``secret`` is the API key,
    masked wherever it appears in the body.
    """
    data = _decode(body, what)
    if not isinstance(data, dict):
        raise InvalidResponseError(
            f"The Companion API answered {what} with a JSON {_json_kind(data)} where an object was expected. "
            "The API may be failing or NAPSTER_API_BASE_URL may point to something else; check it and try again.",
            code="invalid_shape",
        )
    try:
        return model.model_validate(sanitized(data, secret))
    except ValidationError as exc:
        raise InvalidResponseError(
            f"The Companion API answered {what} with data that does not fit the documented shape: "
            f"{describe_validation_error(exc)}. This is an upstream problem; report it with this message.",
            code="invalid_shape",
        ) from None


def _decode(body: bytes, what: str) -> Any:
    """The JSON value of ``body`` (UTF-8, a leading BOM allowed), refused when nested too deep."""
    text = body.removeprefix(_BOM).decode("utf-8", errors="replace")
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise InvalidResponseError(
            f"The Companion API answered {what} with JSON nested {depth:,} levels deep; at most {MAX_DEPTH} are "
            "read. This is an upstream problem; report it with this message.",
            code="too_deep",
        )
    try:
        return json.loads(text, parse_int=_bounded_int)
    except ValueError:
        raise InvalidResponseError(
            f"The Companion API answered {what} with a body that is not JSON. The API may be failing or "
            "NAPSTER_API_BASE_URL may point to something else; check it and try again.",
            code="invalid_json",
        ) from None


def nesting_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest, those inside strings not counted.

    Counts every opening bracket against every closing one, matched or not, so it is never less
    than what ``json.loads`` would descend before it finds an error.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets.encode())), default=0)


def _bounded_int(literal: str) -> int | None:
    return int(literal) if len(literal) <= MAX_INT_DIGITS else None


def sanitized(value: Any, secret: str = "") -> Any:
    """A decoded JSON value with safe text and finite numbers; lists are fixed in place.

    Strings go through ``clean_text`` (object keys through ``single_line``) and have ``secret``
    masked; NaN and infinities become ``None``. The depth is already bounded by ``_decode``.
    """
    if isinstance(value, str):
        return _masked(clean_text(value), secret)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = sanitized(item, secret)
        return value
    if isinstance(value, dict):
        return {_masked(single_line(key), secret): sanitized(item, secret) for key, item in value.items()}
    return value


def _masked(text: str, secret: str) -> str:
    return text.replace(secret, KEY_MASK) if secret and secret in text else text


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
