"""The list rows of the PostgreSQL store, and the filters of its queries: ``sqlite_query``'s twin in SQL.

``list_rows`` holds one row per session, closed (with its transcript figures) or open (its latest
list row): windows, filters and pages read it only, never the bodies. Newest first by start time
(creation when it never started) then id (``COLLATE "C"``: SQLite's byte order), down the
``list_rows_by_start`` index, so a keyset position pages without gaps or repeats. Counts are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from session_mcp.companion.models import SessionSummary
from session_mcp.store.base import StoredPage, StoredQuery, StoredRow
from session_mcp.store.rows import figures_from, summary_json, summary_of, tags_json
from session_mcp.store.where import KEY, Dialect, query_where

Connection = psycopg.Connection[tuple[Any, ...]]
COLUMNS = (
    "tenant, id, open, start_time, list_time, companion_id, external_client_id, status, close_reason, "
    "session_type, modality, tags, summary, figures"
)
LIST_ROWS = (
    """CREATE TABLE list_rows (tenant text NOT NULL, id text COLLATE "C" NOT NULL, open boolean NOT NULL,
        start_time double precision, list_time double precision, companion_id text, external_client_id text,
        status text, close_reason text, session_type text, modality text, tags jsonb, summary text NOT NULL,
        figures text, PRIMARY KEY (tenant, id))""",
    f"CREATE INDEX list_rows_by_start ON list_rows (tenant, ({KEY}), id)",
)
# Schema 7, as SQLite's: the index holds the start time too, which an index-only scan of it needs (the planner
# reads only whole columns out of an index, not the expression's).
BY_START_COVERING = (
    "DROP INDEX list_rows_by_start",
    f"CREATE INDEX list_rows_by_start ON list_rows (tenant, ({KEY}), id, start_time)",
)
# A tag's value as SQLite's CAST(json_each.value AS TEXT) reads it (what the API's filter compares):
# a string unquoted, a number as written, true and false as 1 and 0.
TAG_MATCH = (
    "(SELECT CASE jsonb_typeof(v) WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN '1' ELSE '0' END "
    "ELSE v #>> '{{}}' END FROM (SELECT {column} -> %s) AS tag(v)) = %s"
)
POSTGRES = Dialect(
    mark="%s",
    tag=lambda column: TAG_MATCH.format(column=column),
    outcome="figures::jsonb ->> 'o'",  # rows.figures_json's "o"
    one_of=lambda expression, values: (f"{expression} = ANY(%s)", [list(values)]),
)


def write_rows(
    conn: Connection, tenant: str, sessions: Sequence[tuple[SessionSummary, str | None]], *, open_: bool
) -> None:
    """The list rows of ``sessions`` (each with its figures' JSON); an open one never replaces a closed one."""
    rows = [
        (
            tenant, s.id, open_, s.start_time, s.list_time, s.companion_id, s.external_client_id, s.state,
            s.close_reason, s.session_type, s.modality, tags_json(s), summary_json(s), figures,
        )
        for s, figures in sessions
    ]  # fmt: skip
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[2:])
    guard = " WHERE list_rows.open" if open_ else ""
    conn.cursor().executemany(
        f"INSERT INTO list_rows ({COLUMNS}) VALUES ({', '.join(['%s'] * 14)}) "
        f"ON CONFLICT (tenant, id) DO UPDATE SET {updates}{guard}",
        rows,
    )


def run_query(conn: Connection, tenant: str, query: StoredQuery) -> StoredPage:
    total, tail, params = _selection(conn, tenant, query)
    figures = "figures" if query.with_figures else "NULL"
    rows = conn.execute(f"SELECT summary, {figures} FROM list_rows {tail}", params).fetchall()
    return StoredPage(
        [StoredRow(summary_of(r[0]), figures_from(r[1]) if r[1] is not None else None) for r in rows], total
    )


def run_query_ids(conn: Connection, tenant: str, query: StoredQuery) -> tuple[list[str], int]:
    """``run_query``'s selection as ids only: no list row is read or validated (a QA run's choice)."""
    total, tail, params = _selection(conn, tenant, query)
    return [str(r[0]) for r in conn.execute(f"SELECT id FROM list_rows {tail}", params).fetchall()], total


def _selection(conn: Connection, tenant: str, query: StoredQuery) -> tuple[int, str, list[Any]]:
    """The exact count of ``query`` (keyset and limit aside), and the rest of its SELECT (from WHERE on)."""
    where, params = query_where(POSTGRES, tenant, query)
    total = conn.execute(f"SELECT count(*) FROM list_rows WHERE {where}", params).fetchone()
    if query.after is not None:  # the index seeks to the position
        where += f" AND ({KEY}, id) < (%s, %s)"
        params += [query.after[0], query.after[1]]
    limit = "" if query.limit is None else f"LIMIT {int(query.limit)}"
    return int(total[0]) if total else 0, f"WHERE {where} ORDER BY {KEY} DESC, id DESC {limit}", params
