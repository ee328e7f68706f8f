"""A stored body's turns up to the one wanted, read without inflating and decoding the whole body.

A search page needs one or two turns of each of its sessions (the hit's, and the first one's time
when the session has no start), but ``json.loads`` of a body builds every turn: most of what a
page costs a session. Here a body is inflated only as far as the turns wanted, its JSON text
searched (in C) for ``"conversation":{"items":[``, where the store's bodies keep their turns, and
the items up to the last one wanted are decoded with the ``json`` module's own scanner: each is the
value ``json.loads`` gives. The found text must be a member of the top-level object (the text
before it, closed, is one JSON object) and no earlier member may have the same key. The text after
the last item read is not read: a key repeated after it (``json.loads`` would read the later one;
no API sends one) or damage after it goes unseen. Each item read so costs about a microsecond, as
much as its share of the full decode: past ``EARLY_TURNS`` (or when the turns are not within the
first ``HEAD_LIMIT`` bytes: another layout, such as spaces after the colons) the full decode,
``sqlite_turns.body_items`` cut after ``last``, is as cheap; it also reads anything else (a BOM, a
damaged start).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

from session_mcp.store.sqlite_turns import body_items

# Bytes inflated at first: a body's members before its turns (~450 in the demo's) and each turn's (~130);
# inflating costs ~5 us and ~3 us a KB, so a guess short of the turns wanted is cheaper than a long one.
HEAD_BYTES, TURN_BYTES = 640, 160
EARLY_TURNS = 24  # a later turn takes the full decode (~40 us for 60 turns; the items up to turn 40 cost as much)
HEAD_LIMIT = 4096  # the turns not found in this many bytes: not read this way
# One JSON value at a position, (value, end), as json.loads reads it (the decoder's documented-in-source hook).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_TURNS = '"conversation":{"items":['


class _Short(Exception):
    """The inflated text ends before the turns wanted: inflate more."""


def _turns(text: str) -> int | None:
    """Where the first turn starts in ``text``; ``None`` when the turns are not read this way."""
    at = text.find(_TURNS)
    if at < 0:
        raise _Short
    if text[0] != "{" or (at > 1 and (text[at - 1] != "," or not _first_top_level(text[: at - 1] + "}"))):
        return None
    return at + len(_TURNS)


def _first_top_level(before: str) -> bool:
    """Whether ``before`` (the text before the turns' member, closed) is one JSON object without a
    ``conversation``: the turns' member is then the top-level object's, and its first of that name."""
    members, end = _SCAN(before, 0)
    return end == len(before) and "conversation" not in members


def _early(body: bytes, last: int) -> list[Any] | None:
    """Items 0 to ``last`` of the body's turns, inflating only as much as they need; ``None`` when not read
    this way. An item is kept once the character after it is in (a number is not cut short)."""
    inflate = zlib.decompressobj()
    raw = inflate.decompress(body, HEAD_BYTES + TURN_BYTES * (last + 1))
    items: list[Any] = []
    pos: int | None = -1  # where the next item starts; -1 until the turns are found
    while True:
        try:  # a text cut inside a character, a value or before the turns: inflate more and go on
            text = raw.decode("utf-8", "surrogatepass")
            if pos == -1:
                pos = _turns(text)
            while pos is not None and len(items) <= last:
                if text[pos] == "]":
                    return None  # fewer turns: the full decode says what follows
                item, end = _SCAN(text, pos)
                if text[end] != "," and (text[end] != "]" or len(items) < last):
                    return None
                items.append(item)
                pos = end + 1
            return None if pos is None else items
        except (_Short, ValueError, IndexError, StopIteration):
            if pos == -1 and len(raw) >= HEAD_LIMIT:
                return None
            more = inflate.decompress(inflate.unconsumed_tail, max(len(raw), 1024))
            if not more:
                return None  # all of it inflated: the full decode says why not
            raw += more


def turn_items(body: bytes, last: int) -> list[Any]:
    """The raw items 0 to ``last`` of a stored body's turns: ``body_items(body)[: last + 1]``, cheaper."""
    try:
        items = _early(body, last) if last < EARLY_TURNS else None
    except zlib.error:
        items = None
    return body_items(body)[: last + 1] if items is None else items
