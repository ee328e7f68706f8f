"""Text made safe to show: valid Unicode, no control characters, one line where a field must be.

Pure functions on ``str`` used at the ingestion boundary (``ingest``) and by the models'
validators. After them, the only line break a text can hold is ``"\\n"`` (so ``splitlines`` and
``split("\\n")`` agree), and a single-line value holds none at all.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# Every line boundary of ``str.splitlines`` but the newline itself: the one definition of them.
LINE_BREAKS = "\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029"
# Each becomes one newline here, CRLF first so it counts as one break.
_LINE_BREAK = re.compile(f"\r\n|[{LINE_BREAKS}]")
# Control characters (Unicode Cc) that are neither a line boundary nor a tab: removed.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
# A lone UTF-16 surrogate (a pair is already one code point once JSON is decoded).
_SURROGATE = re.compile("[\ud800-\udfff]")
# Anything ``clean_text`` changes / anything ``single_line`` changes: the fast path of both.
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` as valid Unicode without control characters; newlines and tabs kept.

    Lone surrogates become U+FFFD, every line boundary (CR, CRLF, VT, FF, NEL, U+2028, ...)
    becomes ``"\\n"``, and other control characters are dropped.
    """
    if _UNSAFE_TEXT.search(text) is None:
        return text
    text = _SURROGATE.sub(REPLACEMENT, text)
    text = _LINE_BREAK.sub("\n", text)
    return _CONTROL.sub("", text)


def single_line(text: str) -> str:
    """``clean_text`` with line breaks and tabs as spaces: for ids, names, tags, codes."""
    if _UNSAFE_LINE.search(text) is None:
        return text
    return clean_text(text).replace("\n", " ").replace("\t", " ")


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for quoting input in messages."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
