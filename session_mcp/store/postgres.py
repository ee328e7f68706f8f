"""The session store on PostgreSQL: several servers and one sync job sharing one database.

- **Layout**: as the SQLite store: ``sessions`` holds each closed session's wire JSON
  (zlib-compressed) beside the summary columns that filters read; ``turns`` one row per turn with a
  stored ``tsvector`` (configuration ``simple_unaccent``: no stemming, no stop words, accents
  folded; punctuation turned into blanks first, so both engines split words alike) under a GIN
  index. A session's turns go with it (``ON DELETE CASCADE``).
- **Tenants**: every statement filters by the tenant bound at ``for_tenant``.
- **Schema** (``pg_schema``): ``schema_version`` and ``MIGRATIONS``, step for step the SQLite store's (the same
  version numbers), run under a transaction-level advisory lock so that servers starting together
  migrate once; a newer schema is refused. Session ids compare byte by byte (``COLLATE "C"``), as
  SQLite's do, whatever the database's collation: orders and keyset pages agree on both engines.
- **One sync per tenant across every server and job**: ``pg_try_advisory_lock`` on a key drawn from
  the tenant, held on a connection of its own for the whole sync; PostgreSQL frees it when that
  connection ends, however the process ends. Each chunk of a sync is one transaction, so a server
  killed mid-sync loses nothing stored and the next sync resumes.
- **Threads**: psycopg's synchronous connections in worker threads (``anyio.to_thread``), a few
  at a time, as the SQLite store: the same shape for both engines, any anyio backend, and no
  blocking on the event loop. Automatic prepared statements are off (``prepare_threshold=None``):
  a generic plan made a common 30-day search twice as slow.
- **Secrets**: the URL's password is never shown: errors name the store by ``DatabaseURL.shown``
  and pass the driver's own message through ``DatabaseURL.hide``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import psycopg
import psycopg.errors

from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.store.base import (
    RANK_LIMIT,
    SEARCH_SECONDS,
    SNIPPET_TOKENS,
    SearchFilters,
    SearchHit,
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
from session_mcp.store.pg_qa import PostgresQaRecords
from session_mcp.store.pg_query import POSTGRES, run_query, run_query_ids, write_rows
from session_mcp.store.pg_schema import lock_key, migrate
from session_mcp.store.pg_search import patterns, snippet, to_tsquery
from session_mcp.store.rows import TURN_BITS, figures_json, session_columns, session_of_body, stored_bodies, turn_offset
from session_mcp.store.search import parse
from session_mcp.store.url import DatabaseURL
from session_mcp.store.where import search_where

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]

POOL_SIZE = 4  # connections one process keeps: statements of several tenants at once
CONNECT_SECONDS = 10


class PostgresStore:
    """A PostgreSQL database as the store; ``for_tenant`` gives each tenant's view of it. Close it when done."""

    def __init__(self, url: DatabaseURL, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(pool_size)
        first = self.connect()
        try:
            with self.errors():
                migrate(first)
        except BaseException:
            first.close()
            raise
        self._idle.append(first)

    def for_tenant(self, tenant: str) -> PostgresTenant:
        return PostgresTenant(self, tenant)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def connect(self) -> Connection:
        """A new connection (autocommit: writes open their own transaction); ``StoreError`` when it fails."""
        with self.errors(connecting=True):
            return psycopg.connect(
                self.url.dsn,
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=CONNECT_SECONDS,
                application_name="session-mcp",
            )

    @contextmanager
    def errors(self, connecting: bool = False) -> Iterator[None]:
        """The driver's errors as one ``StoreError`` line that names the store without its password."""
        try:
            yield
        except psycopg.Error as exc:
            told = self.url.hide(" ".join(str(exc).split()))[:300]
            if connecting:
                raise StoreError(
                    f"cannot reach the store {self.url}: {told}: check the URL, and that PostgreSQL runs there"
                ) from None
            if isinstance(exc, psycopg.OperationalError):
                raise StoreError(f"the store {self.url} failed ({told}): try again in a moment") from None
            raise StoreError(
                f"the store {self.url} failed ({told}): check the database, or pass another --store"
            ) from None

    def call(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a connection of the pool in this thread (callers on the event loop use ``run``)."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = self.connect()
        try:
            with self.errors():
                result = work(conn)
        except BaseException:
            if conn.broken or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.close()
            else:
                self._give_back(conn)
            raise
        self._give_back(conn)
        return result

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            self._idle.append(conn)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a worker thread: the event loop never waits on the database."""
        return await anyio.to_thread.run_sync(self.call, work, limiter=self._limiter)

    def write(self, work: Callable[[Connection], T]) -> Callable[[Connection], T]:
        """``work`` made one transaction (pass the result to ``run``)."""

        def transaction(conn: Connection) -> T:
            with conn.transaction():
                return work(conn)

        return transaction


class PostgresTenant(PostgresQaRecords):
    """One tenant's sessions in a ``PostgresStore``: the ``SessionStore`` of PostgreSQL."""

    def __init__(self, store: PostgresStore, tenant: str) -> None:
        self.store = store
        self.tenant = tenant

    async def put_sessions(
        self, sessions: Sequence[SessionDetail], outcomes: Mapping[str, StoredOutcome] | None = None
    ) -> None:
        ended = outcomes or {}
        if not sessions:
            return  # nothing to write (an executemany of no rows has no result to read back)
        rows = await anyio.to_thread.run_sync(stored_bodies, sessions)  # CPU work, off the loop

        def work(conn: Connection) -> None:
            ids = [session.id for session, _, _ in rows]
            conn.execute("DELETE FROM findings WHERE tenant = %s AND id = ANY(%s)", (self.tenant, ids))
            conn.execute("DELETE FROM sessions WHERE tenant = %s AND id = ANY(%s)", (self.tenant, ids))
            cursor = conn.cursor()
            # Another server storing the same session at once inserts it first: the same closed session.
            cursor.executemany(
                "INSERT INTO sessions (tenant, id, body, raw_bytes, turn_count, companion_id, external_client_id, "
                "status, close_reason, session_type, modality, created_at, started_at, closed_at, list_time, "
                "start_time, stored_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s) ON CONFLICT (tenant, id) DO NOTHING RETURNING sk",
                [session_columns(self.tenant, session, body, raw_bytes) for session, body, raw_bytes in rows],
                returning=True,
            )
            keys: list[int | None] = []
            while True:
                row = cursor.fetchone()
                keys.append(None if row is None else int(row[0]))
                if not cursor.nextset():
                    break
            with cursor.copy("COPY turns (session_sk, turn_index, role, offset_s, text) FROM STDIN") as copy:
                for key, (session, _, _) in zip(keys, rows, strict=True):
                    if key is None:
                        continue
                    origin = session.turn_origin
                    for index, turn in enumerate(session.turns[: 1 << TURN_BITS]):
                        copy.write_row((key, index, turn.role, turn_offset(turn.timestamp, origin), turn.text))
            conn.execute("DELETE FROM pending WHERE tenant = %s AND id = ANY(%s)", (self.tenant, ids))
            write_rows(conn, self.tenant, [(s, figures_json(s, ended.get(s.id))) for s, _, _ in rows], open_=False)

        await self.store.run(self.store.write(work))

    async def get_session(self, session_id: str) -> SessionDetail | None:
        row = await self.store.run(
            lambda conn: conn.execute(
                "SELECT body FROM sessions WHERE tenant = %s AND id = %s", (self.tenant, session_id)
            ).fetchone()
        )
        if row is None:
            return None
        return await anyio.to_thread.run_sync(session_of_body, bytes(row[0]), session_id)

    async def get_sessions(self, session_ids: Sequence[str]) -> dict[str, SessionDetail]:
        rows = await self._rows("id, body", "sessions", session_ids)
        if not rows:
            return {}

        def read_all() -> dict[str, SessionDetail]:
            return {str(r[0]): session_of_body(bytes(r[1]), str(r[0])) for r in rows}

        return await anyio.to_thread.run_sync(read_all)

    async def query(self, query: StoredQuery) -> StoredPage:
        return await self.store.run(lambda conn: run_query(conn, self.tenant, query))

    async def query_ids(self, query: StoredQuery) -> tuple[list[str], int]:
        return await self.store.run(lambda conn: run_query_ids(conn, self.tenant, query))

    async def closed_ids(self, session_ids: Sequence[str]) -> set[str]:
        return {str(r[0]) for r in await self._rows("id", "sessions", session_ids)}

    async def open_ids(self, session_ids: Sequence[str]) -> set[str]:
        return {str(r[0]) for r in await self._rows("id", "pending", session_ids)}

    async def _rows(self, columns: str, table: str, session_ids: Sequence[str]) -> list[tuple[Any, ...]]:
        """``columns`` of this tenant's rows of ``table`` among ``session_ids``."""
        wanted = list(dict.fromkeys(session_ids))
        statement = f"SELECT {columns} FROM {table} WHERE tenant = %s AND id = ANY(%s)"
        return await self.store.run(lambda conn: conn.execute(statement, (self.tenant, wanted)).fetchall())

    async def set_pending(self, sessions: Sequence[SessionSummary], now: float) -> None:
        rows = [(self.tenant, s.id, s.list_time, now) for s in sessions]

        def work(conn: Connection) -> None:
            conn.cursor().executemany(
                "INSERT INTO pending (tenant, id, list_time, first_seen) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                rows,
            )
            write_rows(conn, self.tenant, [(s, None) for s in sessions], open_=True)  # the latest list row

        await self.store.run(self.store.write(work))

    async def pending(self) -> list[tuple[str, float]]:
        rows = await self.store.run(
            lambda conn: conn.execute(
                "SELECT id, coalesce(list_time, first_seen) FROM pending WHERE tenant = %s AND NOT given_up "
                "ORDER BY 2 DESC",
                (self.tenant,),
            ).fetchall()
        )
        return [(str(r[0]), float(r[1])) for r in rows]

    async def drop_pending(self, session_ids: Sequence[str]) -> None:
        ids = list(session_ids)
        await self.store.run(
            lambda conn: conn.execute(
                "UPDATE pending SET given_up = true WHERE tenant = %s AND id = ANY(%s)", (self.tenant, ids)
            )
        )

    @asynccontextmanager
    async def sync_lock(self) -> AsyncIterator[None]:
        """A session-level advisory lock keyed by the tenant, on a connection of its own, for the whole sync.

        Not a transaction: the sync writes in many short ones of its own. Every server and job that
        shares the database sees it; it ends with its connection, however the process ends.
        """
        key = lock_key(f"sync:{self.tenant}")
        conn = await anyio.to_thread.run_sync(self.store.connect)

        def take() -> bool:
            with self.store.errors():
                return conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() == (True,)

        def release() -> None:
            # Unlocked at once (the next sync may start right away), then closed: a backend's exit frees
            # its locks too, a little after the client has gone, and does so for a process that died.
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock_all()")
            conn.close()

        try:
            if not await anyio.to_thread.run_sync(take):
                raise SyncRunningError("another sync is running on this store for this API key; wait for it to end")
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(release)

    async def sync_state(self) -> SyncState:
        row = await self.store.run(
            lambda conn: conn.execute(
                "SELECT last_sync, newest_seen, complete, reached FROM sync_state WHERE tenant = %s", (self.tenant,)
            ).fetchone()
        )
        return SyncState(row[0], row[1], bool(row[2]), row[3]) if row else SyncState()

    async def set_sync_state(self, state: SyncState) -> None:
        row = (self.tenant, state.last_sync, state.newest_seen, state.complete, state.reached)
        await self.store.run(
            lambda conn: conn.execute(
                "INSERT INTO sync_state (tenant, last_sync, newest_seen, complete, reached) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant) DO UPDATE SET last_sync = excluded.last_sync, "
                "newest_seen = excluded.newest_seen, complete = excluded.complete, reached = excluded.reached",
                row,
            )
        )

    async def info(self) -> StoreInfo:
        def work(conn: Connection) -> tuple[Any, ...]:
            sessions = conn.execute(
                "SELECT count(*), coalesce(sum(turn_count), 0), min(list_time), max(list_time) FROM sessions "
                "WHERE tenant = %s",
                (self.tenant,),
            ).fetchone()
            pending = conn.execute(
                "SELECT count(*) FROM pending WHERE tenant = %s AND NOT given_up", (self.tenant,)
            ).fetchone()
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            assert sessions is not None and pending is not None and size is not None
            return (*sessions, pending[0], size[0])

        count, turns, oldest, newest, pending, size = await self.store.run(work)
        return StoreInfo(count, int(turns), pending, oldest, newest, size, await self.sync_state())

    async def purge(self, before: float | None) -> int:
        def work(conn: Connection) -> int:
            if before is not None:
                old = "tenant = %s AND coalesce(list_time, 0) < %s"
                conn.execute(
                    f"DELETE FROM findings WHERE tenant = %s AND id IN (SELECT id FROM sessions WHERE {old})",
                    (self.tenant, self.tenant, before),
                )
                conn.execute(
                    "DELETE FROM pending WHERE tenant = %s AND coalesce(list_time, first_seen) < %s",
                    (self.tenant, before),
                )
                conn.execute(f"DELETE FROM list_rows WHERE {old}", (self.tenant, before))
                deleted = conn.execute(
                    "DELETE FROM sessions WHERE tenant = %s AND coalesce(list_time, 0) < %s", (self.tenant, before)
                )
                return deleted.rowcount
            for table in ("findings", "pending", "list_rows", "sync_state"):
                conn.execute(f"DELETE FROM {table} WHERE tenant = %s", (self.tenant,))
            return conn.execute("DELETE FROM sessions WHERE tenant = %s", (self.tenant,)).rowcount

        return await self.store.run(self.store.write(work))

    async def search(self, query: str, filters: SearchFilters, offset: int, limit: int) -> SearchPage:
        groups = parse(query)  # QueryError before any SQL: user text only ever reaches it as parameters
        expression, query_params = to_tsquery(groups)
        wanted = patterns(groups)
        where, filter_params = search_where(POSTGRES, self.tenant, filters)
        source = (
            f"FROM turns t JOIN sessions s ON s.sk = t.session_sk CROSS JOIN (SELECT {expression} AS q) AS found "
            f"WHERE t.tsv @@ found.q AND {where}"
        )
        params = (*query_params, *filter_params)

        def work(conn: Connection) -> SearchPage:
            # The bound holds for each statement of the search (SQLite's holds for the whole).
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(SEARCH_SECONDS * 1000)}",))
            totals = conn.execute(f"SELECT count(*), count(DISTINCT t.session_sk) {source}", params).fetchone()
            assert totals is not None
            total_hits, total_sessions = totals
            order = "relevance" if total_hits <= RANK_LIMIT else "newest"
            ranking = "ts_rank(t.tsv, found.q) DESC" if order == "relevance" else "s.start_time DESC NULLS LAST"
            rows = conn.execute(
                f"SELECT s.id, s.companion_id, s.started_at, s.status, t.turn_index, t.offset_s, t.role, t.text "
                f"{source} ORDER BY {ranking}, t.session_sk, t.turn_index LIMIT %s OFFSET %s",
                (*params, limit, offset),
            ).fetchall()
            hits = [
                SearchHit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], snippet(r[7], wanted, SNIPPET_TOKENS)) for r in rows
            ]
            ids = sorted({h.session_id for h in hits})
            counts: dict[str, int] = {}
            if ids:
                counts = dict(
                    conn.execute(
                        f"SELECT s.id, count(*) {source} AND s.id = ANY(%s) GROUP BY s.id", (*params, ids)
                    ).fetchall()
                )
            more = offset + len(hits) < total_hits
            return SearchPage(hits, total_hits, total_sessions, counts, order, offset + len(hits) if more else None)

        def bounded(conn: Connection) -> SearchPage:
            try:
                with conn.transaction():
                    return work(conn)
            except psycopg.errors.QueryCanceled:
                raise search_stopped(SEARCH_SECONDS) from None

        return await self.store.run(bounded)
