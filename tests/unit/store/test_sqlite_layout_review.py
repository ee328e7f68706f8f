"""SQLite's turn layout under review: search totals against a count over the stored bodies (windows at
exact seconds, sessions with no time, roles, spills, tenants sharing a file), damaged bodies, an
interrupted migration, and snippets of any text."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import EARLIEST_TIME, LATEST_TIME, SessionDetail
from session_mcp.store import sqlite as engine
from session_mcp.store import sqlite_search, sqlite_turns
from session_mcp.store.base import MARKS, SNIPPET_TOKENS, SearchFilters, StoreError
from session_mcp.store.search import QueryError, to_fts5
from session_mcp.store.snippets import TOKENIZER, snippet, tokens, wanted_terms
from session_mcp.store.sqlite import SqliteStore
from tests.stores import check_integrity
from tests.unit.store.helpers import ANCHOR, sessions
from tests.unit.store.test_sqlite_layout import version_5_file

WORDS = ["zorblax", "refund", "thanks", "blue"]
TIMES = [ANCHOR + 0.0, ANCHOR + 0.5, ANCHOR + 0.99, ANCHOR + 1.0, ANCHOR + 2.25, ANCHOR - 1.5, EARLIEST_TIME,
         LATEST_TIME, LATEST_TIME - 0.5]  # fmt: skip
BASE = sessions(12)


def shaped(index: int, start: Any, created_only: bool, turns: list[tuple[str | None, str]]) -> SessionDetail:
    """Session ``index`` of ``BASE`` with this start (``None``: no time; created only: no start) and turns."""
    wire = BASE[index].to_wire()
    for name in ("startedAt", "createdAt", "closedAt"):
        wire.pop(name, None)
    if start is not None:
        wire["createdAt" if created_only else "startedAt"] = start
    wire["conversation"]["items"] = [{"role": role, "text": text} for role, text in turns]
    return ingest(json.dumps(wire).encode(), SessionDetail, what="test")


session_shapes = st.tuples(
    st.integers(0, len(BASE) - 1),
    st.sampled_from([*TIMES, None, 1e12, -5.0]),  # out of range: the model reads no time
    st.booleans(),
    st.lists(
        st.tuples(st.sampled_from(["user", "agent", "system", None]), st.sampled_from([*WORDS, "x", "blue thanks"])),
        max_size=4,
    ),
    st.sampled_from(["a", "b"]),
)
edges = st.one_of(st.none(), st.sampled_from(TIMES), st.sampled_from([1.0, 1e11, ANCHOR + 0.25]))


def brute_force(
    stored: dict[tuple[str, str], SessionDetail], tenant: str, word: str, filters: SearchFilters
) -> dict[str, int]:
    """Hits per session of ``word`` for ``tenant``, counted over the sessions themselves."""
    counts: dict[str, int] = {}
    for (owner, session_id), session in stored.items():
        start = session.start_time
        if owner != tenant:
            continue
        if filters.since is not None and (start is None or start < filters.since):
            continue
        if filters.until is not None and (start is None or start >= filters.until):
            continue
        hits = sum(
            1
            for t in session.turns[: sqlite_turns.MAX_TURNS]
            if (filters.role is None or t.role == filters.role) and word in {w for w, _, _ in tokens(t.text)}
        )
        if hits:
            counts[session_id] = hits
    return counts


@pytest.mark.parametrize("slot_bits", [8, 1], ids=["256 slots", "2 slots: spills"])
def test_search_totals_are_those_counted_over_the_stored_sessions(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, slot_bits: int
) -> None:
    """Any sessions of two tenants (replaced, purged), any window and role: exact totals, per-session counts."""
    no_time = sqlite_turns.second_key(EARLIEST_TIME) + (1 << slot_bits)
    for module in (sqlite_turns, sqlite_search):
        monkeypatch.setattr(module, "SLOT_BITS", slot_bits)
        monkeypatch.setattr(module, "NO_TIME_START", no_time)

    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        batches=st.lists(st.lists(session_shapes, max_size=6), min_size=1, max_size=3),
        purge=st.one_of(st.none(), st.sampled_from(TIMES)),
        searches=st.lists(
            st.tuples(
                st.sampled_from(["a", "b"]),
                st.sampled_from(WORDS),
                edges,
                edges,
                st.sampled_from([None, "user", "agent"]),
            ),
            min_size=1,
            max_size=6,
        ),
    )
    def check(batches: list[list[Any]], purge: float | None, searches: list[Any]) -> None:
        store = SqliteStore(tmp_path_factory.mktemp("s") / "store.sqlite3")
        stored: dict[tuple[str, str], SessionDetail] = {}

        async def run() -> None:
            for batch in batches:
                for tenant in ("a", "b"):
                    mine = {
                        shaped(i, t, c, turns).id: shaped(i, t, c, turns) for i, t, c, turns, o in batch if o == tenant
                    }
                    await store.for_tenant(tenant).put_sessions(list(mine.values()))
                    stored.update({(tenant, i): s for i, s in mine.items()})
            if purge is not None:
                await store.for_tenant("a").purge(purge)
                for key in [k for k, s in stored.items() if k[0] == "a" and (s.list_time or 0) < purge]:
                    del stored[key]
            for tenant, word, since, until, role in searches:
                filters = SearchFilters(role=role, since=since, until=until)
                page = await store.for_tenant(tenant).search(word, filters, 0, 50)
                wanted = brute_force(stored, tenant, word, filters)
                assert (page.total_hits, page.total_sessions) == (sum(wanted.values()), len(wanted)), filters
                assert page.session_hits == {i: wanted[i] for i in page.session_hits}, filters
                assert {(h.session_id, h.turn_index) for h in page.hits} <= {
                    (i, n) for (o, i), s in stored.items() if o == tenant for n in range(len(s.turns))
                }

        try:
            anyio.run(run)
            check_integrity(store)
        finally:
            store.close()

    check()


def damage(store: SqliteStore, session_id: str) -> None:
    """Overwrite a stored body with bytes that are not zlib (a damaged disk, a bad copy)."""
    store.call(lambda c: c.execute("UPDATE sessions SET body = x'00ff00' WHERE id = ?", (session_id,)))


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["stored again", "purged"])
async def test_a_damaged_body_is_still_deleted_and_leaves_no_ghost(tmp_path: Path, how: str) -> None:
    """Its indexed text cannot be read back: deleting it rebuilds the index from the other bodies."""
    store = SqliteStore(tmp_path / "store.sqlite3")
    try:
        mine, theirs = store.for_tenant("a"), store.for_tenant("b")
        stored = [shaped(i, ANCHOR + i, False, [("user", "zorblax refund")]) for i in range(4)]
        await mine.put_sessions(stored[:3])
        await theirs.put_sessions(stored[3:])
        damage(store, stored[0].id)
        with pytest.raises(StoreError, match="cannot be read"):  # a hit's text is gone: said, not a traceback
            await mine.search("zorblax", SearchFilters(), 0, 10)
        if how == "purged":
            assert await mine.purge(ANCHOR + 0.5) == 1
        else:
            await mine.put_sessions([shaped(0, ANCHOR, False, [("agent", "blue")])])
        check_integrity(store)
        page = await mine.search("zorblax", SearchFilters(), 0, 10)
        assert (page.total_hits, sorted(h.session_id for h in page.hits)) == (2, sorted(s.id for s in stored[1:3]))
        assert (await theirs.search("refund", SearchFilters(), 0, 10)).total_hits == 1
    finally:
        store.close()


@pytest.mark.anyio
async def test_an_interrupted_migration_leaves_the_version_5_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure midway through rekeying rolls the whole step back; the next open migrates it whole."""
    stored = [shaped(i, ANCHOR + i, False, [("user", f"zorblax {i}"), ("agent", "refund")]) for i in range(8)]
    path = tmp_path / "old.sqlite3"
    version_5_file(path, stored)
    old = sqlite3.connect(path)
    before = old.execute("SELECT * FROM sessions ORDER BY sk").fetchall(), old.execute("SELECT * FROM turns").fetchall()
    old.close()
    calls = []
    real = sqlite_turns.new_key

    def failing(*args: Any) -> int:
        calls.append(args)
        if len(calls) > 4:
            raise RuntimeError("interrupted")
        return real(*args)

    monkeypatch.setattr(sqlite_turns, "new_key", failing)
    with pytest.raises(RuntimeError):
        SqliteStore(path)
    old = sqlite3.connect(path)
    assert old.execute("SELECT version FROM schema_version").fetchall() == [(5,)]
    assert (
        old.execute("SELECT * FROM sessions ORDER BY sk").fetchall(),
        old.execute("SELECT * FROM turns").fetchall(),
    ) == before
    old.execute("INSERT INTO turns_fts (turns_fts, rank) VALUES ('integrity-check', 1)")
    assert old.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'zorblax'").fetchone() == (8,)
    old.close()
    monkeypatch.setattr(sqlite_turns, "new_key", real)
    store = SqliteStore(path)
    try:
        check_integrity(store)
        found = await store.for_tenant("a").search("zorblax", SearchFilters(), 0, 10)
        assert sorted(h.session_id for h in found.hits) == sorted(s.id for s in stored[::2])
    finally:
        store.close()


@pytest.mark.anyio
async def test_a_damaged_body_does_not_stop_the_migration(tmp_path: Path) -> None:
    """The other sessions are rekeyed and indexed; the damaged one, unreadable, is not indexed and can be purged."""
    stored = [shaped(i, ANCHOR + i, False, [("user", "zorblax")]) for i in range(6)]
    path = tmp_path / "old.sqlite3"
    version_5_file(path, stored)
    old = sqlite3.connect(path)
    old.execute("UPDATE sessions SET body = x'00ff00' WHERE id = ?", (stored[0].id,))
    old.commit()
    old.close()
    store = SqliteStore(path)
    try:
        assert store.call(lambda c: c.execute("SELECT version FROM schema_version").fetchall()) == [(7,)]
        mine = store.for_tenant("a")
        assert (await mine.search("zorblax", SearchFilters(), 0, 10)).total_sessions == 2
        assert await mine.purge(None) == 3
        check_integrity(store)
    finally:
        store.close()


def fts5_snippet(text: str, query: str) -> str | None:
    """FTS5's own ``snippet()`` of ``text`` for ``query`` (a table holding the text), spaces made single."""
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE f USING fts5(text, tokenize='{TOKENIZER}')")
    conn.execute("INSERT INTO f (rowid, text) VALUES (1, ?)", (text,))
    found = conn.execute(
        f"SELECT snippet(f, 0, ?, ?, '…', {SNIPPET_TOKENS}) FROM f WHERE f MATCH ?", (*MARKS, to_fts5(query))
    ).fetchone()
    conn.close()
    return None if found is None else " ".join(found[0].split())


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("Je suis allé à l'e\u0301cole, l'école", "école"),  # a decomposed accent (macOS text) is part of the word
        ("ﬁne x² ＡＢＣ fine x2 ABC", "fine x2 abc"),  # FTS5 does not decompose ligatures, superscripts, wide forms
        ("thanks🦋 and thanks😀 then thanks", "thanks"),  # a newer emoji is a word character to FTS5, an older one not
        ("Ǆemal Ǆ ǅ DŽ", "ǆemal"),
        ("a \u0333\u032drefund t\u0301he t\u0335he", "refund the"),  # an accent starts no word (zalgo text)
        ("مرحبا بالعالم שלום עולם 日本語のテキスト 한국어 텍스트", "עולם"),
    ],
)
def test_a_snippet_marks_the_words_fts5_matched(text: str, query: str) -> None:
    assert snippet(text, wanted_terms(query), MARKS, SNIPPET_TOKENS) == fts5_snippet(text, query)


ANY_CHARACTER = st.characters(exclude_categories=["Cc", "Cs"]) | st.sampled_from(["\n", "\t", " ", "\u0301", ".", ":"])


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(ANY_CHARACTER, max_size=200), data=st.data())
def test_any_unicode_text_gets_the_snippet_fts5_gives_it(text: str, data: st.DataObject) -> None:
    """Combining marks, CJK, emoji, right-to-left, long tokens, empty text: never a raise, FTS5's snippet,
    never more than its tokens (controls but newline and tab never reach the store: ``ingest`` drops them)."""
    words = text.split()
    query = data.draw(st.sampled_from(words)) if words else "x"
    try:
        wanted = fts5_snippet(text, query)
    except QueryError:
        return
    ours = snippet(text, wanted_terms(query), MARKS, SNIPPET_TOKENS)
    assert len(tokens(ours.replace("…", " "))) <= max(SNIPPET_TOKENS, len(tokens(text)))
    if wanted is not None:
        assert ours == wanted


def test_text_with_no_word_or_one_long_word_gets_a_snippet() -> None:
    assert snippet("", wanted_terms("x"), MARKS, SNIPPET_TOKENS) == ""
    assert snippet("🙂 … \u200f", wanted_terms("x"), MARKS, SNIPPET_TOKENS) == "🙂 … \u200f"  # a right-to-left mark
    long = "a" * 100_000
    assert snippet(f"{long} zorblax", wanted_terms("zorblax"), MARKS, SNIPPET_TOKENS) == f"{long} «zorblax»"


@pytest.mark.anyio
async def test_a_second_tenants_first_sessions_stored_during_a_search_are_never_counted(tmp_path: Path) -> None:
    """The one-tenant test and the join-free count read one snapshot: another process storing a second
    tenant's first sessions between them cannot get its hits into this tenant's totals."""
    path = tmp_path / "store.sqlite3"
    store, other = SqliteStore(path), SqliteStore(path)
    mine = [shaped(i, ANCHOR + i, False, [("user", "zorblax")]) for i in range(3)]
    theirs = [shaped(i, ANCHOR + i, False, [("user", "zorblax zorblax"), ("agent", "zorblax")]) for i in range(3, 9)]
    await store.for_tenant("a").put_sessions(mine)
    meanwhile: list[str] = []

    def store_theirs(statement: str) -> None:
        if "count(DISTINCT" in statement and not meanwhile:
            meanwhile.append("stored")
            anyio.run(other.for_tenant("b").put_sessions, theirs)  # between the tenant test and the count

    store.call(lambda c: c.set_trace_callback(store_theirs))
    try:
        for filters in (SearchFilters(), SearchFilters(since=ANCHOR, until=ANCHOR + 100, role="user")):
            page = await store.for_tenant("a").search("zorblax", filters, 0, 10)
            assert (page.total_hits, page.total_sessions, len(page.hits)) == (3, 3, 3)
            assert page.session_hits == {s.id: 1 for s in mine}
        assert meanwhile == ["stored"]
        assert (await store.for_tenant("b").search("zorblax", SearchFilters(), 0, 10)).total_hits == 12  # turns
    finally:
        store.close()
        other.close()


@pytest.mark.anyio
async def test_a_put_failing_midway_leaves_the_index_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The replaced session's 'delete' and the first new session's entries are rolled back with the rows."""
    store = SqliteStore(tmp_path / "store.sqlite3")
    try:
        tenant = store.for_tenant("a")
        first = [shaped(i, ANCHOR + i, False, [("user", "zorblax")]) for i in range(3)]
        await tenant.put_sessions(first)
        real, calls = sqlite_turns.index_session, []

        def failing(conn: sqlite3.Connection, key: int, session: SessionDetail) -> None:
            calls.append(key)
            if len(calls) > 1:
                raise RuntimeError("disk full")
            real(conn, key, session)

        monkeypatch.setattr("session_mcp.store.sqlite.index_session", failing)
        with pytest.raises(RuntimeError):
            await tenant.put_sessions([shaped(0, ANCHOR, False, [("agent", "blue")]), shaped(5, ANCHOR, False, [])])
        check_integrity(store)
        assert (await tenant.search("zorblax", SearchFilters(), 0, 10)).total_sessions == 3
        assert (await tenant.search("blue", SearchFilters(), 0, 10)).total_hits == 0
    finally:
        store.close()


@pytest.mark.anyio
async def test_a_migrated_file_finds_what_the_version_5_index_found(tmp_path: Path) -> None:
    """Every query's totals and sessions per tenant, as the old external-content index counted them."""
    stored = sessions(40, seed=3)
    path = tmp_path / "old.sqlite3"
    version_5_file(path, stored)
    queries = ["the", "refund", "thanks", "you OR account", '"thank you"', "ref*", "help -the"]
    old = sqlite3.connect(path)
    before = {
        (tenant, query): old.execute(
            "SELECT count(*), count(DISTINCT s.id) FROM turns_fts JOIN sessions s ON s.sk = turns_fts.rowid >> 16 "
            "WHERE turns_fts MATCH ? AND s.tenant = ?",
            (to_fts5(query), tenant),
        ).fetchone()
        for tenant in ("a", "b")
        for query in queries
    }
    old.close()
    assert sum(hits for hits, _ in before.values()) > 100
    store = SqliteStore(path)
    try:
        for (tenant, query), wanted in before.items():
            page = await store.for_tenant(tenant).search(query, SearchFilters(), 0, 5)
            assert (page.total_hits, page.total_sessions) == wanted, (tenant, query)
    finally:
        store.close()


@pytest.mark.anyio
async def test_a_vacuum_that_cannot_run_after_the_migration_does_not_refuse_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The migration has committed; the vacuum after it only gives pages back (it needs the file's size free
    again, and no other writer): when it cannot run, the migrated store opens, not "cannot be used"."""
    stored = [shaped(i, ANCHOR + i, False, [("user", "zorblax")]) for i in range(4)]
    path = tmp_path / "old.sqlite3"
    version_5_file(path, stored)
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_MS", 50)
    writer = sqlite3.connect(path, isolation_level=None)

    def hold_the_write_lock(statement: str) -> None:
        if statement == "VACUUM" and not writer.in_transaction:
            writer.execute("BEGIN IMMEDIATE")  # another process writing as the vacuum starts

    real = engine.run_migrations

    def migrations(conn: sqlite3.Connection, *args: Any) -> None:
        conn.set_trace_callback(hold_the_write_lock)
        real(conn, *args)

    monkeypatch.setattr(engine, "run_migrations", migrations)
    store = SqliteStore(path)
    try:
        assert writer.in_transaction  # the vacuum met the other writer
        assert "was not compacted (database is locked)" in caplog.text
        writer.execute("ROLLBACK")
        store.call(lambda c: c.set_trace_callback(None))
        assert store.call(lambda c: c.execute("SELECT version FROM schema_version").fetchall()) == [(7,)]
        assert (await store.for_tenant("a").search("zorblax", SearchFilters(), 0, 10)).total_sessions == 2
        check_integrity(store)
    finally:
        store.close()
        writer.close()
