"""The store: round trip, tenant partition, purge (on both engines); SQLite's file modes and schema versions."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from session_mcp.companion.cache import key_fingerprint
from session_mcp.store.base import SearchFilters, StoreError, SyncState
from session_mcp.store.files import default_path
from session_mcp.store.open import StoreEngine
from session_mcp.store.sqlite import SCHEMA_VERSION, SqliteStore
from tests.stores import check_integrity
from tests.unit.store.helpers import sessions, with_phrase

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "data" / "store.sqlite3")
    yield opened
    opened.close()


async def test_a_session_comes_back_as_it_went_in(store_engine: StoreEngine) -> None:
    store = store_engine
    tenant = store.for_tenant("a")
    stored = sessions(20)
    await tenant.put_sessions(stored)
    assert await tenant.get_session(stored[3].id) == stored[3]
    assert await tenant.closed_ids([s.id for s in stored] + ["sess_unknown"]) == {s.id for s in stored}
    await tenant.put_sessions(stored[:5])  # stored again: replaced, not doubled
    await tenant.put_sessions([])  # a review that read no closed session stores nothing, and says nothing
    info = await tenant.info()
    assert info.sessions == 20 and info.turns == sum(len(s.turns) for s in stored)
    check_integrity(store)


async def test_no_tenant_reads_another_tenants_rows(store_engine: StoreEngine) -> None:
    store = store_engine
    mine, theirs = (
        store.for_tenant(key_fingerprint("key-a", "http://x")),
        store.for_tenant(key_fingerprint("key-b", "http://x")),
    )
    their_sessions = sessions(10, seed=99)
    await theirs.put_sessions([with_phrase(s, "zorblax") for s in their_sessions])
    await theirs.set_pending(their_sessions[:2], now=1.0)
    await theirs.set_sync_state(SyncState(last_sync=5.0, newest_seen=4.0))
    await mine.put_sessions(sessions(5))
    assert await mine.get_session(their_sessions[0].id) is None
    assert await mine.closed_ids([s.id for s in their_sessions]) == set()
    assert (await mine.search("zorblax", SearchFilters(), 0, 10)).total_hits == 0
    assert (await theirs.search("zorblax", SearchFilters(), 0, 10)).total_sessions == 10
    assert await mine.pending() == [] and await mine.sync_state() == SyncState()
    info = await mine.info()
    assert (info.sessions, info.pending) == (5, 0)
    assert await mine.purge(None) == 5
    assert (await theirs.info()).sessions == 10


async def test_purge_before_a_date_keeps_the_newer_ones(store_engine: StoreEngine) -> None:
    store = store_engine
    tenant = store.for_tenant("a")
    stored = sessions(30)
    await tenant.put_sessions(stored)
    times = sorted(s.list_time or 0 for s in stored)
    cut = times[10]
    assert await tenant.purge(cut) == 10
    assert (await tenant.info()).oldest == cut
    assert (await tenant.search("the", SearchFilters(), 0, 500)).total_sessions <= 20
    check_integrity(store)
    assert await tenant.purge(None) == 20
    assert (await tenant.info()).turns == 0


def test_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "store.sqlite3"
    SqliteStore(path).close()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_an_open_file_is_closed_in_a_folder_left_as_the_user_made_it_and_a_link_refused(tmp_path: Path) -> None:
    folder = tmp_path / "open"  # a folder the user named (--store ~/s.sqlite3: the home folder) stays theirs
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    path = folder / "store.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    SqliteStore(path).close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    link = folder / "link.sqlite3"
    link.symlink_to(path)
    with pytest.raises(StoreError, match="cannot open the store"):
        SqliteStore(link)


def test_a_newer_schema_is_refused_and_an_older_one_migrated(tmp_path: Path) -> None:
    path = tmp_path / "s" / "store.sqlite3"
    SqliteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer session-mcp"):
        SqliteStore(path)
    empty = tmp_path / "s" / "old.sqlite3"
    with sqlite3.connect(empty) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    SqliteStore(empty).close()
    with sqlite3.connect(empty) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_a_file_that_is_no_database_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "s" / "store.sqlite3"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="move it away"):
        SqliteStore(path)


def test_the_default_path_is_the_platforms_data_folder() -> None:
    assert default_path({"XDG_DATA_HOME": "/d"}, "linux") == Path("/d/session-mcp/store.sqlite3")
    assert default_path({}, "linux") == Path.home() / ".local/share/session-mcp/store.sqlite3"
    assert default_path({}, "darwin") == Path.home() / "Library/Application Support/session-mcp/store.sqlite3"


async def test_a_store_another_process_holds_is_a_store_error_saying_busy(store: SqliteStore) -> None:
    store.call(lambda conn: conn.execute("PRAGMA busy_timeout=50"))  # the test's wait, not the shipped 10 s
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process in the middle of a large write
    try:
        with pytest.raises(StoreError, match=r"is busy .*try again in a moment"):
            await store.for_tenant("t").set_sync_state(SyncState(last_sync=1.0))
    finally:
        other.execute("ROLLBACK")
        other.close()
    await store.for_tenant("t").set_sync_state(SyncState(last_sync=1.0))  # and it works once released
