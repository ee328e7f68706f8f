"""The list rows of the SQLite store: every listed session's row, written and queried apart from bodies.

``list_rows`` holds one row per session, closed (stored, with its transcript ``Figures``) or open
(pending, with its latest list row): the columns filters read first, the list row and figures
(compact JSON) last. Windows, filters and pages read this table only: never the ``sessions``
table, whose compressed bodies would make every row scan walk their overflow pages. Newest first
by start time (creation when it never started) then id: a total order, so a keyset position
(start time, id of the last row) pages without gaps or repeats, and page 500 costs what page 1
costs (the ``list_rows_by_start`` index). The count is exact and ignores the keyset and limit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from session_mcp.companion.models import SessionSummary
from session_mcp.store.base import StoredPage, StoredQuery, StoredRow
from session_mcp.store.rows import figures_from, summary_json, summary_of, tags_json
from session_mcp.store.where import KEY, Dialect, query_where

TAG_VALUE = "CAST(value AS TEXT)"  # a tag's value as the API's tag filter compares it: text
SQLITE = Dialect(
    mark="?",
    tag=lambda column: f"EXISTS (SELECT 1 FROM json_each({column}) WHERE key = ? AND {TAG_VALUE} = ?)",
    outcome="json_extract(figures, '$.o')",  # rows.figures_json's "o"
    one_of=lambda expression, values: (f"{expression} IN ({','.join('?' * len(values))})", list(values)),
)

LIST_ROWS = (
    """CREATE TABLE list_rows (tenant TEXT NOT NULL, id TEXT NOT NULL, open INTEGER NOT NULL, start_time REAL,
        list_time REAL, companion_id TEXT, external_client_id TEXT, status TEXT, close_reason TEXT,
        session_type TEXT, modality TEXT, tags TEXT, summary TEXT NOT NULL, figures TEXT,
        PRIMARY KEY (tenant, id)) WITHOUT ROWID""",
    # The order's own expression: pages are read in index order (no sort) and windows are index ranges.
    f"CREATE INDEX list_rows_by_start ON list_rows (tenant, {KEY}, id)",
)
# Schema 7: the index on start time holds the start time itself too. SQLite (3.40) reads an index on an
# expression as covering only when it holds each column the expression reads: before, every row a window
# matched was looked up in the table for it, to count or list ids (a tenth of a QA re-run of 50,000 sessions).
BY_START_COVERING = (
    "DROP INDEX list_rows_by_start",
    f"CREATE INDEX list_rows_by_start ON list_rows (tenant, {KEY}, id, start_time)",
)


def write_rows(
    conn: sqlite3.Connection, tenant: str, sessions: Sequence[tuple[SessionSummary, str | None]], *, open_: bool
) -> None:
    """The list rows of ``sessions`` (each with its figures' JSON); an open one never replaces a closed one."""
    rows = [
        (
            tenant, s.id, int(open_), s.start_time, s.list_time, s.companion_id, s.external_client_id, s.state,
            s.close_reason, s.session_type, s.modality, tags_json(s), summary_json(s), figures,
        )
        for s, figures in sessions
    ]  # fmt: skip
    columns = (
        "tenant, id, open, start_time, list_time, companion_id, external_client_id, status, close_reason, "
        "session_type, modality, tags, summary, figures"
    )
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[2:])
    guard = " WHERE list_rows.open = 1" if open_ else ""
    conn.executemany(
        f"INSERT INTO list_rows ({columns}) VALUES ({', '.join('?' * 14)}) "
        f"ON CONFLICT (tenant, id) DO UPDATE SET {updates}{guard}",
        rows,
    )


def delete_rows(conn: sqlite3.Connection, tenant: str, session_ids: Sequence[str]) -> None:
    conn.executemany("DELETE FROM list_rows WHERE tenant = ? AND id = ?", [(tenant, i) for i in session_ids])


def run_query(conn: sqlite3.Connection, tenant: str, query: StoredQuery) -> StoredPage:
    total, tail, params = _selection(conn, tenant, query)
    figures = "figures" if query.with_figures else "NULL"
    rows = conn.execute(f"SELECT summary, {figures} FROM list_rows {tail}", params).fetchall()
    return StoredPage(
        [StoredRow(summary_of(r[0]), figures_from(r[1]) if r[1] is not None else None) for r in rows], int(total)
    )


def run_query_ids(conn: sqlite3.Connection, tenant: str, query: StoredQuery) -> tuple[list[str], int]:
    """``run_query``'s selection as ids only: no list row is read or validated (a QA run's choice). Every
    match read (no keyset, no limit): their number is the count, not counted again (SQLite reads each
    row beside the index on start time to count it: a tenth of a QA re-run of 50,000 sessions)."""
    every = query.after is None and query.limit is None
    total, tail, params = _selection(conn, tenant, query, count=not every)
    ids = [r[0] for r in conn.execute(f"SELECT id FROM list_rows {tail}", params)]
    return ids, len(ids) if every else total


def _selection(
    conn: sqlite3.Connection, tenant: str, query: StoredQuery, *, count: bool = True
) -> tuple[int, str, list[Any]]:
    """The exact count of ``query`` (keyset and limit aside; 0 unless ``count``), and the rest of its
    SELECT (from WHERE on)."""
    where, params = query_where(SQLITE, tenant, query)
    total = conn.execute(f"SELECT count(*) FROM list_rows WHERE {where}", params).fetchone()[0] if count else 0
    if query.after is not None:  # the index seeks to the position
        where += f" AND {KEY} <= ? AND ({KEY} < ? OR id < ?)"
        params += [query.after[0], query.after[0], query.after[1]]
    limit = "" if query.limit is None else f"LIMIT {int(query.limit)}"
    return int(total), f"WHERE {where} ORDER BY {KEY} DESC, id DESC {limit}", params


MAX_PARAMETERS = 500  # ids bound in one statement: under SQLite's limit on bound parameters


def rows_by_ids(
    conn: sqlite3.Connection, statement: str, params: tuple[Any, ...], session_ids: Sequence[str], column: str = "id"
) -> list[Any]:
    """The rows of ``statement`` (a SELECT whose WHERE clause comes last) among ``session_ids``, read in chunks."""
    wanted = list(dict.fromkeys(session_ids))
    found: list[Any] = []
    for start in range(0, len(wanted), MAX_PARAMETERS):
        chunk = wanted[start : start + MAX_PARAMETERS]
        found += conn.execute(
            f"{statement} AND {column} IN ({','.join('?' * len(chunk))})", (*params, *chunk)
        ).fetchall()
    return found
