"""Every store test on both engines: SQLite in a temporary folder, PostgreSQL in a database of its own.

PostgreSQL comes from ``SESSION_MCP_TEST_POSTGRES`` (a server URL; ``.ci/run`` starts a throwaway
cluster and sets it). Without it the PostgreSQL variants skip with a reason, unless
``SESSION_MCP_REQUIRE_POSTGRES`` is set (CI), where they fail: CI must not pass by skipping them.
Each test gets a fresh database (about 0.1 s to create and migrate), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from session_mcp.store.open import StoreEngine, StoreLocation, open_store
from session_mcp.store.sqlite import SqliteStore
from session_mcp.store.url import DatabaseURL

ENGINES = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get("SESSION_MCP_TEST_POSTGRES", "").strip()


def require_postgres() -> str:
    """The test server's URL; skips (or, in CI, fails) without one."""
    if not POSTGRES_URL:
        why = "no PostgreSQL: set SESSION_MCP_TEST_POSTGRES=postgresql://... (.ci/run starts a throwaway one)"
        if os.environ.get("SESSION_MCP_REQUIRE_POSTGRES", "").strip():
            pytest.fail(why)
        pytest.skip(why)
    return POSTGRES_URL


def url_of(database: str) -> str:
    """The test server's URL, naming ``database``."""
    parts = urlsplit(require_postgres())
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@contextmanager
def fresh_database() -> Iterator[DatabaseURL]:
    """A new, empty database on the test server, dropped (connections and all) afterwards."""
    import psycopg

    name = f"session_mcp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(require_postgres(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield DatabaseURL(url_of(name))
    finally:
        with psycopg.connect(require_postgres(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@contextmanager
def store_at(engine: str, folder: Path) -> Iterator[StoreLocation]:
    """Where a store of ``engine`` lives for one test: a file in ``folder``, or a fresh database."""
    if engine == "sqlite":
        yield folder / "store" / "store.sqlite3"
        return
    with fresh_database() as url:
        yield url


@contextmanager
def opened(engine: str, folder: Path) -> Iterator[StoreEngine]:
    with store_at(engine, folder) as location:
        store = open_store(location)
        try:
            yield store
        finally:
            store.close()


def check_integrity(store: StoreEngine) -> None:
    """SQLite's full-text index agrees with its rows (PostgreSQL's tsvector is a generated column)."""
    if isinstance(store, SqliteStore):
        store.call(lambda c: c.execute("INSERT INTO turns_fts(turns_fts, rank) VALUES ('integrity-check', 1)"))


def forget(store: StoreEngine, tenant: str, session_ids: Sequence[str]) -> None:
    """Delete these stored sessions behind the store's back, as if they had never been synced."""
    ids = list(session_ids)
    if isinstance(store, SqliteStore):

        def delete(conn: object) -> None:
            import sqlite3

            assert isinstance(conn, sqlite3.Connection)
            marks = ",".join("?" * len(ids))
            keys = f"SELECT sk FROM sessions WHERE tenant = ? AND id IN ({marks})"
            conn.execute(f"DELETE FROM turns WHERE (tk >> 16) IN ({keys})", (tenant, *ids))
            conn.execute(f"DELETE FROM sessions WHERE tenant = ? AND id IN ({marks})", (tenant, *ids))

        store.call(lambda conn: store.write(delete))
        return
    from session_mcp.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    store.call(lambda conn: conn.execute("DELETE FROM sessions WHERE tenant = %s AND id = ANY(%s)", (tenant, ids)))


def advisory_locks(store: StoreEngine) -> list[int]:
    """The backends holding an advisory lock in the store's database (a sync's lock): their pids."""
    from session_mcp.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    rows = store.call(
        lambda c: c.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
    )
    return [int(r[0]) for r in rows]
