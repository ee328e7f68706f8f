"""The WHERE clauses of the stored queries and of the transcript search, once for both engines.

What a filter means is the same on SQLite and PostgreSQL; only the SQL that says it differs: the
parameter mark, how a tag of a JSON column is compared, how a value is one of many, where a row's
outcome is read. A ``Dialect`` holds those four; the clauses are built here from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from session_mcp.store.base import UNKNOWN_OUTCOME, SearchFilters, StoredQuery

KEY = "coalesce(start_time, 0)"  # the list's order: start time, an unknown one last


@dataclass(frozen=True)
class Dialect:
    mark: str  # a parameter: "?" or "%s"
    tag: Callable[[str], str]  # a clause on a JSON tags column, with two marks: the key, the value
    outcome: str  # a list row's stored outcome (none: NULL)
    one_of: Callable[[str, Sequence[Any]], tuple[str, list[Any]]]  # "expression is one of values", its params


def query_where(dialect: Dialect, tenant: str, query: StoredQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of a stored query over ``list_rows``: this tenant (always), then each filter given."""
    m = dialect.mark
    clauses, params = _given(
        (f"tenant = {m}", tenant),
        (f"{KEY} >= {m}", query.since),  # window starts are after 2000: an unknown time (0) is never in
        (f"{KEY} < {m} AND start_time IS NOT NULL", query.until),
        (f"companion_id = {m}", query.companion_id),
        (f"external_client_id = {m}", query.external_client_id),
    )
    for key, value in query.tags:
        clauses.append(dialect.tag("tags"))
        params += [key, value]
    for expression, values in (
        ("lower(coalesce(status, ''))", query.statuses),
        ("lower(coalesce(close_reason, ''))", query.close_reasons),
        ("lower(coalesce(session_type, ''))", query.session_types),
        ("lower(coalesce(modality, ''))", query.modalities),
        # none stored (an open session, an older row) is unknown
        (f"coalesce({dialect.outcome}, '{UNKNOWN_OUTCOME}')", query.outcomes),
    ):
        if values:
            clause, values_params = dialect.one_of(expression, sorted(values))
            clauses.append(clause)
            params += values_params
    return " AND ".join(clauses), params


def search_where(dialect: Dialect, tenant: str, filters: SearchFilters) -> tuple[str, list[Any]]:
    """The WHERE clause of a transcript search after its match (sessions ``s``, turns ``t``): this
    tenant (always), then each filter given."""
    m = dialect.mark
    clauses, params = _given(
        (f"s.tenant = {m}", tenant),
        (f"t.role = {m}", filters.role),
        (f"s.companion_id = {m}", filters.companion_id),
        (f"s.external_client_id = {m}", filters.external_client_id),
        (f"s.start_time >= {m}", filters.since),
        (f"s.start_time < {m}", filters.until),
    )
    for key, value in filters.tags:
        tag = dialect.tag("r.tags")
        clauses.append(f"EXISTS (SELECT 1 FROM list_rows r WHERE r.tenant = s.tenant AND r.id = s.id AND {tag})")
        params += [key, value]
    if filters.statuses:
        clause, values_params = dialect.one_of("s.status", list(filters.statuses))
        clauses.append(clause)
        params += values_params
    return " AND ".join(clauses), params


def _given(*pairs: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    """The clauses whose value is given (not None), and those values as their parameters."""
    given = [(clause, value) for clause, value in pairs if value is not None]
    return [clause for clause, _ in given], [value for _, value in given]
