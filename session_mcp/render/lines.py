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

**Quoted text** (``quoted``) cannot end its quote: upstream text the server puts between ``"``
(evidence, a user's request in a finding, the digests' first request and last exchange) has
every double quote mark, and every character drawn like one, replaced by ``'``, so the only
``"`` in a line are the server's own and whatever follows the closing one is the server's
words. The same goes for the marks that separate upstream text in a line: ``|`` between cells
and ``⟶`` in a digest (and their lookalikes) become ``/`` and ``>`` inside a quote or a
``cell``. Each replacement is one character, so lengths (and the budgets fitted to them) hold.
"""

from __future__ import annotations

import re

from session_mcp.companion.sanitize import LINE_BREAKS

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
# The marks that delimit upstream text in our lines, and the characters drawn like them, each
# with a plain character that is none of them: double quotes, vertical bars, right arrows.
QUOTE_MARKS = '"\u201c\u201d\u201e\u201f\u2033\u2036\u3003\uff02\u05f4\u02ee\u02dd\u275d\u275e\u301d\u301e\u301f'
BARS = "|\u00a6\u01c0\u05c0\u2502\u2503\u2223\u2758\uff5c\uffe8\u23d0"
ARROWS = "\u27f6\u2192\u27f9\u21d2\u27fe\u21e2\u2794\u2799\u279b\u279c\u279d\u279e\u279f\u27a0\u2b62\U0001f852\u27fc"
_PLAIN = str.maketrans({**dict.fromkeys(QUOTE_MARKS, "'"), **dict.fromkeys(BARS, "/"), **dict.fromkeys(ARROWS, ">")})


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


def cell(value: object, limit: int = FIELD_CHARS) -> str:
    """``one_line``, and none of the marks that delimit upstream text (``"``, ``|``, ``⟶``, and
    characters drawn like them): a table cell, or the inside of a quote, that cannot end itself."""
    return one_line(value, limit).translate(_PLAIN)


def quoted(value: object, limit: int = FIELD_CHARS) -> str:
    """``value`` between ``"`` marks as the server quotes upstream text: one line, and nothing in
    it can close the quote, so what follows the quote is always the server's own words."""
    return f'"{cell(value, limit)}"'
