"""SQLite's turn layout: text once (a contentless index, snippets made from the bodies), keys ordered by time
with the role in a turn's key (windows and roles inside FTS5), and the migration of a version-5 file."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail
from session_mcp.store import sqlite as engine
from session_mcp.store import sqlite_search, sqlite_turns
from session_mcp.store.base import MARKS, SNIPPET_TOKENS, Annotation, SearchFilters, StoredQuery
from session_mcp.store.rows import figures_json, session_columns, stored_bodies, turn_offset
from session_mcp.store.search import to_fts5
from session_mcp.store.snippets import snippet, tokens, wanted_terms
from session_mcp.store.sqlite import SqliteStore
from session_mcp.store.sqlite_query import write_rows
from session_mcp.store.sqlite_turns import MAX_TURNS, body_turns
from tests.stores import check_integrity, forget
from tests.unit.store.helpers import ANCHOR, sessions, with_phrase

pytestmark = pytest.mark.anyio

PLANTED = [
    "I read Zörblax's manual twice, and ZORBLAX again.",
    "Please write to the e-mail li.wei12@example.com about my refund; the refund was charged twice on Monday "
    "and then I was charged twice again on Tuesday for the same order which is odd",
    "refund at the very start of a long sentence. That keeps going: on and on for many more words than the "
    "window holds, refund",
    "Straße Nguyễn café résumé refunded refunds",
]
QUERIES = ["zorblax", "zorb*", '"charged twice"', "li.wei12@example.com", "refund", "e-mail", "refun*", "nguyen",
           "cafe resume", "straße -x", "refund OR twice", "the", "you", "to OR and", "th*", "account"]  # fmt: skip


def test_snippets_made_from_the_text_are_those_fts5_makes_from_stored_content() -> None:
    """FTS5's ``snippet()`` over a table holding the text, against ours over the same text, term for term."""
    texts = PLANTED + [t.text for s in sessions(20) for t in s.turns]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO f (rowid, text) VALUES (?, ?)", enumerate(texts))
    compared = 0
    for query in QUERIES:
        for rowid, theirs in conn.execute(
            f"SELECT rowid, snippet(f, 0, ?, ?, '…', {SNIPPET_TOKENS}) FROM f WHERE f MATCH ?", (*MARKS, to_fts5(query))
        ):
            assert snippet(texts[rowid], wanted_terms(query), MARKS, SNIPPET_TOKENS) == " ".join(theirs.split())
            compared += 1
    assert compared > 200


def test_words_fold_as_the_tokenizer_folds_them() -> None:
    assert [t for t, _, _ in tokens("Zörblax's e-mail STRASSE Straße Nguyễn v2.3")] == [
        "zorblax", "s", "e", "mail", "strasse", "straße", "nguyen", "v2", "3"
    ]  # fmt: skip


def test_body_turns_read_as_the_model_reads_them() -> None:
    stored = sessions(10)
    wire = stored[0].to_wire()
    wire["conversation"]["items"] += [{"role": None, "text": None}, {}]
    stored[0] = ingest(json.dumps(wire).encode(), SessionDetail, what="test")
    for session, body, _ in stored_bodies(stored):
        read = [(t.role, t.text, t.timestamp) for t in body_turns(body)]
        assert read == [(t.role, t.text, t.timestamp) for t in session.turns]


def at(session: SessionDetail, start: float, roles: list[str], text: str) -> SessionDetail:
    """``session`` started at ``start`` with one turn of ``text`` per role."""
    wire = session.to_wire()
    wire.update(startedAt=start, createdAt=start - 1)
    wire["conversation"]["items"] = [{"role": r, "text": text, "timestamp": start + i} for i, r in enumerate(roles)]
    return ingest(json.dumps(wire).encode(), SessionDetail, what="test")


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = SqliteStore(tmp_path / "store.sqlite3")
    yield opened
    opened.close()


@pytest.mark.parametrize("shared", [False, True], ids=["one tenant", "a shared file"])
async def test_windows_and_roles_are_exact_at_the_edge_of_a_second(store: SqliteStore, shared: bool) -> None:
    """Sessions within one second, a window cutting it: the rowid range alone would take them all."""
    base = sessions(8)
    second = ANCHOR + 0.0
    starts = [second + 0.1, second + 0.5, second + 0.9, second + 1.2, second - 3, second + 7.5, second + 0.5, 0.0]
    mine = [at(s, t, ["user", "agent", "system"], "zorblax here") for s, t in zip(base, starts, strict=True)]
    mine[-1] = at(base[-1], second, ["user"], "zorblax here")
    wire = mine[-1].to_wire()
    del wire["startedAt"], wire["createdAt"]  # no time at all: in no window
    mine[-1] = ingest(json.dumps(wire).encode(), SessionDetail, what="test")
    tenant = store.for_tenant("mine")
    await tenant.put_sessions(mine)
    if shared:
        await store.for_tenant("theirs").put_sessions(
            [at(s, second + 0.5, ["user"], "zorblax") for s in sessions(3, 5)]
        )
    for since, until, role in [
        (second + 0.5, None, None), (None, second + 0.5, None), (second + 0.3, second + 1.2, "user"),
        (second + 0.9, second + 0.9, None), (second - 10, second + 8, "agent"), (None, None, "user"),
        (second + 1, second + 2, None), (1.0, None, None),
    ]:  # fmt: skip
        filters = SearchFilters(role=role, since=since, until=until)
        page = await tenant.search("zorblax", filters, 0, 100)
        wanted = [
            (s.id, i)
            for s in mine
            for i, t in enumerate(s.turns)
            if (since is None or (s.start_time is not None and s.start_time >= since))
            and (until is None or (s.start_time is not None and s.start_time < until))
            and (role is None or t.role == role)
        ]
        assert sorted((h.session_id, h.turn_index) for h in page.hits) == sorted(wanted), filters
        assert (page.total_hits, page.total_sessions) == (len(wanted), len({i for i, _ in wanted}))
        assert all(h.role == mine[0].turns[h.turn_index].role for h in page.hits)
        assert all(page.session_hits[i] == sum(1 for j, _ in wanted if j == i) for i in page.session_hits)


async def test_keys_fall_as_start_time_grows_and_newest_first_is_the_index_order(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = sessions(30)
    tenant = store.for_tenant("t")
    await tenant.put_sessions(stored)
    keys = store.call(lambda c: c.execute("SELECT sk, start_time FROM sessions ORDER BY sk").fetchall())
    assert [t for _, t in keys] == sorted((t for _, t in keys), reverse=True)
    monkeypatch.setattr(sqlite_search, "RANK_LIMIT", 0)  # too many hits to rank: newest first
    page = await tenant.search("the", SearchFilters(), 0, 20)
    by_time = sorted(stored, key=lambda s: -(s.start_time or 0))
    assert page.order == "newest" and [h.session_id for h in page.hits][:1] == [by_time[0].id]
    turns = [(by_time.index(next(s for s in stored if s.id == h.session_id)), h.turn_index) for h in page.hits]
    assert turns == sorted(turns)  # newest session first, its turns in order
    hit = page.hits[0]
    session = next(s for s in stored if s.id == hit.session_id)
    turn = session.turns[hit.turn_index]
    assert (hit.role, hit.offset_seconds) == (turn.role, turn_offset(turn.timestamp, session.turn_origin))


async def test_the_index_holds_exactly_the_bodies_turns_after_replace_forget_and_purge(store: SqliteStore) -> None:
    tenant = store.for_tenant("t")
    stored = sessions(12)
    await tenant.put_sessions(stored)
    await tenant.put_sessions([with_phrase(s, "replaced zorblax") for s in stored[:4]])  # new text, new keys
    check_integrity(store)
    assert (await tenant.search("zorblax", SearchFilters(), 0, 20)).total_sessions == 4
    forget(store, "t", [stored[0].id])
    check_integrity(store)
    await tenant.purge(sorted(s.list_time or 0 for s in stored)[6])
    check_integrity(store)
    assert await tenant.purge(None) > 0
    check_integrity(store)
    assert store.call(lambda c: c.execute("SELECT count(*) FROM turns_fts WHERE turns_fts MATCH 'the'").fetchone()) == (
        0,
    )


async def test_a_delete_given_other_text_than_was_indexed_is_caught(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FTS5's own check misses a ghost entry in a contentless index; ``check_integrity`` must not."""
    tenant = store.for_tenant("t")
    await tenant.put_sessions(sessions(2))
    read = sqlite_turns.body_turns

    def altered(body: bytes) -> list[sqlite_turns.BodyTurn]:
        turns = read(body)
        turns[0].text = turns[0].text.split(" ", 1)[1]  # the first word left out: it stays in the index
        return turns

    monkeypatch.setattr(sqlite_turns, "body_turns", altered)
    await tenant.purge(None)
    store.call(lambda c: c.execute("INSERT INTO turns_fts (turns_fts, rank) VALUES ('integrity-check', 1)"))
    with pytest.raises(AssertionError, match="index entries without a body"):
        check_integrity(store)


async def test_a_page_reads_its_sessions_from_the_snapshot_its_hits_came_from(tmp_path: Path) -> None:
    """A sync replacing a session between the page's statements must not make its hit lose its row."""
    path = tmp_path / "store.sqlite3"
    store, other = SqliteStore(path), SqliteStore(path)
    stored = [with_phrase(s, "zorblax") for s in sessions(12) if s.turns][:4]
    await store.for_tenant("t").put_sessions(stored)
    meanwhile: list[int] = []

    def replace_them(statement: str) -> None:
        if "FROM sessions WHERE sk IN" in statement and not meanwhile:
            meanwhile.append(anyio.run(other.for_tenant("t").purge, None))  # another process, between statements

    store.call(lambda c: c.set_trace_callback(replace_them))
    try:
        page = await store.for_tenant("t").search("zorblax", SearchFilters(), 0, 10)
        assert meanwhile == [4] and sorted(h.session_id for h in page.hits) == sorted(s.id for s in stored)
        assert (await store.for_tenant("t").search("zorblax", SearchFilters(), 0, 10)).total_hits == 0
    finally:
        store.close()
        other.close()


async def test_a_session_beyond_the_indexed_turns_keeps_them_in_its_body(store: SqliteStore) -> None:
    long = at(sessions(1)[0], ANCHOR, ["user"] * (MAX_TURNS + 3), "zorblax")
    tenant = store.for_tenant("t")
    await tenant.put_sessions([long])
    assert (await tenant.search("zorblax", SearchFilters(), 0, 5)).total_hits == MAX_TURNS
    assert len((await tenant.get_session(long.id) or long).turns) == MAX_TURNS + 3
    check_integrity(store)


async def test_a_full_second_spills_to_a_later_key_and_windows_stay_exact(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More sessions in one second than it has slots: the last ones take later keys, listed as spills."""
    monkeypatch.setattr("session_mcp.store.sqlite_turns.SLOT_BITS", 1)  # two slots a second
    tenant = store.for_tenant("t")
    base = sessions(4)
    await tenant.put_sessions([at(s, ANCHOR + 0.5, ["user"], "zorblax") for s in base[:3]])
    await tenant.put_sessions([at(base[3], ANCHOR + 1000, ["user"], "zorblax")])
    assert store.call(lambda c: c.execute("SELECT count(*) FROM key_spills").fetchone()) == (1,)
    page = await tenant.search("zorblax", SearchFilters(since=ANCHOR, until=ANCHOR + 1), 0, 10)
    assert page.total_sessions == 3
    await tenant.purge(None)
    assert store.call(lambda c: c.execute("SELECT count(*) FROM key_spills").fetchone()) == (0,)


KEPT = ("findings", "annotations", "list_rows", "pending", "sync_state")  # keyed by tenant and id: untouched


def version_5_file(path: Path, stored: list[SessionDetail]) -> None:
    """A file as session-mcp wrote it at schema 5: a ``turns`` table, an external-content index, row keys."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (5)")
    for step in engine.MIGRATIONS[:5]:
        for statement in step:
            conn.execute(statement)
    for tenant, group in (("a", stored[::2]), ("b", stored[1::2])):
        for session, body, raw_bytes in stored_bodies(group):
            cursor = conn.execute(
                "INSERT INTO sessions (tenant, id, body, raw_bytes, turn_count, companion_id, external_client_id, "
                "status, close_reason, session_type, modality, created_at, started_at, closed_at, list_time, "
                "start_time, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                session_columns(tenant, session, body, raw_bytes),
            )
            key = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO turns (tk, role, offset_s, text) VALUES (?, ?, ?, ?)",
                (
                    ((key << 16) | i, t.role, turn_offset(t.timestamp, session.turn_origin), t.text)
                    for i, t in enumerate(session.turns)
                ),
            )
        write_rows(conn, tenant, [(s, figures_json(s)) for s in group], open_=False)
        conn.execute("INSERT INTO findings VALUES (?, ?, 'rules', x'00ff')", (tenant, group[0].id))  # opaque here
        conn.execute(
            "INSERT INTO annotations (tenant, session_id, kind, reviewer, at, text) VALUES (?, ?, 'note', 'r', 1, 'n')",
            (tenant, group[0].id),
        )
    conn.close()


async def test_a_version_5_file_is_migrated_in_place_and_nothing_is_lost(tmp_path: Path) -> None:
    stored = sessions(24)
    stored[3] = with_phrase(stored[3], "Zörblax")
    stored[8] = with_phrase(stored[8], "zorblax again")
    path = tmp_path / "old.sqlite3"
    version_5_file(path, stored)
    old = sqlite3.connect(path)
    before = old.execute("SELECT count(*) FROM sessions").fetchone()
    kept = {table: old.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in KEPT}
    old.close()
    started = time.monotonic()
    store = SqliteStore(path)
    try:
        assert time.monotonic() - started < 30
        assert store.call(lambda c: c.execute("SELECT version FROM schema_version").fetchall()) == [(7,)]
        assert store.call(lambda c: c.execute("PRAGMA freelist_count").fetchone()) == (0,)  # vacuumed
        tables = {r[0] for r in store.call(lambda c: c.execute("SELECT name FROM sqlite_master").fetchall())}
        assert "turns" not in tables and "key_spills" in tables
        check_integrity(store)
        a, b = store.for_tenant("a"), store.for_tenant("b")
        assert (await a.info()).sessions + (await b.info()).sessions == before[0] == 24
        assert await a.get_session(stored[8].id) == stored[8] and await b.get_session(stored[3].id) == stored[3]
        assert (await a.search("zorblax", SearchFilters(), 0, 10)).total_sessions == 1
        found = await b.search("zorblax", SearchFilters(), 0, 10)
        assert [h.session_id for h in found.hits] == [stored[3].id] and "«Zörblax»" in found.hits[0].snippet
        for table, rows in kept.items():
            statement = f"SELECT * FROM {table} ORDER BY 1, 2"
            assert store.call(lambda c: c.execute(statement).fetchall()) == rows  # noqa: B023 - called at once
        notes = await b.annotations([stored[1].id])
        assert [(n.kind, n.text) for n in notes] == [("note", "n")] and isinstance(notes[0], Annotation)
        assert (await a.query(StoredQuery())).total == 12
        keys = store.call(lambda c: c.execute("SELECT start_time FROM sessions ORDER BY sk").fetchall())
        assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    finally:
        store.close()


FORMS = {  # a word of the text: queries that find it
    "refund": ["refund", "refun*", "refund OR x"], "Refunded": ["refun*", "refunded"], "zörblax": ["zorblax", "ZÖRB*"],
    "ZORBLAX": ["zorblax"], "e-mail": ["e-mail", '"e mail"'], "li.wei12@example.com": ["example.com", "wei12"],
    "Straße": ["straße", "stra*"], "v2.3": ["v2.3", "v2"], "the": ["the", "the NOT y", '"the a"'], "a": ["a"],
}  # fmt: skip


@settings(max_examples=200, deadline=None, database=None)
@given(
    words=st.lists(st.sampled_from([*FORMS, ".", ":", ",", " ", "\n", "'", "_", "é", "x"]), min_size=1, max_size=40),
    data=st.data(),
)
def test_any_text_gets_the_snippet_fts5_gives_it(words: list[str], data: st.DataObject) -> None:
    present = sorted({w for w in words if w in FORMS}) or ["refund"]
    chosen = data.draw(st.lists(st.sampled_from(present), min_size=1, max_size=3))
    query = " ".join(data.draw(st.sampled_from(FORMS[w])) for w in chosen)
    text = " ".join(words)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO f (rowid, text) VALUES (1, ?)", (text,))
    found = conn.execute(
        f"SELECT snippet(f, 0, ?, ?, '…', {SNIPPET_TOKENS}) FROM f WHERE f MATCH ?", (*MARKS, to_fts5(query))
    ).fetchone()
    if found is not None:
        assert snippet(text, wanted_terms(query), MARKS, SNIPPET_TOKENS) == " ".join(found[0].split())
