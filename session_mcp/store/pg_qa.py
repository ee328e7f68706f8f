"""The QA records of a tenant in a PostgreSQL store: findings kept per rules fingerprint, reviewers' verdicts.

A part of ``PostgresTenant`` (a mixin), as ``sqlite_qa`` is of ``SqliteTenant``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from session_mcp.store.base import MAX_ANNOTATIONS_READ, Annotation, Listed

if TYPE_CHECKING:
    from session_mcp.store.postgres import Connection, PostgresStore


class PostgresQaRecords:
    """Findings and annotations of the tenant ``tenant`` in ``store``."""

    store: PostgresStore
    tenant: str

    async def get_findings(self, rules: str, session_ids: Sequence[str]) -> dict[str, tuple[str, Listed]]:
        wanted = list(dict.fromkeys(session_ids))
        rows = await self.store.run(
            lambda conn: conn.execute(
                "SELECT f.id, f.body, l.companion_id, l.start_time, l.status, l.close_reason FROM findings AS f "
                "JOIN list_rows AS l ON l.tenant = f.tenant AND l.id = f.id "
                "WHERE f.tenant = %s AND f.rules = %s AND f.id = ANY(%s)",
                (self.tenant, rules, wanted),
            ).fetchall()
        )
        return {str(r[0]): (str(r[1]), Listed(str(r[0]), *r[2:])) for r in rows}

    async def put_findings(self, rules: str, results: Sequence[tuple[str, str]]) -> None:
        rows = [(self.tenant, session_id, rules, body, self.tenant, session_id) for session_id, body in results]

        def work(conn: Connection) -> None:
            conn.cursor().executemany(
                "INSERT INTO findings (tenant, id, rules, body) SELECT %s, %s, %s, %s "
                "WHERE EXISTS (SELECT 1 FROM sessions WHERE tenant = %s AND id = %s) "
                "ON CONFLICT (tenant, id, rules) DO UPDATE SET body = excluded.body",
                rows,
            )

        await self.store.run(self.store.write(work))

    async def add_annotation(self, annotation: Annotation) -> None:
        a = annotation
        row = (self.tenant, a.session_id, a.kind, a.check, a.turn_index, a.rules, a.reviewer, a.at, a.text)
        await self.store.run(
            lambda conn: conn.execute(
                "INSERT INTO annotations (tenant, session_id, kind, check_id, turn_index, rules, reviewer, at, text) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                row,
            )
        )

    async def annotations(self, session_ids: Sequence[str] | None = None) -> list[Annotation]:
        columns = "session_id, kind, reviewer, at, text, check_id, turn_index, rules"
        newest = f"ORDER BY ak DESC LIMIT {MAX_ANNOTATIONS_READ}"

        def work(conn: Connection) -> list[Any]:
            if session_ids is None:
                return conn.execute(
                    f"SELECT {columns} FROM annotations WHERE tenant = %s {newest}", (self.tenant,)
                ).fetchall()
            wanted = list(dict.fromkeys(session_ids))
            return conn.execute(
                f"SELECT {columns} FROM annotations WHERE tenant = %s AND session_id = ANY(%s) {newest}",
                (self.tenant, wanted),
            ).fetchall()

        rows = await self.store.run(work)
        return [Annotation(*row) for row in reversed(rows)]
