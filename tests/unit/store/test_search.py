"""The search syntax: what it reads, what it refuses (with the syntax), and that no engine ever sees raw text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.models import SessionDetail
from session_mcp.store import sqlite as engine
from session_mcp.store.base import SearchFilters, SessionStore, StoreError
from session_mcp.store.search import QueryError, to_fts5
from session_mcp.store.sqlite import SqliteTenant
from tests.stores import ENGINES, opened
from tests.unit.store.helpers import sessions, with_phrase


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("refund", '("refund")'),
        ("refun* -voucher", '(("refun" *)) NOT ("voucher")'),
        ("refund OR voucher late", '("refund" OR "voucher") AND ("late")'),
        ('"charged tw"*', '("charged tw" *)'),
        ("e-mail", '("e-mail")'),
        ("col:refund", '("col:refund")'),
        ("not working", '("not") AND ("working")'),
        ('refund NOT "charged twice"', '(("refund")) NOT ("charged twice")'),
        ("AND refund", '("refund")'),
    ],
)
def test_queries_become_quoted_terms(query: str, expression: str) -> None:
    assert to_fts5(query) == expression


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ('refund "charged', "unbalanced double quote"),
        ("x OR", "OR needs a term on both sides"),
        ("OR x", "OR needs a term on both sides"),
        ("-refund", "at least one word that is not negated"),
        ("NOT", "NOT needs a term after it"),
        ("r*", "too short"),
        ("a OR -b", "NOT cannot be combined with OR"),
        ("", "at least one word"),
        ("x " * 40, "more than 32 terms"),
    ],
)
def test_bad_queries_say_why_and_show_the_syntax(query: str, why: str) -> None:
    with pytest.raises(QueryError, match=why) as caught:
        to_fts5(query)
    assert "query syntax:" in str(caught.value)


def planted_sessions() -> list[SessionDetail]:
    stored = sessions(60)
    stored[4] = with_phrase(stored[4], "Zörblax's manual")
    stored[9] = with_phrase(stored[9], "ZORBLAX")
    stored[12] = with_phrase(stored[12], "the e-mail li.wei12@example.com")
    return stored


@pytest.fixture(scope="module", params=ENGINES)
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionStore]:
    with opened(request.param, tmp_path_factory.mktemp("search")) as store:
        tenant = store.for_tenant("t")
        anyio.run(tenant.put_sessions, planted_sessions())
        yield tenant


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "sessions_found"),
    [
        ("zorblax", 2),
        ("zorb*", 2),
        ("zorblax -manual", 1),
        ('"e-mail"', 1),
        ("li.wei12@example.com", 1),
        ("zorblax OR e-mail", 3),
    ],
)
async def test_case_accents_and_punctuation_are_ignored(planted: SessionStore, query: str, sessions_found: int) -> None:
    page = await planted.search(query, SearchFilters(), 0, 20)
    assert page.total_sessions == sessions_found
    assert all("«" in hit.snippet for hit in page.hits)


@pytest.mark.anyio
async def test_pages_follow_on_and_totals_are_exact(planted: SessionStore) -> None:
    first = await planted.search("the", SearchFilters(), 0, 7)
    assert first.total_hits > 7 and first.next_offset == 7 and len(first.hits) == 7
    seen = [(h.session_id, h.turn_index) for h in first.hits]
    offset = first.next_offset
    while offset is not None:
        page = await planted.search("the", SearchFilters(), offset, 7)
        seen += [(h.session_id, h.turn_index) for h in page.hits]
        offset = page.next_offset
    assert len(seen) == len(set(seen)) == first.total_hits
    users = await planted.search("the", SearchFilters(role="user"), 0, 500)
    assert users.hits and {h.role for h in users.hits} == {"user"}


@pytest.mark.anyio
async def test_external_client_and_tags_filter_the_hits(planted: SqliteTenant) -> None:
    everything = await planted.search("the", SearchFilters(), 0, 1_000)
    stored = {s.id: s for s in sessions(60)}
    client = next(s.external_client_id for s in stored.values() if s.external_client_id)
    by_client = await planted.search("the", SearchFilters(external_client_id=client), 0, 1_000)
    assert by_client.hits and {stored[h.session_id].external_client_id for h in by_client.hits} == {client}
    key, value = next((k, str(v)) for s in stored.values() for k, v in (s.tags or {}).items())
    tagged = await planted.search("the", SearchFilters(tags=((key, value),)), 0, 1_000)
    assert tagged.hits and all(str((stored[h.session_id].tags or {}).get(key)) == value for h in tagged.hits)
    assert tagged.total_hits < everything.total_hits
    none = await planted.search("the", SearchFilters(tags=((key, value), (key, value + "x"))), 0, 10)
    assert none.total_hits == 0  # every pair must match


@settings(max_examples=300, deadline=None, database=None)
@given(query=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
       | st.lists(st.sampled_from(['"', "-", "*", "OR", "NOT", "AND", "(", ")", ":", "^", "NEAR", "a", "zorb", "é", "_",
                                   "x*", "'", "+", "\x00", "e-mail"]), max_size=8).map(" ".join))  # fmt: skip
def test_any_query_gives_results_or_one_clear_error(planted: SessionStore, query: str) -> None:
    try:
        page = anyio.run(planted.search, query, SearchFilters(), 0, 5)
    except QueryError as exc:
        assert "query syntax:" in str(exc)
    except (sqlite3.Error, StoreError) as exc:  # pragma: no cover - the failure this test exists to catch
        pytest.fail(f"{query!r} reached the engine raw: {exc}")
    else:
        assert page.total_hits >= len(page.hits)


@pytest.mark.anyio
async def test_a_search_past_its_time_bound_is_stopped_with_what_to_do(
    planted: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's one worker serves every tenant: no query may hold it past the bound."""
    if not isinstance(planted, SqliteTenant):
        pytest.skip("SQLite's bound; PostgreSQL's statement_timeout: tests/unit/store/test_postgres.py")
    monkeypatch.setattr(engine, "SEARCH_SECONDS", -1.0)  # the deadline has passed at the first check
    monkeypatch.setattr(engine, "PROGRESS_STEPS", 1)
    with pytest.raises(StoreError, match=r"took longer than .* and was stopped: narrow it"):
        await planted.search("the", SearchFilters(), 0, 7)
    monkeypatch.undo()
    assert (await planted.search("the", SearchFilters(), 0, 7)).hits  # the connection serves on
