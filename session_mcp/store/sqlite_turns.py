"""The SQLite store's turn index: keys ordered by time, a contentless FTS5 table, turn text read from bodies.

A session's text lives once, in its compressed body; ``turns_fts`` is contentless (``content=''``):
it holds the index only. So deleting a turn must hand FTS5 the text it indexed (``'delete'`` with
other text leaves ghost hits and raises nothing): ``unindex`` reads it back from the body.

Keys carry what the search filters on most, so those filters run inside FTS5 with no join:

- a session's key is ``(LATEST_TIME - start second) << SLOT_BITS | slot`` (its order among the
  sessions of the file that start in that second): newer sessions get smaller keys, so a sync,
  which stores the newest first, appends to every b-tree (keys growing with time would insert
  each session before the last, leaving pages half full: +60 % on ``sessions``). A session with
  no start time (nor creation) gets a key above every real time's (``NO_TIME_START``), so no
  window reaches it, as none reaches it through ``start_time``;
- a turn's rowid is ``session key << TURN_SHIFT | turn index << ROLE_BITS | role code``: a time window
  is a rowid range, a role is a bit test, a hit's session is a shift and newest first is rowid order.

The index holds a session's first ``MAX_TURNS`` turns (its wire JSON keeps any beyond). A second
of more than ``1 << SLOT_BITS`` sessions spills into the next free key of an older second; such
keys are listed in ``key_spills`` and their tenant's windowed searches filter by ``start_time``
through the join.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import zlib
from collections.abc import Sequence
from typing import Any

from session_mcp.companion.models import EARLIEST_TIME, LATEST_TIME, SessionDetail
from session_mcp.store.base import StoreError
from session_mcp.store.snippets import TOKENIZER

SLOT_BITS = 8  # sessions of the file starting in the same second before one spills: 256
ROLE_BITS = 2
INDEX_BITS = 12
MAX_TURNS = 1 << INDEX_BITS  # turns of a session the index holds: 4,096 (the wire JSON keeps any beyond)
TURN_SHIFT = INDEX_BITS + ROLE_BITS
ROLES = {"user": 0, "agent": 1}  # any other role: 2
OTHER_ROLE = 2

TURNS_FTS = f"CREATE VIRTUAL TABLE turns_fts USING fts5(text, content='', tokenize='{TOKENIZER}')"
KEY_SPILLS = "CREATE TABLE key_spills (sk INTEGER PRIMARY KEY, tenant TEXT NOT NULL)"


def second_key(second: float) -> int:
    """The first session key of the second holding ``second`` (times clamp to 2000-2100, as the models')."""
    return (LATEST_TIME - min(max(math.floor(second), EARLIEST_TIME), LATEST_TIME)) << SLOT_BITS


NO_TIME_START = second_key(EARLIEST_TIME) + (1 << SLOT_BITS)  # keys of sessions with no time: above every time's
NO_TIME_END = 1 << 48


def new_key(conn: sqlite3.Connection, tenant: str, start_time: float | None) -> int:
    """A free key for a session starting at ``start_time``: the next slot of its second (when that second
    is full, of the next older one with room: recorded in ``key_spills``)."""
    low, high = (NO_TIME_START, NO_TIME_END) if start_time is None else (second_key(start_time), 0)
    spilled = False
    while True:
        high = max(high, low + (1 << SLOT_BITS))
        top = conn.execute("SELECT max(sk) FROM sessions WHERE sk >= ? AND sk < ?", (low, high)).fetchone()[0]
        key = low if top is None else int(top) + 1
        if key < high:
            break
        low, spilled = high, True
    if spilled:
        conn.execute("INSERT INTO key_spills (sk, tenant) VALUES (?, ?)", (key, tenant))
    return key


def turn_rowid(key: int, index: int, role: str) -> int:
    return (key << TURN_SHIFT) | (index << ROLE_BITS) | ROLES.get(role, OTHER_ROLE)


def index_session(conn: sqlite3.Connection, key: int, session: SessionDetail) -> None:
    """Index the first ``MAX_TURNS`` turns of ``session``, stored under ``key``."""
    conn.executemany(
        "INSERT INTO turns_fts (rowid, text) VALUES (?, ?)",
        ((turn_rowid(key, i, t.role), t.text) for i, t in enumerate(session.turns[:MAX_TURNS])),
    )


class BodyTurn:
    """A turn read straight from a stored body's JSON (no validation: the body was validated when written)."""

    __slots__ = ("role", "text", "timestamp")

    def __init__(self, item: dict[str, Any]) -> None:
        role, text = item.get("role"), item.get("text")
        self.role = "unknown" if role is None else str(role)
        self.text = "" if text is None else str(text)
        timestamp = item.get("timestamp")
        self.timestamp = float(timestamp) if isinstance(timestamp, int | float) else None


UNREADABLE = (zlib.error, ValueError, AttributeError)  # a body damaged on disk: not zlib, not JSON, not an object


def body_items(body: bytes) -> list[dict[str, Any]]:
    """The raw turn items of a stored body (``BodyTurn`` reads one); a damaged body is a ``StoreError``."""
    try:
        wire = json.loads(zlib.decompress(body))
        conversation = wire.get("conversation") or {}
        return list(conversation.get("items") or [])
    except UNREADABLE as exc:
        raise StoreError(
            f"a stored session cannot be read ({exc}): the store is damaged; purge it, or pass another --store"
        ) from None


def body_turns(body: bytes) -> list[BodyTurn]:
    """The turns of a stored body as its model reads them (``ConversationItem``'s defaults)."""
    return [BodyTurn(item) for item in body_items(body)]


def unindex(conn: sqlite3.Connection, keys: Sequence[int]) -> None:
    """Remove the index entries of the sessions stored under ``keys``, with the text each was indexed with.

    A damaged body cannot give its text back, and no other text removes its entries: the index is
    then rebuilt from the other bodies, so deleting (purge, a sync storing it again) still cleans up.
    """
    damaged = False
    for key in keys:
        row = conn.execute("SELECT body FROM sessions WHERE sk = ?", (key,)).fetchone()
        if row is None:
            continue
        try:
            turns = body_turns(row[0])[:MAX_TURNS]
        except StoreError:
            damaged = True
            continue
        conn.executemany(
            "INSERT INTO turns_fts (turns_fts, rowid, text) VALUES ('delete', ?, ?)",
            ((turn_rowid(key, i, t.role), t.text) for i, t in enumerate(turns)),
        )
        conn.execute("DELETE FROM key_spills WHERE sk = ?", (key,))
    if damaged:
        conn.execute("INSERT INTO turns_fts (turns_fts) VALUES ('delete-all')")
        conn.executemany("DELETE FROM key_spills WHERE sk = ?", ((key,) for key in keys))
        gone = set(keys)
        for key, body in conn.execute("SELECT sk, body FROM sessions").fetchall():
            if key not in gone:
                with contextlib.suppress(StoreError):  # another damaged body: left unindexed, as it is unreadable
                    index_turns(conn, key, body_turns(body))


def index_turns(conn: sqlite3.Connection, key: int, turns: Sequence[BodyTurn]) -> None:
    """Index turns read from a body (the first ``MAX_TURNS``), as ``index_session`` indexes a session's."""
    conn.executemany(
        "INSERT INTO turns_fts (rowid, text) VALUES (?, ?)",
        ((turn_rowid(key, i, t.role), t.text) for i, t in enumerate(turns[:MAX_TURNS])),
    )


def rekey_and_index(conn: sqlite3.Connection) -> None:
    """Give each stored session its time-ordered key and index its turns from its body (schema 6).

        Newest first, as a sync stores them (keys then grow as rows are written); the old keys were made
        negative first, so no new key meets one. The turns are read as ``unindex`` reads them; a damaged
    body's are not indexed (it cannot be read anyway) rather than the migration failing.
    """
    rows = conn.execute("SELECT sk, tenant, start_time FROM sessions ORDER BY start_time DESC, sk").fetchall()
    for old, tenant, start_time in rows:
        key = new_key(conn, tenant, start_time)
        conn.execute("UPDATE sessions SET sk = ? WHERE sk = ?", (key, old))
        body = conn.execute("SELECT body FROM sessions WHERE sk = ?", (key,)).fetchone()[0]
        with contextlib.suppress(StoreError):  # a damaged body: left unindexed (``unindex`` copes), not a lost file
            index_turns(conn, key, body_turns(body))
