"""The SQLite store's transcript search over the time-ordered, contentless index (``sqlite_turns``).

The common search (a window, a role, nothing else, in a file holding one tenant's sessions) runs
inside FTS5 alone: the window is a rowid range, the role a bit test, a hit's session a shift; no
join with ``sessions``, whose rows carry the bodies. Any other filter, a file shared by tenants,
or a tenant with spilled keys joins ``sessions`` and filters there (``where.search_where``):
correct first, then fast for the usual case. Only the page's hits (at most ``limit``) read their
sessions' rows and bodies: role, offset and snippet come from the body's turn.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace
from typing import Any

from session_mcp.store.base import MARKS, RANK_LIMIT, SNIPPET_TOKENS, SearchFilters, SearchHit, SearchPage
from session_mcp.store.rows import turn_offset
from session_mcp.store.search import to_fts5
from session_mcp.store.snippets import snippet, wanted_terms
from session_mcp.store.sqlite_query import SQLITE
from session_mcp.store.sqlite_turns import (
    MAX_TURNS,
    NO_TIME_START,
    ROLE_BITS,
    ROLES,
    SLOT_BITS,
    TURN_SHIFT,
    BodyTurn,
    second_key,
)
from session_mcp.store.turn_items import turn_items
from session_mcp.store.where import search_where


def _alone(conn: sqlite3.Connection, tenant: str) -> bool:
    """Whether the file holds this tenant's sessions only and none of its keys spilled (three index seeks)."""
    low, high, spilled = conn.execute(
        "SELECT (SELECT min(tenant) FROM sessions), (SELECT max(tenant) FROM sessions), "
        "EXISTS (SELECT 1 FROM key_spills WHERE tenant = ?)",
        (tenant,),
    ).fetchone()
    return low in (None, tenant) and high in (None, tenant) and not spilled


def _window(conn: sqlite3.Connection, filters: SearchFilters) -> tuple[str, list[Any]]:
    """The rowid clauses of a window (exact: sessions of its edge seconds outside it are named and left out).

    Keys fall as time grows (``sqlite_turns``): ``since`` bounds them from above, ``until`` from below.
    """
    if filters.since is None and filters.until is None:
        return "", []
    slots = 1 << SLOT_BITS
    newest = second_key(filters.until) if filters.until is not None else 0
    oldest = second_key(filters.since) + slots if filters.since is not None else NO_TIME_START
    if oldest <= newest:
        return " AND 0", []
    clauses = ["turns_fts.rowid >= ?", "turns_fts.rowid < ?"]
    params = [newest << TURN_SHIFT, oldest << TURN_SHIFT]
    since = filters.since if filters.since is not None else -math.inf
    until = filters.until if filters.until is not None else math.inf
    outside = [
        int(key)
        for start, end in {(newest, newest + slots), (oldest - slots, oldest)}
        for key, time in conn.execute("SELECT sk, start_time FROM sessions WHERE sk >= ? AND sk < ?", (start, end))
        if time is None or not since <= time < until
    ]
    if outside:
        clauses.append(f"(turns_fts.rowid >> {TURN_SHIFT}) NOT IN ({','.join(map(str, sorted(set(outside))))})")
    return " AND " + " AND ".join(clauses), params


def _role(filters: SearchFilters) -> str:
    if filters.role is None:
        return ""
    return f" AND (turns_fts.rowid & {(1 << ROLE_BITS) - 1}) = {ROLES.get(filters.role, -1)}"


def search(
    conn: sqlite3.Connection, tenant: str, query: str, filters: SearchFilters, offset: int, limit: int
) -> SearchPage:
    """A page of hits of ``query`` for ``tenant`` (user text never reaches MATCH: ``to_fts5``)."""
    match = to_fts5(query)
    terms = wanted_terms(query)
    alone = _alone(conn, tenant)
    window, window_params = _window(conn, filters) if alone else ("", [])
    source, where = "turns_fts", f"turns_fts MATCH ?{window}{_role(filters)}"
    params = [match, *window_params]
    if not alone or filters != SearchFilters(role=filters.role, since=filters.since, until=filters.until):
        clauses, filter_params = search_where(SQLITE, tenant, replace(filters, role=None))
        source = f"turns_fts JOIN sessions s ON s.sk = (turns_fts.rowid >> {TURN_SHIFT})"
        where, params = f"{where} AND {clauses}", [*params, *filter_params]
    total_hits, total_sessions = conn.execute(
        f"SELECT count(*), count(DISTINCT turns_fts.rowid >> {TURN_SHIFT}) FROM {source} WHERE {where}", params
    ).fetchone()
    order = "relevance" if total_hits <= RANK_LIMIT else "newest"
    ranking = "bm25(turns_fts), turns_fts.rowid" if order == "relevance" else "turns_fts.rowid"
    rowids = [
        int(r[0])
        for r in conn.execute(
            f"SELECT turns_fts.rowid FROM {source} WHERE {where} ORDER BY {ranking} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
    ]
    keys = sorted({rowid >> TURN_SHIFT for rowid in rowids})
    rows = {
        int(r[0]): r[1:]
        for r in conn.execute(
            "SELECT sk, id, companion_id, started_at, status, created_at, body FROM sessions "
            f"WHERE sk IN ({','.join('?' * len(keys))})",
            keys,
        )
    }
    hits = []
    counts: dict[str, int] = {}
    in_session = (
        "SELECT count(*) FROM turns_fts WHERE turns_fts MATCH ? AND turns_fts.rowid >= ? "
        f"AND turns_fts.rowid < ?{_role(filters)}"
    )
    for key in keys:
        bounds = (match, key << TURN_SHIFT, (key + 1) << TURN_SHIFT)
        counts[rows[key][0]] = conn.execute(in_session, bounds).fetchone()[0]
    turns = [(rowid >> TURN_SHIFT, (rowid >> ROLE_BITS) & (MAX_TURNS - 1)) for rowid in rowids]
    last: dict[int, int] = {}  # per session, the last turn the page reads (each body is read once)
    for key, index in turns:
        last[key] = max(last.get(key, 0), index)
    items = {key: turn_items(rows[key][5], index) for key, index in last.items()}
    for key, index in turns:
        session_id, companion_id, started_at, status, created_at, _ = rows[key]
        turn = BodyTurn(items[key][index])
        origin = started_at if started_at is not None else created_at
        if origin is None:  # the first turn's time, as ``SessionDetail.turn_origin``
            origin = BodyTurn(items[key][0]).timestamp
        text = snippet(turn.text, terms, MARKS, SNIPPET_TOKENS)
        hits.append(
            SearchHit(
                session_id,
                companion_id,
                started_at,
                status,
                index,
                turn_offset(turn.timestamp, origin),
                turn.role,
                text,
            )
        )
    more = offset + len(hits) < total_hits
    return SearchPage(hits, total_hits, total_sessions, counts, order, offset + len(hits) if more else None)
