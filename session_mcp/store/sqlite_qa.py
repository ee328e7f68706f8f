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

from session_mcp.store.base import MAX_ANNOTATIONS_READ, Annotation, Listed, StoreError
from session_mcp.store.rows import COMPRESSION
from session_mcp.store.sqlite_query import rows_by_ids

if TYPE_CHECKING:
    from session_mcp.store.sqlite import SqliteStore


class SqliteQaRecords:
    """Findings and annotations of the tenant ``tenant`` in ``store``."""

    store: SqliteStore
    tenant: str

    async def get_findings(self, rules: str, session_ids: Sequence[str]) -> dict[str, tuple[str, Listed]]:
        # The ids' records as one text made in SQLite (a line each: id, body in hex, then the list row's columns a
        # report shows, by tabs; none holds a tab or a line break: ids and the row's texts are single lines): the
        # worker thread takes the GIL once a statement, not once a row. While a review's Python work holds it, each
        # row waited for it: the reads did not overlap the work. A text that may be NULL is marked ("=" before it);
        # the start time is written with the 17 digits that read back as the same float, or not at all when it is
        # NULL (printf makes NULL '0.0': a session with no time would read back as one of 1970).
        statement = (
            "SELECT group_concat(f.id || char(9) || hex(f.body) || char(9) || ifnull('=' || l.companion_id, '') || "
            "char(9) || iif(l.start_time IS NULL, '', printf('%!.17g', l.start_time)) || char(9) || l.status || "
            "char(9) || ifnull('=' || l.close_reason, ''), char(10)) "
            "FROM findings AS f JOIN list_rows AS l ON l.tenant = f.tenant AND l.id = f.id "
            "WHERE f.tenant = ? AND f.rules = ?"
        )

        def work(conn: sqlite3.Connection) -> list[str]:
            found = rows_by_ids(conn, statement, (self.tenant, rules), session_ids, column="f.id")
            return [r[0] for r in found if r[0]]

        kept: dict[str, tuple[str, Listed]] = {}
        for block in await self.store.run(work):
            for line in block.split("\n"):
                try:
                    session_id, body, companion, start, state, reason = line.split("\t")
                    listed = Listed(
                        session_id, companion[1:] if companion else None, float(start) if start else None,
                        state, reason[1:] if reason else None,
                    )  # fmt: skip
                    kept[session_id] = (zlib.decompress(bytes.fromhex(body)).decode(), listed)
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
