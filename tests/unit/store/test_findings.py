"""QA findings kept in the store: per rules fingerprint, per tenant, for stored sessions only, and
gone with their session."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail
from session_mcp.store.base import Listed, StoreError
from session_mcp.store.open import StoreEngine
from session_mcp.store.sqlite import SqliteStore
from tests.unit.store.helpers import sessions, wire_sessions

pytestmark = pytest.mark.anyio


def texts(kept: dict[str, tuple[str, Listed]]) -> dict[str, str]:
    return {session_id: text for session_id, (text, _) in kept.items()}


async def test_findings_come_back_per_rules_and_tenant_and_go_with_their_session(store_engine: StoreEngine) -> None:
    store = store_engine  # on both engines (tests/stores.py)
    one, other = store.for_tenant("one"), store.for_tenant("other")
    held = [s for s in sessions(20) if s.is_closed][:3]
    await one.put_sessions(held)
    ids = [s.id for s in held]
    await one.put_findings("rules-a", [(ids[0], "a0"), (ids[1], "a1"), ("sess_not_stored", "x")])
    await one.put_findings("rules-b", [(ids[0], "b0")])
    kept = await one.get_findings("rules-a", [*ids, "sess_not_stored"])
    assert texts(kept) == {ids[0]: "a0", ids[1]: "a1"}
    assert all(kept[s.id][1] == Listed.of(s) for s in held[:2])  # each with its list row's, which it need not copy
    assert texts(await one.get_findings("rules-b", ids)) == {ids[0]: "b0"}
    assert await other.get_findings("rules-a", ids) == {}  # another tenant's are never read
    await other.put_findings("rules-a", [(ids[0], "theirs")])  # nor written: it stores no such session
    assert texts(await one.get_findings("rules-a", ids[:1])) == {ids[0]: "a0"}
    await one.put_findings("rules-a", [(ids[0], "again")])
    assert texts(await one.get_findings("rules-a", ids[:1])) == {ids[0]: "again"}
    await one.purge(None)
    assert await one.get_findings("rules-a", ids) == {}
    await one.put_sessions(held)  # stored again: no findings until checked again
    assert await one.get_findings("rules-a", ids) == {}


async def test_a_kept_result_comes_with_its_list_row_as_the_session_says_it(store_engine: StoreEngine) -> None:
    """The columns read beside a result are the row's fields exactly: a text absent or empty, a start time of 17
    digits (or whole, or none: the creation time; or no time at all), a status the API did not give."""
    tenant = store_engine.for_tenant("one")
    odd = [
        {"companionId": "", "closeReason": None, "startedAt": 1_789_999_999.1234567},
        {"companionId": None, "closeReason": "", "startedAt": None, "createdAt": 1_789_000_000.000001},
        {"status": None, "startedAt": 1_789_000_000, "closeReason": "agent ended"},
        {"startedAt": None, "createdAt": None},
    ]
    wires = [w for w in wire_sessions(20) if w.get("closedAt") is not None][: len(odd)]
    held = [
        ingest(json.dumps({**wire, **change}).encode(), SessionDetail, what="test")
        for wire, change in zip(wires, odd, strict=True)
    ]
    assert all(s.is_closed for s in held) and held[1].started_at is None and held[2].status is None
    await tenant.put_sessions(held)
    await tenant.put_findings("rules-a", [(s.id, "kept") for s in held])
    kept = await tenant.get_findings("rules-a", [s.id for s in held])
    assert {i: row for i, (_, row) in kept.items()} == {s.id: Listed.of(s) for s in held}
    starts = [kept[s.id][1].start_time for s in held]
    assert starts == [1_789_999_999.1234567, 1_789_000_000.000001, 1_789_000_000, None]


@pytest.mark.parametrize("damage", [b"not compressed", b"x\tnot\nhex"])
async def test_a_kept_result_damaged_on_disk_is_a_store_error_saying_what_to_do(tmp_path: Path, damage: bytes) -> None:
    sqlite_store = SqliteStore(tmp_path / "s.sqlite3")
    tenant = sqlite_store.for_tenant("one")
    held = [s for s in sessions(20) if s.is_closed][:2]
    await tenant.put_sessions(held)
    await tenant.put_findings("rules-a", [(s.id, "kept") for s in held])
    conn = sqlite3.connect(sqlite_store.path)
    with conn:
        conn.execute("UPDATE findings SET body = ? WHERE id = ?", (damage, held[0].id))
    conn.close()
    with pytest.raises(StoreError) as caught:
        await tenant.get_findings("rules-a", [s.id for s in held])
    assert "session-mcp store purge --all" in str(caught.value)
    sqlite_store.close()
