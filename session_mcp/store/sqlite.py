"""The session store on the standard library's SQLite: one file, WAL, FTS5, a partition per tenant.

- **Layout**: ``sessions`` holds each closed session's wire JSON (``SessionDetail.to_wire()``,
  zlib-compressed: transcripts compress about 4:1, which keeps the file, index included, near the
  raw JSON's size) beside the summary columns that filters read. The full-text index ``turns_fts``
  is contentless: a turn's text lives only in the body (``sqlite_turns``: deletes hand FTS5 the
  text back from it; ``snippets`` marks a page's hits). A session's key is ordered by start time
  and a turn's key holds its session, index and role, so the common search runs inside FTS5
  alone (``sqlite_search``).
  ``list_rows`` (``sqlite_query``) holds every listed session's list row and transcript figures,
  open sessions' too: what windows, filters and statistics read, no body in the way.
- **Tenants**: one file may hold several tenants' rows; ``SqliteTenant`` is bound to one and every
  statement it runs filters by it (``tenant = ?``), so no query can reach another tenant's rows.
- **Concurrency**: WAL (readers never block the writer), ``busy_timeout``, every write one
  ``BEGIN IMMEDIATE`` transaction (a deferred one that reads first fails at once under contention).
  One connection per ``SqliteStore``, used by one worker thread at a time (``anyio.to_thread``; a
  search, by ``search_thread``'s, a cheaper hop): queries never stall the event loop.
- **Private**: the file created ``0600`` (SQLite gives its ``-wal`` and ``-shm`` files the same
  mode), in a ``0700`` folder when session-mcp made it (``store.files``).
- **Schema**: ``schema_version`` and ``MIGRATIONS``: ``migrate`` brings an older file up to date; a
  newer one is refused, not damaged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.store.base import (
    SEARCH_SECONDS,
    SearchFilters,
    SearchPage,
    StoredOutcome,
    StoredPage,
    StoredQuery,
    StoreError,
    StoreInfo,
    SyncRunningError,
    SyncState,
    search_stopped,
)
from session_mcp.store.files import NO_FOLLOW, lock_file, private_file
from session_mcp.store.migrations import run_migrations
from session_mcp.store.rows import figures_json, session_columns, session_of_body, stored_bodies
from session_mcp.store.search import to_fts5
from session_mcp.store.search_thread import run_in_search_thread
from session_mcp.store.sqlite_qa import SqliteQaRecords
from session_mcp.store.sqlite_query import (
    BY_START_COVERING,
    LIST_ROWS,
    rows_by_ids,
    run_query,
    run_query_ids,
    write_rows,
)
from session_mcp.store.sqlite_search import search
from session_mcp.store.sqlite_turns import KEY_SPILLS, TURNS_FTS, index_session, new_key, rekey_and_index, unindex

T = TypeVar("T")
logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
PROGRESS_STEPS = 10_000  # SQLite calls the search's time-bound handler every this many virtual-machine steps

# MIGRATIONS[n] takes a file from schema version n to n + 1: statements, run in one transaction.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sessions (
            sk INTEGER PRIMARY KEY, tenant TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL,
            raw_bytes INTEGER NOT NULL, turn_count INTEGER NOT NULL,
            companion_id TEXT, external_client_id TEXT, status TEXT, close_reason TEXT, session_type TEXT,
            modality TEXT, created_at REAL, started_at REAL, closed_at REAL, list_time REAL, start_time REAL,
            stored_at REAL NOT NULL, UNIQUE (tenant, id))""",
        "CREATE INDEX sessions_by_list ON sessions (tenant, list_time)",
        "CREATE TABLE turns (tk INTEGER PRIMARY KEY, role TEXT NOT NULL, offset_s REAL, text TEXT NOT NULL)",
        """CREATE VIRTUAL TABLE turns_fts USING fts5(text, content='turns', content_rowid='tk',
            tokenize='unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER turns_ai AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts(rowid, text) VALUES (new.tk, new.text); END""",
        """CREATE TRIGGER turns_ad AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, text) VALUES ('delete', old.tk, old.text); END""",
        """CREATE TABLE pending (tenant TEXT NOT NULL, id TEXT NOT NULL, list_time REAL, first_seen REAL NOT NULL,
            PRIMARY KEY (tenant, id)) WITHOUT ROWID""",
        "CREATE TABLE sync_state (tenant TEXT PRIMARY KEY, last_sync REAL, newest_seen REAL)",
    ),
    # 2: whether the latest sync ended whole (a file of version 1 reads as not: its next sync lists on).
    ("ALTER TABLE sync_state ADD COLUMN complete INTEGER NOT NULL DEFAULT 0",),
    # 3: every listed session answerable from the store without reading a body: ``list_rows`` (closed
    # sessions with their transcript figures, filled from the bodies by ``backfill_v3``; open ones with
    # their latest list row), an open session given up (older than the sync's MAX_PENDING_AGE) kept in
    # answers, and how far back the store is whole (``reached``: a file of version 2 does not know, so
    # its next sync lists on).
    (
        *LIST_ROWS,
        "ALTER TABLE pending ADD COLUMN given_up INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sync_state ADD COLUMN reached REAL",
        "UPDATE sync_state SET complete = 0",
    ),
    # 4: QA findings of stored sessions per rules fingerprint: a re-run with the same rules checks nothing again.
    (
        """CREATE TABLE findings (tenant TEXT NOT NULL, id TEXT NOT NULL, rules TEXT NOT NULL, body TEXT NOT NULL,
            PRIMARY KEY (tenant, id, rules)) WITHOUT ROWID""",
    ),
    # 5: reviewers' verdicts on findings and notes on sessions (kept here: the upstream has no such endpoint).
    (
        """CREATE TABLE annotations (
            ak INTEGER PRIMARY KEY, tenant TEXT NOT NULL, session_id TEXT NOT NULL, kind TEXT NOT NULL,
            check_id TEXT, turn_index INTEGER, rules TEXT, reviewer TEXT NOT NULL, at REAL NOT NULL,
            text TEXT NOT NULL)""",
        "CREATE INDEX annotations_by_session ON annotations (tenant, session_id)",
    ),
    # 6: a turn's text once (in the body; the index contentless) and keys ordered by start time, with the
    # role in a turn's key (``sqlite_turns``): old keys made negative, then each session rekeyed and
    # indexed from its body by ``sqlite_turns.rekey_and_index``.
    (
        "DROP TRIGGER turns_ai",
        "DROP TRIGGER turns_ad",
        "DROP TABLE turns_fts",
        "DROP TABLE turns",
        TURNS_FTS,
        KEY_SPILLS,
        "UPDATE sessions SET sk = -sk",
    ),
    # 7: the list rows' index on start time covers a window's ids and count (``sqlite_query.BY_START_COVERING``).
    BY_START_COVERING,
)
SCHEMA_VERSION = len(MIGRATIONS)
TEXT_ONCE_VERSION = 6  # the turns table dropped: a file migrated across it is vacuumed once


def backfill_v3(conn: sqlite3.Connection) -> None:
    """The list rows and figures of sessions stored before version 3, from their bodies."""
    for tenant, session_id, body in conn.execute("SELECT tenant, id, body FROM sessions").fetchall():
        session = session_of_body(body, session_id)
        write_rows(conn, tenant, [(session, figures_json(session))], open_=False)


# run after that version's statements
BACKFILLS: dict[int, Callable[[sqlite3.Connection], None]] = {3: backfill_v3, 6: rekey_and_index}


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to ``SCHEMA_VERSION``; returns the version it had. Refuses a newer file."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        found = int(row[0]) if row else 0
        run_migrations(conn, MIGRATIONS, BACKFILLS, found)
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if 0 < found < TEXT_ONCE_VERSION:
        try:  # the old text's pages back to the disk: once, after the move to version 6
            conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:  # the file's size free again, no other writer: not always so
            logger.warning("the migrated store was not compacted (%s): its free pages are reused as it grows", exc)
    return found


def unusable(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """A file SQLite cannot use (damaged, not a database): said with what to do."""
    return StoreError(f"the store {path} cannot be used ({exc}): move it away, or pass another --store")


class SqliteStore:
    """A store file; ``for_tenant`` gives each tenant's view of it. Close it when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        private_file(path)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            migrate(self._conn)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise unusable(path, exc) from None
        except BaseException:
            self._conn.close()
            raise
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(1)

    def for_tenant(self, tenant: str) -> SqliteTenant:
        return SqliteTenant(self, tenant)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def file_bytes(self) -> int:
        """The file and its WAL: what the store takes on disk."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += Path(f"{self.path}{suffix}").stat().st_size
        return total

    def call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection in this thread (callers off the event loop use ``run``).

        SQLite's own errors become a ``StoreError`` saying what to do: every caller answers those in
        one line (a tool error, exit 2), where a raw ``sqlite3.Error`` would be a traceback.
        """
        with self._lock:
            try:
                return work(self._conn)
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreError(
                        f"the store {self.path} is busy (another process writes to it): try again in a moment"
                    ) from None
                raise StoreError(
                    f"the store {self.path} failed ({exc}): check the disk, or pass another --store"
                ) from None
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"the store {self.path} cannot be used ({exc}): move it away, or pass another --store"
                ) from None

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection in a worker thread: the event loop never waits on SQLite."""
        return await anyio.to_thread.run_sync(self.call, work, limiter=self._limiter)

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` in one ``BEGIN IMMEDIATE`` transaction (call through ``run``)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(self._conn)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return result


def delete_sessions(conn: sqlite3.Connection, keys: Sequence[int]) -> None:
    """Delete the sessions stored under ``keys``: their index entries (with their text), findings and rows."""
    unindex(conn, keys)
    for key in keys:
        conn.execute("DELETE FROM findings WHERE (tenant, id) = (SELECT tenant, id FROM sessions WHERE sk = ?)", (key,))
        conn.execute("DELETE FROM sessions WHERE sk = ?", (key,))


class SqliteTenant(SqliteQaRecords):
    """One tenant's sessions in a ``SqliteStore``: the ``SessionStore`` of SQLite."""

    def __init__(self, store: SqliteStore, tenant: str) -> None:
        self.store = store
        self.tenant = tenant

    async def put_sessions(
        self, sessions: Sequence[SessionDetail], outcomes: Mapping[str, StoredOutcome] | None = None
    ) -> None:
        ended = outcomes or {}
        rows = await anyio.to_thread.run_sync(stored_bodies, sessions)  # CPU work, off the loop, outside the lock

        def work(conn: sqlite3.Connection) -> None:
            for session, body, raw_bytes in rows:
                old = conn.execute("SELECT sk FROM sessions WHERE tenant = ? AND id = ?", (self.tenant, session.id))
                delete_sessions(conn, [r[0] for r in old.fetchall()])
                key = new_key(conn, self.tenant, session.start_time)
                conn.execute(
                    "INSERT INTO sessions (sk, tenant, id, body, raw_bytes, turn_count, companion_id, "
                    "external_client_id, status, close_reason, session_type, modality, created_at, started_at, "
                    "closed_at, list_time, start_time, stored_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, *session_columns(self.tenant, session, body, raw_bytes)),
                )
                index_session(conn, key, session)
                conn.execute("DELETE FROM pending WHERE tenant = ? AND id = ?", (self.tenant, session.id))
            write_rows(conn, self.tenant, [(s, figures_json(s, ended.get(s.id))) for s, _, _ in rows], open_=False)

        await self.store.run(lambda conn: self.store.write(work))

    async def get_session(self, session_id: str) -> SessionDetail | None:
        row = await self.store.run(
            lambda conn: conn.execute(
                "SELECT body FROM sessions WHERE tenant = ? AND id = ?", (self.tenant, session_id)
            ).fetchone()
        )
        if row is None:
            return None
        return await anyio.to_thread.run_sync(session_of_body, row[0], session_id)

    async def get_sessions(self, session_ids: Sequence[str]) -> dict[str, SessionDetail]:
        rows = await self._rows("id, body", "sessions", session_ids)
        if not rows:
            return {}

        def read_all() -> dict[str, SessionDetail]:
            return {str(r[0]): session_of_body(r[1], str(r[0])) for r in rows}

        return await anyio.to_thread.run_sync(read_all)

    async def query(self, query: StoredQuery) -> StoredPage:
        return await self.store.run(lambda conn: run_query(conn, self.tenant, query))

    async def query_ids(self, query: StoredQuery) -> tuple[list[str], int]:
        return await self.store.run(lambda conn: run_query_ids(conn, self.tenant, query))

    async def closed_ids(self, session_ids: Sequence[str]) -> set[str]:
        rows = await self._rows("id", "sessions", session_ids)
        return {str(r[0]) for r in rows}

    async def open_ids(self, session_ids: Sequence[str]) -> set[str]:
        rows = await self._rows("id", "pending", session_ids)
        return {str(r[0]) for r in rows}

    async def _rows(self, columns: str, table: str, session_ids: Sequence[str]) -> list[Any]:
        """``columns`` of this tenant's rows of ``table`` among ``session_ids``."""
        statement = f"SELECT {columns} FROM {table} WHERE tenant = ?"
        return await self.store.run(lambda conn: rows_by_ids(conn, statement, (self.tenant,), session_ids))

    async def set_pending(self, sessions: Sequence[SessionSummary], now: float) -> None:
        rows = [(self.tenant, s.id, s.list_time, now) for s in sessions]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR IGNORE INTO pending (tenant, id, list_time, first_seen) VALUES (?, ?, ?, ?)", rows
            )
            write_rows(conn, self.tenant, [(s, None) for s in sessions], open_=True)  # the latest list row

        await self.store.run(lambda conn: self.store.write(work))

    async def pending(self) -> list[tuple[str, float]]:
        rows = await self.store.run(
            lambda conn: conn.execute(
                "SELECT id, coalesce(list_time, first_seen) FROM pending WHERE tenant = ? AND NOT given_up "
                "ORDER BY 2 DESC",
                (self.tenant,),
            ).fetchall()
        )
        return [(str(r[0]), float(r[1])) for r in rows]

    async def drop_pending(self, session_ids: Sequence[str]) -> None:
        rows = [(self.tenant, i) for i in session_ids]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE pending SET given_up = 1 WHERE tenant = ? AND id = ?", rows)

        await self.store.run(lambda conn: self.store.write(work))

    @asynccontextmanager
    async def sync_lock(self) -> AsyncIterator[None]:
        """An exclusive lock on ``<store>.<tenant>.sync-lock`` (0600, beside the store) for the whole sync.

        A lock file, not a transaction: the sync writes in many short transactions of its own. The
        operating system frees the lock when the process ends, however it ends.
        """
        path = self.store.path.with_name(f"{self.store.path.name}.{self.tenant[:16]}.sync-lock")
        private_file(path)
        fd = os.open(path, os.O_RDWR | NO_FOLLOW)
        try:
            try:
                lock_file(fd)
            except OSError:
                raise SyncRunningError(
                    "another sync is running on this store for this API key; wait for it to end"
                ) from None
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    async def sync_state(self) -> SyncState:
        row = await self.store.run(
            lambda conn: conn.execute(
                "SELECT last_sync, newest_seen, complete, reached FROM sync_state WHERE tenant = ?", (self.tenant,)
            ).fetchone()
        )
        return SyncState(row[0], row[1], bool(row[2]), row[3]) if row else SyncState()

    async def set_sync_state(self, state: SyncState) -> None:
        row = (self.tenant, state.last_sync, state.newest_seen, int(state.complete), state.reached)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO sync_state (tenant, last_sync, newest_seen, complete, reached) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            )

        await self.store.run(lambda conn: self.store.write(work))

    async def info(self) -> StoreInfo:
        def work(conn: sqlite3.Connection) -> tuple[Any, ...]:
            sessions = conn.execute(
                "SELECT count(*), coalesce(sum(turn_count), 0), min(list_time), max(list_time) FROM sessions "
                "WHERE tenant = ?",
                (self.tenant,),
            ).fetchone()
            pending = conn.execute(
                "SELECT count(*) FROM pending WHERE tenant = ? AND NOT given_up", (self.tenant,)
            ).fetchone()
            return (*sessions, pending[0])

        count, turns, oldest, newest, pending = await self.store.run(work)
        return StoreInfo(count, turns, pending, oldest, newest, self.store.file_bytes(), await self.sync_state())

    async def purge(self, before: float | None) -> int:
        def work(conn: sqlite3.Connection) -> int:
            if before is None:
                rows = conn.execute("SELECT sk FROM sessions WHERE tenant = ?", (self.tenant,))
                conn.execute("DELETE FROM pending WHERE tenant = ?", (self.tenant,))
                conn.execute("DELETE FROM list_rows WHERE tenant = ?", (self.tenant,))
                conn.execute("DELETE FROM sync_state WHERE tenant = ?", (self.tenant,))
            else:
                rows = conn.execute(
                    "SELECT sk FROM sessions WHERE tenant = ? AND coalesce(list_time, 0) < ?", (self.tenant, before)
                )
                conn.execute(
                    "DELETE FROM pending WHERE tenant = ? AND coalesce(list_time, first_seen) < ?",
                    (self.tenant, before),
                )
                conn.execute(
                    "DELETE FROM list_rows WHERE tenant = ? AND coalesce(list_time, 0) < ?", (self.tenant, before)
                )
            keys = [int(r[0]) for r in rows.fetchall()]
            delete_sessions(conn, keys)
            return len(keys)

        return await self.store.run(lambda conn: self.store.write(work))

    async def search(self, query: str, filters: SearchFilters, offset: int, limit: int) -> SearchPage:
        to_fts5(query)  # QueryError before any SQL: user text never reaches MATCH

        def bounded(conn: sqlite3.Connection) -> SearchPage:
            deadline = time.monotonic() + SEARCH_SECONDS
            conn.execute("BEGIN")  # one snapshot: a page's sessions are read from the rows its hits came from
            conn.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_STEPS)
            try:
                return search(conn, self.tenant, query, filters, offset, limit)
            except sqlite3.OperationalError as exc:
                if "interrupted" not in str(exc):
                    raise
                raise search_stopped(SEARCH_SECONDS) from None
            finally:
                conn.set_progress_handler(None, 0)
                if conn.in_transaction:
                    conn.execute("COMMIT")

        return await run_in_search_thread(lambda: self.store.call(bounded))  # a cheaper hop (search_thread)
