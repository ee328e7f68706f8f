"""QA findings kept in the store: per rules fingerprint, per tenant, for stored sessions only, and
gone with their session."""

from __future__ import annotations

import pytest

from session_mcp.store.open import StoreEngine
from session_mcp.store.rows import summary_json
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
