"""Reviewers' annotations in the SQLite store: kept per tenant, oldest first, by session when asked."""

from __future__ import annotations

import pytest

from session_mcp.store.base import Annotation
from session_mcp.store.open import StoreEngine

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(store_engine: StoreEngine) -> StoreEngine:
    """On both engines (tests/stores.py)."""
    return store_engine


async def test_annotations_come_back_per_tenant_in_order(store: StoreEngine) -> None:
    a, b = store.for_tenant("a"), store.for_tenant("b")
    kept = [
        Annotation("sess_1", "dispute", "ana", 10.0, "her own number", "pii_exposed", 4, "f1"),
        Annotation("sess_2", "note", "bo", 11.0, "call back"),
        Annotation("sess_1", "confirm", "cy", 12.0, "", "pii_exposed", 4, "f1"),
    ]
    for annotation in kept:
        await a.add_annotation(annotation)
    await b.add_annotation(Annotation("sess_1", "note", "eve", 13.0, "not yours"))
    assert await a.annotations() == kept
    assert await a.annotations(["sess_1", "sess_9"]) == [kept[0], kept[2]]
    assert await b.annotations() == [Annotation("sess_1", "note", "eve", 13.0, "not yours")]
    assert await store.for_tenant("c").annotations(["sess_1"]) == []


async def test_purging_sessions_keeps_the_reviewers_work(store: StoreEngine) -> None:
    tenant = store.for_tenant("a")
    await tenant.add_annotation(Annotation("sess_1", "note", "bo", 1.0, "keep me"))
    await tenant.purge(None)
    assert [a.text for a in await tenant.annotations()] == ["keep me"]
