"""Bringing a store's schema up to date, whatever the engine: the steps, their backfills, a newer schema refused.

Each engine keeps its own ``MIGRATIONS`` (the dialects differ) and its own transaction around
``migrate``; the rule is the same for both, so it is written once here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from session_mcp.store.base import StoreError


class Executes(Protocol):
    """A connection that runs a statement (sqlite3's and psycopg's alike)."""

    def execute(self, query: str, /) -> object: ...


C = TypeVar("C", bound=Executes)


def run_migrations(
    conn: C, migrations: Sequence[Sequence[str]], backfills: Mapping[int, Callable[[C], None]], found: int
) -> None:
    """Run the steps after version ``found`` and each version's backfill; refuse a schema newer than ``migrations``."""
    known = len(migrations)
    if found > known:
        raise StoreError(
            f"the store was written by a newer session-mcp (schema {found}, this one knows {known}): "
            "upgrade session-mcp, or point --store elsewhere"
        )
    for version, step in enumerate(migrations[found:], start=found + 1):
        for statement in step:
            conn.execute(statement)
        if version in backfills:
            backfills[version](conn)
