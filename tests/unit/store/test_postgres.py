"""What only the PostgreSQL store has to prove: its password never shown, migrations shared by servers
starting together, the engines agreeing on every search, its time bound, and one sync per tenant
across processes (an advisory lock freed when a server dies).

The store tests that both engines share run on PostgreSQL too (tests/stores.py); these need it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from session_mcp.companion.client import CompanionClient
from session_mcp.config import load_settings
from session_mcp.sessions.sync import sync
from session_mcp.store import pg_schema, postgres, sqlite
from session_mcp.store.base import SearchFilters, SessionStore, StoredQuery, StoreError, SyncRunningError
from session_mcp.store.open import location_of, open_store
from session_mcp.store.postgres import PostgresStore
from session_mcp.store.url import DatabaseURL
from tests.helpers import ANCHOR, clean_environment, run_main
from tests.stores import advisory_locks, fresh_database, opened, require_postgres
from tests.unit.store.test_search import planted_sessions

pytestmark = pytest.mark.anyio


@pytest.fixture
def url() -> Iterator[DatabaseURL]:
    with fresh_database() as made:
        yield made


def password_of(url: DatabaseURL) -> str:
    secret = url.dsn.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    assert secret, "the test server's URL has a password: its absence from output would prove nothing"
    return secret


def test_both_engines_have_the_same_schema_versions() -> None:
    assert pg_schema.SCHEMA_VERSION == sqlite.SCHEMA_VERSION == len(pg_schema.MIGRATIONS) == len(sqlite.MIGRATIONS)


def test_the_password_is_never_shown(url: DatabaseURL) -> None:
    secret = password_of(url)
    settings = load_settings({"demo": True, "store": url.dsn}, {})
    assert settings.store == url and secret not in repr(settings) and secret not in str(settings.store)
    wrong = DatabaseURL(url.dsn.replace(f":{secret}@", ":not-the-password@"))
    with pytest.raises(StoreError, match="cannot reach the store") as refused:
        open_store(wrong)
    assert "not-the-password" not in str(refused.value) and "password authentication failed" in str(refused.value)
    done = run_main("store", "info", "--demo", "--store", url.dsn, env=clean_environment())
    assert done.returncode == 0, done
    assert str(url) in done.stdout and secret not in done.stdout + done.stderr
    nowhere = location_of("postgresql://u:hunter22@127.0.0.1:1/db")
    with pytest.raises(StoreError, match=r"cannot reach the store postgresql://u@127\.0\.0\.1:1/db") as unreachable:
        open_store(nowhere)
    assert "hunter22" not in str(unreachable.value)


def test_servers_starting_together_migrate_once_and_a_newer_schema_is_refused(url: DatabaseURL) -> None:
    opened_stores: list[PostgresStore] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            opened_stores.append(PostgresStore(url))
        except BaseException as exc:  # pragma: no cover - what the test exists to catch
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(opened_stores) == 4
    store = opened_stores[0]
    assert store.call(lambda c: c.execute("SELECT version FROM schema_version").fetchall()) == [
        (pg_schema.SCHEMA_VERSION,)
    ]
    store.call(lambda c: c.execute("UPDATE schema_version SET version = version + 1"))
    for each in opened_stores:
        each.close()
    with pytest.raises(StoreError, match="newer session-mcp"):
        PostgresStore(url)


QUERIES = [
    "zorblax", "zorb*", "zorblax -manual", '"e-mail"', "li.wei12@example.com", "zorblax OR e-mail", "the",
    "order", "ord*", '"the order"', "refund OR voucher late", "help NOT the", "can* -you", "i'm", "don't",
    '"how can i help"', "e-mail OR ZÖRBLAX", "thanks", "th*", "x",
]  # fmt: skip


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SessionStore]]:
    require_postgres()
    folder = tmp_path_factory.mktemp("agree")
    with opened("sqlite", folder) as lite, opened("postgresql", folder) as pg:
        tenants = {"sqlite": lite.for_tenant("t"), "postgresql": pg.for_tenant("t")}
        for tenant in tenants.values():
            anyio.run(tenant.put_sessions, planted_sessions())
        yield tenants


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("role", [None, "user"])
async def test_the_engines_find_the_same_turns(both: dict[str, SessionStore], query: str, role: str | None) -> None:
    """Same rows, same exact totals, same per-session counts; only the order of equal relevance may differ."""
    pages = {name: await tenant.search(query, SearchFilters(role=role), 0, 1_000) for name, tenant in both.items()}
    lite, pg = pages["sqlite"], pages["postgresql"]
    assert (lite.total_hits, lite.total_sessions, lite.order) == (pg.total_hits, pg.total_sessions, pg.order)
    assert {(h.session_id, h.turn_index) for h in lite.hits} == {(h.session_id, h.turn_index) for h in pg.hits}
    assert lite.session_hits == pg.session_hits
    assert all("«" in hit.snippet for hit in pg.hits), [h.snippet for h in pg.hits if "«" not in h.snippet]


async def test_a_search_past_its_time_bound_is_stopped_with_what_to_do(
    url: DatabaseURL, monkeypatch: pytest.MonkeyPatch
) -> None:
    """statement_timeout bounds each statement of a search; past it, SQLite's own message."""
    store = PostgresStore(url)
    tenant = store.for_tenant("t")
    await tenant.put_sessions(planted_sessions()[:5])
    monkeypatch.setattr(postgres, "SEARCH_SECONDS", 0.2)
    holder = store.connect()  # another session rebuilding the table: the search waits on its lock
    holder.execute("BEGIN")
    holder.execute("LOCK TABLE turns IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(StoreError, match=r"took longer than 0.2 s and was stopped: narrow it"):
            await tenant.search("the", SearchFilters(), 0, 7)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await tenant.search("the", SearchFilters(), 0, 7)).hits  # the pool serves on
    store.close()


async def test_one_sync_per_tenant_across_servers_and_a_dead_servers_lock_is_freed(url: DatabaseURL) -> None:
    """Two stores are two servers; terminating the lock's connection is a server killed mid-sync."""
    first, second = PostgresStore(url), PostgresStore(url)
    try:
        async with first.for_tenant("t").sync_lock():
            with pytest.raises(SyncRunningError, match="another sync is running"):
                async with second.for_tenant("t").sync_lock():
                    pass  # pragma: no cover
            async with second.for_tenant("another tenant").sync_lock():
                pass  # another tenant's sync runs beside it
            holders = advisory_locks(second)
            assert len(holders) == 1  # the other tenant's lock went with its sync
            second.call(lambda c: c.execute("SELECT pg_terminate_backend(%s)", (holders[0],)))
            with anyio.fail_after(10):  # the backend's exit frees the lock: an event, polled
                while advisory_locks(second):
                    await anyio.sleep(0.02)
            async with second.for_tenant("t").sync_lock():
                pass
    finally:
        first.close()
        second.close()


async def test_a_url_without_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "session_mcp.store.postgres", raising=False)
    with pytest.raises(StoreError, match=r"pip install 'session-mcp\[postgresql\]'"):
        open_store("postgresql://u:pw@127.0.0.1:1/db")
    open_store(tmp_path / "s.sqlite3").close()  # the default engine needs nothing


async def test_the_engines_answer_the_same_stored_queries(client: CompanionClient, tmp_path: Path) -> None:
    """The demo project synced into both engines: every stored query gives the same rows, figures and counts,
    and keyset pages walk the same order."""
    require_postgres()
    with opened("sqlite", tmp_path) as lite, opened("postgresql", tmp_path) as pg:
        tenants = [lite.for_tenant(client.fingerprint), pg.for_tenant(client.fingerprint)]
        for tenant in tenants:
            await sync(client, tenant, clock=lambda: ANCHOR + 600.0)
        week = ANCHOR - 7 * 86_400.0
        for query in (
            StoredQuery(),
            StoredQuery(limit=7, with_figures=True),
            StoredQuery(since=week, until=ANCHOR - 86_400.0),
            StoredQuery(statuses=frozenset({"closed", "pending"}), session_types=frozenset({"conversation"})),
            StoredQuery(tags=(("channel", "web"),)),
            StoredQuery(companion_id="comp_support", with_figures=True, limit=50),
            StoredQuery(close_reasons=frozenset({"error"}), modalities=frozenset({"voice"})),
        ):
            lite_page, pg_page = [await tenant.query(query) for tenant in tenants]
            assert lite_page.total == pg_page.total, query
            assert [(r.summary, r.figures) for r in lite_page.rows] == [(r.summary, r.figures) for r in pg_page.rows]
        assert (await tenants[0].query(StoredQuery(tags=(("channel", "web"),)))).total > 0
        walks: list[list[str]] = []
        for tenant in tenants:
            walk: list[str] = []
            after = None
            while True:
                page = await tenant.query(StoredQuery(after=after, limit=37))
                walk += [r.summary.id for r in page.rows]
                if len(page.rows) < 37:
                    break
                last = page.rows[-1].summary
                after = (last.start_time or 0.0, last.id)
            walks.append(walk)
        assert (
            walks[0] == walks[1]
            and len(walks[0]) == len(set(walks[0])) == (await tenants[0].query(StoredQuery())).total
        )
