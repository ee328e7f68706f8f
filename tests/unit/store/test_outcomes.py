"""Outcomes in the store (issue 18, deliver 1): kept per closed session when stored, filtered by the query."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.sessions.keep import put_closed, stored_outcomes
from session_mcp.sessions.outcome import OUTCOMES, outcome_of
from session_mcp.store.base import StoredQuery
from session_mcp.store.open import StoreEngine
from session_mcp.store.sqlite import SqliteStore
from tests.stores import ENGINES, opened
from tests.unit.store.helpers import ANCHOR, sessions

DEMO = sessions(60)
CLOSED = [s for s in DEMO if s.is_closed]
OLDER = CLOSED[:5]  # stored as before outcomes were: no outcome given, so unknown
OPEN = [s for s in DEMO if not s.is_closed]


def expected_outcome(session_id: str) -> str:
    by_id = {s.id: s for s in DEMO}
    if session_id in {s.id for s in OLDER} or session_id in {s.id for s in OPEN}:
        return "unknown"
    return outcome_of(by_id[session_id]).outcome


def test_the_demo_sessions_end_every_way() -> None:
    """The data below is worth filtering: closed sessions of several outcomes, and open ones."""
    counts = Counter(outcome for outcome, _ in stored_outcomes(CLOSED).values())
    assert len(counts) >= 3 and OPEN, counts


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wanted=st.sets(st.sampled_from(OUTCOMES), min_size=1), page_size=st.sampled_from([None, 7]))
def test_the_outcome_filter_returns_exactly_the_sessions_that_ended_so(
    tmp_path: Path, wanted: set[str], page_size: int | None
) -> None:
    async def run() -> list[str]:
        store = SqliteStore(tmp_path / f"o{len(list(tmp_path.iterdir()))}.sqlite3")
        try:
            tenant = store.for_tenant("t")
            await tenant.put_sessions(OLDER)  # an older row: stored without an outcome
            await put_closed(tenant, CLOSED[len(OLDER) :])
            await tenant.set_pending(OPEN, ANCHOR)
            await put_closed(store.for_tenant("other"), CLOSED)  # another tenant's rows never come
            served: list[str] = []
            after = None
            while True:
                page = await tenant.query(
                    StoredQuery(outcomes=frozenset(wanted), limit=page_size, after=after, with_figures=True)
                )
                served += [row.summary.id for row in page.rows]
                for row in page.rows:  # the figures carry the outcome matched on
                    stored = row.figures.outcome if row.figures is not None else None
                    assert (stored or "unknown") == expected_outcome(row.summary.id)
                if page_size is None or len(page.rows) < page_size:
                    assert page.total == len(served)
                    return served
                last = page.rows[-1].summary
                after = (last.start_time or 0.0, last.id)
        finally:
            store.close()

    served = anyio.run(run)
    assert len(served) == len(set(served))
    assert set(served) == {s.id for s in DEMO if expected_outcome(s.id) in wanted}


def test_the_stored_figures_keep_the_outcome_and_signal_not_the_quote(tmp_path: Path) -> None:
    async def run() -> dict[str, tuple[str | None, str | None]]:
        store = SqliteStore(tmp_path / "s.sqlite3")
        try:
            await put_closed(store.for_tenant("t"), CLOSED)
            page = await store.for_tenant("t").query(StoredQuery(with_figures=True))
            return {r.summary.id: (r.figures.outcome, r.figures.signal) for r in page.rows if r.figures is not None}
        finally:
            store.close()

    kept = anyio.run(run)
    assert kept == {s.id: (outcome_of(s).outcome, outcome_of(s).signal) for s in CLOSED}
    raw = (tmp_path / "s.sqlite3").read_bytes()
    quotes = [outcome_of(s).evidence.quote for s in CLOSED if outcome_of(s).evidence is not None]  # type: ignore[union-attr]
    assert quotes and all(f'"{quote}"'.encode() not in raw for quote in quotes if len(quote) > 20)


@pytest.mark.parametrize("engine", ENGINES)
def test_both_engines_filter_by_outcome_alike(tmp_path: Path, engine: str) -> None:
    """The same rows, stored with and without outcomes, answer each outcome filter the same on each engine."""

    async def run(store: StoreEngine) -> dict[str, set[str]]:
        tenant = store.for_tenant("t")
        await tenant.put_sessions(OLDER)  # an older row: stored without an outcome
        await put_closed(tenant, CLOSED[len(OLDER) :])
        await tenant.set_pending(OPEN, ANCHOR)
        await put_closed(store.for_tenant("other"), CLOSED)  # another tenant's rows never come
        found: dict[str, set[str]] = {}
        for outcome in OUTCOMES:
            page = await tenant.query(StoredQuery(outcomes=frozenset({outcome})))
            found[outcome] = {row.summary.id for row in page.rows}
            assert page.total == len(found[outcome])
        return found

    with opened(engine, tmp_path) as store:
        found = anyio.run(run, store)
    assert found == {o: {s.id for s in DEMO if expected_outcome(s.id) == o} for o in OUTCOMES}
