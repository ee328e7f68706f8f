"""The QA records of a tenant in a SQLite store: findings kept per rules fingerprint, reviewers' verdicts.

A part of ``SqliteTenant`` (a mixin): QA's tables beside the sessions, apart from the engine's core.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from session_mcp.store.base import MAX_ANNOTATIONS_READ, Annotation, StoreError
from session_mcp.store.rows import COMPRESSION
from session_mcp.store.sqlite_query import rows_by_ids

if TYPE_CHECKING:
    from session_mcp.store.sqlite import SqliteStore


class SqliteQaRecords:
    """Findings and annotations of the tenant ``tenant`` in ``store``."""

    store: SqliteStore
    tenant: str

    async def get_findings(self, rules: str, session_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        # The ids' records as one text made in SQLite (a line each: id, body in hex, list row, by tabs; an id
        # and a compact JSON row hold neither): the worker thread takes the GIL once a statement, not once a
        # row. While a review's Python work holds it, each row waited for it: the reads did not overlap the work.
        statement = (
            "SELECT group_concat(id || char(9) || hex(body) || char(9) || "
            "(SELECT summary FROM list_rows AS l WHERE l.tenant = f.tenant AND l.id = f.id), char(10)) "
            "FROM findings AS f WHERE tenant = ? AND rules = ?"
        )

        def work(conn: sqlite3.Connection) -> list[str]:
            return [r[0] for r in rows_by_ids(conn, statement, (self.tenant, rules), session_ids) if r[0]]

        kept: dict[str, tuple[str, str]] = {}
        for block in await self.store.run(work):
            for line in block.split("\n"):
                try:
                    session_id, body, row = line.split("\t", 2)
                    kept[session_id] = (zlib.decompress(bytes.fromhex(body)).decode(), row)
                except (zlib.error, ValueError) as exc:  # a store damaged on disk (or by hand)
                    raise StoreError(
                        f"a kept QA result in {self.store.path} cannot be read ({exc}): the store is damaged; "
                        "delete its sessions with `session-mcp store purge --all` and run `session-mcp sync` again"
                    ) from None
        return kept

    async def put_findings(self, rules: str, results: Sequence[tuple[str, str]]) -> None:
        """Each result kept compressed, as the sessions' bodies are: findings quote turns, which compress 4:1."""

        def rows_of() -> list[tuple[Any, ...]]:
            return [
                (self.tenant, session_id, rules, zlib.compress(body.encode(), COMPRESSION), self.tenant, session_id)
                for session_id, body in results
            ]

        rows = await anyio.to_thread.run_sync(rows_of)  # CPU work, off the loop, outside the store's lock

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO findings (tenant, id, rules, body) SELECT ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM sessions WHERE tenant = ? AND id = ?)",
                rows,
            )

        await self.store.run(lambda conn: self.store.write(work))

    async def add_annotation(self, annotation: Annotation) -> None:
        a = annotation
        row = (self.tenant, a.session_id, a.kind, a.check, a.turn_index, a.rules, a.reviewer, a.at, a.text)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO annotations (tenant, session_id, kind, check_id, turn_index, rules, reviewer, at, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        await self.store.run(lambda conn: self.store.write(work))

    async def annotations(self, session_ids: Sequence[str] | None = None) -> list[Annotation]:
        columns = "session_id, kind, reviewer, at, text, check_id, turn_index, rules"
        newest = f"ORDER BY ak DESC LIMIT {MAX_ANNOTATIONS_READ}"

        def work(conn: sqlite3.Connection) -> list[Any]:
            if session_ids is None:
                query = f"SELECT {columns} FROM annotations WHERE tenant = ? {newest}"
                return conn.execute(query, (self.tenant,)).fetchall()
            statement = f"SELECT ak, {columns} FROM annotations WHERE tenant = ?"
            rows = rows_by_ids(conn, statement, (self.tenant,), session_ids, column="session_id")
            return [r[1:] for r in sorted(rows, reverse=True)[:MAX_ANNOTATIONS_READ]]

        rows = await self.store.run(work)
        return [Annotation(*row) for row in reversed(rows)]
