"""Every store test on both engines: SQLite in a temporary folder, PostgreSQL in a database of its own.

PostgreSQL comes from ``SESSION_MCP_TEST_POSTGRES`` (a server URL; ``.ci/run`` starts a throwaway
cluster and sets it). Without it the PostgreSQL variants skip with a reason, unless
``SESSION_MCP_REQUIRE_POSTGRES`` is set (CI), where they fail: CI must not pass by skipping them.
Each test gets a fresh database (about 0.1 s to create and migrate), dropped afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from session_mcp.store.open import StoreEngine, StoreLocation, open_store
from session_mcp.store.sqlite import SqliteStore
from session_mcp.store.sqlite_turns import MAX_TURNS, TURNS_FTS, body_turns, turn_rowid
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
    """SQLite's full-text index agrees with its rows (PostgreSQL's tsvector is a generated column).

    The index is contentless: FTS5's own check cannot see a ghost entry left by a ``'delete'`` given
    other text than was indexed, so the index is also compared, entry for entry, with one built
    afresh from the bodies.
    """
    if isinstance(store, SqliteStore):
        store.call(lambda c: c.execute("INSERT INTO turns_fts(turns_fts, rank) VALUES ('integrity-check', 1)"))
        store.call(index_differences)


def index_differences(conn: sqlite3.Connection) -> None:
    """Fail with the entries the index and the bodies disagree on (term, rowid, column, position)."""
    conn.execute(TURNS_FTS.replace("turns_fts", "temp.fresh_fts"))
    try:
        for key, body in conn.execute("SELECT sk, body FROM sessions").fetchall():
            conn.executemany(
                "INSERT INTO temp.fresh_fts (rowid, text) VALUES (?, ?)",
                ((turn_rowid(key, i, t.role), t.text) for i, t in enumerate(body_turns(body)[:MAX_TURNS])),
            )
        conn.execute("CREATE VIRTUAL TABLE temp.kept USING fts5vocab(main, turns_fts, instance)")
        conn.execute("CREATE VIRTUAL TABLE temp.fresh USING fts5vocab(temp, fresh_fts, instance)")
        ghosts = conn.execute("SELECT * FROM temp.kept EXCEPT SELECT * FROM temp.fresh LIMIT 5").fetchall()
        missing = conn.execute("SELECT * FROM temp.fresh EXCEPT SELECT * FROM temp.kept LIMIT 5").fetchall()
        assert (ghosts, missing) == ([], []), f"index entries without a body: {ghosts}; not indexed: {missing}"
    finally:
        for table in ("kept", "fresh", "fresh_fts"):
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def forget(store: StoreEngine, tenant: str, session_ids: Sequence[str]) -> None:
    """Delete these stored sessions behind the store's back, as if they had never been synced."""
    ids = list(session_ids)
    if isinstance(store, SqliteStore):

        def delete(conn: sqlite3.Connection) -> None:
            from session_mcp.store.sqlite import delete_sessions

            marks = ",".join("?" * len(ids))
            keys = conn.execute(f"SELECT sk FROM sessions WHERE tenant = ? AND id IN ({marks})", (tenant, *ids))
            delete_sessions(conn, [int(r[0]) for r in keys.fetchall()])

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
