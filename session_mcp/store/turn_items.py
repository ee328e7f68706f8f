"""The first turns of a stored body, read without inflating and decoding the whole body.

A search page needs one or two turns of each of its sessions (the hit's, and the first one's time
when the session has no start), but ``json.loads`` of a body builds every turn: most of what a
page costs a session. Here a body is inflated only as far as the turns wanted, its JSON text
searched (in C) for ``"conversation":{"items":[``, where the store's bodies keep their turns, and
the items up to the last one wanted are decoded with the ``json`` module's own scanner: each is the
value ``json.loads`` gives. The found text must be a member of the top-level object (the text
before it, closed, is one JSON object) and no earlier member may have the same key. The text after
the last item read is not read: a key repeated after it (``json.loads`` would read the later one;
no API sends one) or damage after it goes unseen. Anything else (another layout, a BOM, a damaged
start, a turn past ``EARLY_TURNS``, where decoding items one at a time costs more than decoding
the whole body at once) takes the full decode, ``sqlite_turns.body_items``, cut after ``last``.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

from session_mcp.store.sqlite_turns import body_items

EARLY_TURNS = 8  # the turns read one at a time; a later one costs more so than the whole body's decode
FIRST_BYTES = 2048  # inflated at first (a body's first few turns), doubled until the turns wanted are in
# One JSON value at a position, (value, end), as json.loads reads it (the decoder's documented-in-source hook).
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_TURNS = '"conversation":{"items":['


class _Short(Exception):
    """The inflated text ends before the turns wanted: inflate more."""


def _read(raw: bytes, last: int) -> list[Any] | None:
    """Items 0 to ``last`` of ``raw``'s ``conversation.items``; ``None`` when not read this way; ``_Short``
    (or a decoding error) when ``raw`` may be a prefix too short."""
    text = raw.decode("utf-8", "surrogatepass")
    at = text.find(_TURNS)
    if at < 0:
        raise _Short
    if text[0] != "{" or (at > 1 and (text[at - 1] != "," or "conversation" in json.loads(text[: at - 1] + "}"))):
        return None  # not a member of the top-level object, or not its first ``conversation``
    pos = at + len(_TURNS)
    items: list[Any] = []
    while len(items) <= last:
        if text[pos] == "]":
            return None  # fewer turns: the full decode says what follows
        item, pos = _SCAN(text, pos)
        items.append(item)
        if text[pos] != "," and (text[pos] != "]" or len(items) <= last):
            return None
        pos += 1
    return items


def turn_items(body: bytes, last: int) -> list[Any]:
    """The raw items 0 to ``last`` of a stored body's turns: ``body_items(body)[: last + 1]``, cheaper."""
    if last < EARLY_TURNS:
        inflate = zlib.decompressobj()
        try:
            raw = inflate.decompress(body, FIRST_BYTES)
            while True:
                try:
                    items = _read(raw, last)
                    break
                except (_Short, ValueError, IndexError, StopIteration):
                    more = inflate.decompress(inflate.unconsumed_tail, len(raw))
                    if not more:
                        items = None  # the whole body was read: the full decode says why not
                        break
                    raw += more
        except zlib.error:
            items = None
        if items is not None:
            return items
    return body_items(body)[: last + 1]
