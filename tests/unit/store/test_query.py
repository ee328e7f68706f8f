"""``SessionStore.query``: windows and filters over closed and open sessions, exact counts, keyset pages."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.stats.figures import session_stats
from session_mcp.store.base import StoredQuery, figures_of
from session_mcp.store.open import StoreEngine
from session_mcp.store.sqlite import MIGRATIONS, SqliteStore
from session_mcp.store.sqlite_query import LIST_ROWS
from tests.unit.store.helpers import ANCHOR, sessions

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(store_engine: StoreEngine) -> StoreEngine:
    """On both engines (tests/stores.py)."""
    return store_engine


def summary(session_id: str, start: float | None, status: str) -> SessionSummary:
    wire = {"id": session_id, "companionId": "c", "createdAt": start, "startedAt": start, "status": status}
    return ingest(json.dumps(wire).encode(), SessionSummary, what="test")


def closed(session_id: str, start: float | None, status: str = "closed") -> SessionDetail:
    wire = {"id": session_id, "companionId": "c", "createdAt": start, "startedAt": start, "status": status}
    wire["closedAt"] = None if start is None else start + 60
    wire["conversation"] = {"items": [{"role": "agent", "text": "hi"}]}
    return ingest(json.dumps(wire).encode(), SessionDetail, what="test")


ROWS = st.lists(
    st.tuples(
        st.sampled_from([None, ANCHOR - 100.0, ANCHOR - 50.0, ANCHOR - 50.0, ANCHOR]),  # ties on purpose
        st.sampled_from(["closed", "failed", "started", "pending"]),
    ),
    max_size=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, page_size=st.integers(1, 7), status=st.sampled_from([(), ("closed",), ("started", "failed")]))
def test_keyset_pages_concatenated_are_the_order_without_duplicate_or_gap(
    tmp_path: Path, rows: list[tuple[float | None, str]], page_size: int, status: tuple[str, ...]
) -> None:
    async def run() -> None:
        store = SqliteStore(tmp_path / f"q{len(list(tmp_path.iterdir()))}.sqlite3")
        tenant = store.for_tenant("t")
        ids = [f"sess_{i:02d}" for i in range(len(rows))]
        await tenant.put_sessions(
            [closed(i, t, s) for i, (t, s) in zip(ids, rows, strict=True) if s in ("closed", "failed")]
        )
        await tenant.set_pending(
            [summary(i, t, s) for i, (t, s) in zip(ids, rows, strict=True) if s not in ("closed", "failed")], ANCHOR
        )
        await store.for_tenant("other").put_sessions([closed("sess_other", ANCHOR)])
        wanted = [(t or 0.0, i) for i, (t, s) in zip(ids, rows, strict=True) if not status or s in status]
        expected = [i for _, i in sorted(wanted, reverse=True)]
        query = StoredQuery(statuses=frozenset(status), limit=page_size)
        served: list[str] = []
        after = None
        while True:
            page = await tenant.query(StoredQuery(**{**query.__dict__, "after": after}))
            assert page.total == len(expected)  # exact, whatever the position
            served += [row.summary.id for row in page.rows]
            if len(page.rows) < page_size:
                break
            last = page.rows[-1].summary
            after = (last.start_time or 0.0, last.id)
        store.close()
        assert served == expected

    anyio.run(run)


async def test_windows_filters_and_figures(store: StoreEngine) -> None:
    tenant = store.for_tenant("t")
    stored = sessions(40)
    await tenant.put_sessions([s for s in stored if s.is_closed])
    await tenant.set_pending([s for s in stored if not s.is_closed], ANCHOR)
    since, until = ANCHOR - 5 * 86_400.0, ANCHOR - 86_400.0
    page = await tenant.query(StoredQuery(since=since, until=until, with_figures=True))
    inside = [s for s in stored if s.start_time is not None and since <= s.start_time < until]
    assert {r.summary.id for r in page.rows} == {s.id for s in inside} and page.total == len(inside) > 0
    by_id = {s.id: s for s in stored}
    for row in page.rows:
        assert row.summary.state == by_id[row.summary.id].state
        assert row.figures == (figures_of(by_id[row.summary.id]) if by_id[row.summary.id].is_closed else None)
    tagged = next(s for s in stored if s.tags)
    key, value = next(iter(tagged.tags.items()))  # type: ignore[union-attr]
    found = await tenant.query(StoredQuery(tags=((key, str(value)),)))
    assert tagged.id in {r.summary.id for r in found.rows}
    assert all(str((r.summary.tags or {}).get(key)) == str(value) for r in found.rows)
    # Statistics over stored figures are those over the fetched transcripts.
    closed_ones = [s for s in inside if s.is_closed]
    figures = {r.summary.id: r.figures for r in page.rows if r.figures is not None}
    fetched = {s.id: figures_of(s) for s in closed_ones}
    left = session_stats([r.summary for r in page.rows], figures, matched=page.total, limit=100)
    right = session_stats(inside, fetched, matched=len(inside), limit=100)
    assert left.model_dump() == right.model_dump()


def test_a_version_2_file_is_migrated_and_backfilled(tmp_path: Path) -> None:
    """Sessions stored before version 3 get their list rows and figures from their bodies."""
    path = tmp_path / "v2.sqlite3"
    stored = [s for s in sessions(10) if s.is_closed]
    with sqlite3.connect(path) as conn:  # a file as version 2 wrote it
        for step in MIGRATIONS[:2]:
            for statement in step:
                conn.execute(statement)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (2)")
        conn.execute("INSERT INTO sync_state VALUES ('t', ?, ?, 1)", (ANCHOR, ANCHOR))
        for session in stored:
            raw = json.dumps(session.to_wire()).encode()
            conn.execute(
                "INSERT INTO sessions (tenant, id, body, raw_bytes, turn_count, status, start_time, list_time, "
                "stored_at) VALUES ('t', ?, ?, ?, ?, ?, ?, ?, ?)",
                (session.id, zlib.compress(raw), len(raw), len(session.turns), session.state, session.start_time,
                 session.list_time, ANCHOR),
            )  # fmt: skip
    store = SqliteStore(path)
    tenant = store.for_tenant("t")
    page = anyio.run(tenant.query, StoredQuery(with_figures=True))
    state = anyio.run(tenant.sync_state)
    store.close()
    assert {r.summary.id: r.figures for r in page.rows} == {s.id: figures_of(s) for s in stored}
    assert not state.complete  # version 2 did not know how far back it was whole: the next sync lists on


async def test_ids_only_are_the_query_s_ids_in_its_order_with_its_count(store: StoreEngine) -> None:
    tenant = store.for_tenant("t")
    stored = sessions(40)
    await tenant.put_sessions([s for s in stored if s.is_closed])
    await tenant.set_pending([s for s in stored if not s.is_closed], ANCHOR)
    await store.for_tenant("other").put_sessions([closed("sess_other", ANCHOR)])
    everything = await tenant.query(StoredQuery())
    middle = everything.rows[10].summary
    queries = [
        StoredQuery(),
        StoredQuery(limit=7),
        StoredQuery(limit=0),
        StoredQuery(statuses=frozenset({"closed"}), limit=5),
        StoredQuery(since=ANCHOR - 5 * 86_400.0, until=ANCHOR - 86_400.0),
        StoredQuery(after=(middle.start_time or 0.0, middle.id), limit=6),
        StoredQuery(companion_id="nobody"),
    ]
    for query in queries:
        page = await tenant.query(query)
        ids, total = await tenant.query_ids(query)
        assert ids == [row.summary.id for row in page.rows] and total == page.total
    assert (await tenant.query_ids(StoredQuery(limit=7)))[1] == len(stored) > 7  # counted past the limit
    assert "sess_other" not in (await tenant.query_ids(StoredQuery()))[0]


async def test_every_id_of_a_query_is_read_without_counting_them_again(tmp_path: Path) -> None:
    """Unlimited (a QA run's choice), the ids are their count: no ``count(*)`` statement, which read every
    row beside the index a second time; limited or from a keyset, the count is still the exact one."""
    store = SqliteStore(tmp_path / "s.sqlite3")
    tenant = store.for_tenant("t")
    statements: list[str] = []
    try:
        await tenant.put_sessions([s for s in sessions(30) if s.is_closed])
        store.call(lambda conn: conn.set_trace_callback(statements.append))
        ids, total = await tenant.query_ids(StoredQuery(since=ANCHOR - 40 * 86_400.0))
        assert total == len(ids) > 10 and not any("count(*)" in s for s in statements)
        first, counted = await tenant.query_ids(StoredQuery(limit=3))
        assert first == ids[:3] and counted == total and any("count(*)" in s for s in statements)
    finally:
        store.close()


async def test_a_version_6_file_gets_the_index_that_covers_a_window_s_ids_and_count(tmp_path: Path) -> None:
    """Schema 7: the index on start time holds the start time too, so a window's ids and count are read from
    the index alone (SQLite read the table beside it for each row: the expression's column); the same ids."""
    path = tmp_path / "v6.sqlite3"
    stored = [s for s in sessions(30) if s.is_closed]
    old = SqliteStore(path)
    await old.for_tenant("t").put_sessions(stored)
    for statement in ("DROP INDEX list_rows_by_start", LIST_ROWS[1], "UPDATE schema_version SET version = 6"):
        old.call(lambda conn: conn.execute(statement))  # noqa: B023 - called at once: as version 6 wrote it
    window = StoredQuery(since=ANCHOR - 40 * 86_400.0, until=ANCHOR)
    plans = window_plans(old)
    before = await old.for_tenant("t").query_ids(window), await old.for_tenant("t").query_ids(StoredQuery(limit=5))
    old.close()
    assert not any("COVERING" in plan for plan in plans)
    store = SqliteStore(path)
    try:
        tenant = store.for_tenant("t")
        assert store.call(lambda c: c.execute("SELECT version FROM schema_version").fetchall()) == [(7,)]
        assert all("COVERING INDEX list_rows_by_start" in plan for plan in window_plans(store))
        after = await tenant.query_ids(window), await tenant.query_ids(StoredQuery(limit=5))
        assert after == before and len(after[0][0]) > 10
        page = await tenant.query(window)
        assert [r.summary.id for r in page.rows] == after[0][0] and page.total == after[0][1]
    finally:
        store.close()


def window_plans(store: SqliteStore) -> list[str]:
    """How SQLite reads a window's ids and its count."""
    where = "tenant = 't' AND coalesce(start_time, 0) >= 0 AND coalesce(start_time, 0) < 1 AND start_time IS NOT NULL"
    statements = [
        f"SELECT id FROM list_rows WHERE {where} ORDER BY coalesce(start_time, 0) DESC, id DESC",
        f"SELECT count(*) FROM list_rows WHERE {where}",
    ]
    return [
        " ".join(str(row[-1]) for row in store.call(lambda c: c.execute(f"EXPLAIN QUERY PLAN {s}").fetchall()))  # noqa: B023
        for s in statements
    ]
