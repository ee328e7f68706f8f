"""``SessionStore.query`` on SQLite: windows and filters as one statement over closed and open sessions.

Closed sessions (``sessions``) and open ones (``pending``, by their latest list row) are one
``UNION ALL``, each branch filtered by the tenant first, newest first by start time (creation
when it never started) then id: a total order, so a keyset position (start time, id of the last
row) pages without gaps or repeats, and page 500 costs what page 1 costs (the
``sessions_by_start`` index). The count is exact and ignores the keyset and the limit.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from session_mcp.store.base import StoredPage, StoredQuery, StoredRow
from session_mcp.store.rows import figures_from, summary_of

KEY = "coalesce(start_time, 0)"
TAG_VALUE = "CAST(value AS TEXT)"  # a tag's value as the API's tag filter compares it: text


def _filters(tenant: str, query: StoredQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of one branch (both tables name their columns alike)."""
    clauses = ["tenant = ?", "summary IS NOT NULL"]
    params: list[Any] = [tenant]
    for clause, value in (
        ("start_time >= ?", query.since),  # an unknown time is in no bounded window
        ("start_time < ?", query.until),
        ("companion_id = ?", query.companion_id),
        ("external_client_id = ?", query.external_client_id),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    for key, value in query.tags:
        clauses.append(f"EXISTS (SELECT 1 FROM json_each(tags) WHERE key = ? AND {TAG_VALUE} = ?)")
        params += [key, value]
    for column, values in (
        ("status", query.statuses),
        ("close_reason", query.close_reasons),
        ("session_type", query.session_types),
        ("modality", query.modalities),
    ):
        if values:
            clauses.append(f"lower(coalesce({column}, '')) IN ({','.join('?' * len(values))})")
            params += sorted(values)
    return " AND ".join(clauses), params


def _union(where: str, figures: str) -> str:
    return (
        f"SELECT {KEY} AS k, id, summary, {figures} AS figures FROM sessions WHERE {where} "
        f"UNION ALL SELECT {KEY} AS k, id, summary, NULL AS figures FROM pending WHERE {where}"
    )


def run_query(conn: sqlite3.Connection, tenant: str, query: StoredQuery) -> StoredPage:
    where, params = _filters(tenant, query)
    total = conn.execute(f"SELECT count(*) FROM ({_union(where, 'NULL')})", (*params, *params)).fetchone()[0]
    if query.after is not None:  # in each branch, so the index seeks to the position
        where += f" AND ({KEY} < ? OR ({KEY} = ? AND id < ?))"
        params += [query.after[0], query.after[0], query.after[1]]
    limit = "" if query.limit is None else f"LIMIT {int(query.limit)}"
    rows = conn.execute(
        f"SELECT summary, figures FROM ({_union(where, 'figures' if query.with_figures else 'NULL')}) "
        f"ORDER BY k DESC, id DESC {limit}",
        (*params, *params),
    ).fetchall()
    return StoredPage(
        [StoredRow(summary_of(r[0]), figures_from(r[1]) if r[1] is not None else None) for r in rows], int(total)
    )
