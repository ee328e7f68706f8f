"""A stored body reads back trusted (no second pass through the ingest boundary), as the same session."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.companion.plain import kept_text
from session_mcp.errors import InvalidResponseError
from session_mcp.store.base import StoreError
from session_mcp.store.rows import session_of_body, stored_bodies, summary_json
from tests.unit.store.helpers import sessions, wire_sessions

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
ODD = st.one_of(JSON, st.sampled_from(["1710000000", " 1.5e3 ", "NaN", "\x00\x1b[31m", "\u2028", 10**40, 1e308]))


def read_back(session: SessionDetail) -> SessionDetail:
    [(_, body, _)] = stored_bodies([session])
    return session_of_body(body, session.id)


def test_simulated_sessions_read_back_equal() -> None:
    for session in sessions(30):
        again = read_back(session)
        assert again == session and again.to_wire() == session.to_wire()


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_whatever_passed_the_ingest_boundary_reads_back_as_it_was_stored(data: st.DataObject) -> None:
    wire: dict[str, Any] = wire_sessions(1, seed=data.draw(st.integers(0, 50)))[0]
    for key in data.draw(st.lists(st.sampled_from(["startedAt", "closedAt", "closeReason", "tags", "extra"]))):
        wire[key] = data.draw(ODD)
    items = wire.get("conversation", {}).get("items", [])
    for item in items[: data.draw(st.integers(0, 3))]:
        item[data.draw(st.sampled_from(["text", "timestamp", "role", "more"]))] = data.draw(ODD)
    body = json.dumps(wire, allow_nan=True, ensure_ascii=data.draw(st.booleans())).encode()
    try:  # kept as it came when the ingest changed nothing in it: a plain body
        session = ingest(body, SessionDetail, what="test", keep_body=data.draw(st.booleans()))
    except InvalidResponseError:  # refused at the boundary: never stored
        return
    again = read_back(session)
    assert again == session and again.to_wire() == session.to_wire()


def test_a_plain_body_kept_by_the_ingest_is_stored_as_it_came_and_reads_back_equal() -> None:
    for wire in wire_sessions(30):
        body = json.dumps(wire, ensure_ascii=False).encode()
        session = ingest(body, SessionDetail, what="test", keep_body=True)
        [(_, stored, size)] = stored_bodies([session])
        assert kept_text(session) == body and zlib.decompress(stored) == body and size == len(body)
        again = session_of_body(stored, session.id)
        assert again == session and again.to_wire() == session.to_wire()
        assert kept_text(ingest(body, SessionDetail, what="test")) is None  # only when asked


def test_a_body_the_ingest_changed_or_a_copy_of_the_session_is_made_from_the_model() -> None:
    wire = wire_sessions(1)[0]
    wire["conversation"]["items"][0]["text"] = "a bell\u0007 rang"  # cleaned by the walk: not plain
    session = ingest(json.dumps(wire).encode(), SessionDetail, what="test", keep_body=True)
    assert kept_text(session) is None and read_back(session) == session
    for long_number in (10**40, -(10**29)):  # the decode reads an integer past 30 characters as unknown
        odd = wire_sessions(1)[0] | {"closeReason": long_number}
        session = ingest(json.dumps(odd).encode(), SessionDetail, what="test", keep_body=True)
        assert kept_text(session) is None and read_back(session) == session
    plain = ingest(json.dumps(wire_sessions(1)[0]).encode(), SessionDetail, what="test", keep_body=True)
    items = [item.model_copy(update={"text": "[redacted]"}) for item in plain.conversation.items]
    redacted = plain.model_copy(update={"conversation": plain.conversation.model_copy(update={"items": items})})
    assert kept_text(plain) is not None and kept_text(redacted) is None  # a copy is another object
    assert read_back(redacted) == redacted and read_back(redacted).turns[0].text == "[redacted]"


@pytest.mark.parametrize(
    ("body", "what"),
    [(b"not compressed", "is not compressed JSON"), (zlib.compress(b'{"id": 5, "state": []}'), "does not fit")],
)
def test_a_damaged_body_is_a_store_error_saying_what_to_do(body: bytes, what: str) -> None:
    with pytest.raises(StoreError) as caught:
        session_of_body(body, "ses_1")
    message = str(caught.value)
    assert "ses_1" in message and what in message and "session-mcp store purge --all" in message


def test_a_sessions_list_row_is_the_same_made_from_its_detail_or_its_summary() -> None:
    for session in sessions(30):
        row = summary_json(session)
        assert row == summary_json(SessionSummary.model_validate(session.to_wire()))
        assert not {"conversation", "functionMetrics", "functionStates"} & set(json.loads(row))
