"""QA findings kept in the store: per rules fingerprint, per tenant, for stored sessions only, and
gone with their session."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from session_mcp.store.base import StoreError
from session_mcp.store.open import StoreEngine
from session_mcp.store.rows import summary_json
from session_mcp.store.sqlite import SqliteStore
from tests.unit.store.helpers import sessions

pytestmark = pytest.mark.anyio


def texts(kept: dict[str, tuple[str, str]]) -> dict[str, str]:
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
    assert all(kept[s.id][1] == summary_json(s) for s in held[:2])  # each with its list row, which it need not copy
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
