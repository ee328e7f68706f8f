"""What upstream text may do to a line of an answer: nothing but fill it, within a bound.

Upstream text is data, never layout. A **single-line field** (an id, a role, a companion or
client id, a tag key or value, a status, a close reason, an extra field, an error reason) has
every line break and control character replaced by a space, so it cannot start a line of its
own, and is cut to a length with a marker saying how much was left out.

**Message text** keeps its line breaks (people write paragraphs), but every line after the first
is indented by ``CONTINUATION``: no line of a message can begin like a turn (``[mm:ss] Agent:``),
a header (``# Session``, ``## sess_...``) or a table row, because those never start with spaces.
Line breaks are every kind ``str.splitlines`` knows (CR, VT, FF, NEL, U+2028, ...), so what a
client may show as a new line is always one of ours. Other control characters become spaces;
tabs stay.
"""

from __future__ import annotations

import re

from session_mcp.text import LINE_BREAKS

CUT_MARK = "…"
CONTINUATION = "    "  # the indentation of a message's second and later lines
FIELD_CHARS = 200  # a single-line field, unless the caller gives its own bound
ID_CHARS = 256  # as long as a valid session id may be: a usable id is never cut

# Every character str.splitlines() breaks at; CRLF first so it counts as one break.
_LINE_BREAK = re.compile(f"\r\n|[\n{LINE_BREAKS}]")
# C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional overrides
# and isolates (they reorder what a terminal shows). Tab is treated apart.
_CONTROLS = "\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_NOT_IN_A_FIELD = re.compile(f"[\t{_CONTROLS}]")
_NOT_IN_A_MESSAGE_LINE = re.compile(f"[{_CONTROLS}]")


def shorten_text(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    kept = text[: max(0, limit)].rstrip()
    return f"{kept}{CUT_MARK} [+{len(text) - len(kept)} chars]"


def one_line(value: object, limit: int = FIELD_CHARS) -> str:
    """``value`` as text fit for one line: breaks and controls become spaces, cut to ``limit``."""
    text = value if isinstance(value, str) else str(value)
    return _NOT_IN_A_FIELD.sub(" ", shorten_text(text, limit))


def message_text(text: str) -> str:
    """Message text as it goes after a turn prefix: continuation lines indented, no stray controls."""
    if not _LINE_BREAK.search(text) and not _NOT_IN_A_MESSAGE_LINE.search(text):
        return text  # the common case, without building a list
    lines = _LINE_BREAK.split(text)
    return ("\n" + CONTINUATION).join(_NOT_IN_A_MESSAGE_LINE.sub(" ", line) for line in lines)
