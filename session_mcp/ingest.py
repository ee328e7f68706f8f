"""The ingestion boundary: every upstream body, success or error, enters the models through here.

``ingest`` turns the bytes the Companion API sent into a validated model, or raises
``InvalidResponseError`` saying what was wrong. On the way it bounds the JSON nesting (so no
``RecursionError`` can arise here or downstream), makes every string valid Unicode
without control characters (keys included; newlines and tabs survive in text only), masks the
API key wherever the API echoes it, and reads non-finite or unbounded numbers as unknown. The
models then apply what depends on the field (``session_mcp.models``). Nothing downstream sees
raw upstream text.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from session_mcp.errors import InvalidResponseError
from session_mcp.text import clean_text, shorten, single_line

MAX_DEPTH = 64  # the documented shapes nest 4 deep; unknown fields get the rest
MAX_INT_DIGITS = 30  # longer integer literals read as unknown (no 4,300-digit ValueError either)
KEY_MASK = "**********"
_BOM = b"\xef\xbb\xbf"

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
        data = sanitized(data, secret)
    except _TooDeep:
        raise _too_deep(what) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidResponseError(
            f"The Companion API answered {what} with data that does not fit the documented shape: "
            f"{describe_validation_error(exc)}. This is an upstream problem; report it with this message.",
            code="invalid_shape",
        ) from None


def _decode(body: bytes, what: str) -> Any:
    """The JSON value of ``body`` (UTF-8, a leading BOM allowed; raw control characters tolerated).

    The decoder itself stops at Python's recursion limit (a clean ``RecursionError``, well before
    the C stack), which is turned into the same error as nesting past ``MAX_DEPTH``.
    """
    text = body.removeprefix(_BOM).decode("utf-8", errors="replace")
    try:
        return json.loads(text, parse_int=_bounded_int, strict=False)
    except RecursionError:
        raise _too_deep(what) from None
    except ValueError:
        raise InvalidResponseError(
            f"The Companion API answered {what} with a body that is not JSON. The API may be failing or "
            "NAPSTER_API_BASE_URL may point to something else; check it and try again.",
            code="invalid_json",
        ) from None


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
