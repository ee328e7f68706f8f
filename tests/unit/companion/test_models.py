"""The wire models: unknown fields kept, optional fields optional, UTC views, tags encoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from session_mcp.companion.models import (
    ConnectionRequest,
    ConnectionResponse,
    ConversationItem,
    ErrorBody,
    SessionDetail,
    SessionPage,
    SessionSummary,
    decode_tags_query,
    encode_tags_query,
    from_unix,
)
from session_mcp.simulator.app import DETAIL_ONLY
from session_mcp.simulator.data import DEFAULT_SESSION_COUNT, generate_sessions
from tests.helpers import ANCHOR

SESSIONS = generate_sessions(7, DEFAULT_SESSION_COUNT, ANCHOR)


def only(predicate: Any) -> list[dict[str, Any]]:
    found = [s for s in SESSIONS if predicate(s)]
    assert found, "the demo data lacks the case this test needs"
    return found


def summary_of(session: dict[str, Any]) -> dict[str, Any]:
    """A session as a list item shows it: no transcript, no tool metrics."""
    return {k: v for k, v in session.items() if k not in DETAIL_ONLY}


# -- unknown fields ------------------------------------------------------------------------


def test_unknown_fields_are_kept_and_round_tripped() -> None:
    wire = only(lambda s: "sentiment" in s)[0]
    assert "region" in wire
    session = SessionDetail.model_validate(wire)
    assert session.extra_fields["sentiment"] == {"overall": "positive", "score": 0.82}
    assert session.extra_fields["region"] == "eu-west"
    assert session.to_wire() == wire
    # The list shape keeps them too.
    summary = SessionSummary.model_validate(summary_of(wire))
    assert summary.extra_fields["region"] == "eu-west"
    assert summary.to_wire() == summary_of(wire)


def test_function_metrics_are_modelled_under_either_name() -> None:
    wire = only(lambda s: any(m["state"] == "failed" for m in s.get("functionMetrics", [])))[0]
    session = SessionDetail.model_validate(wire)
    failed = next(t for t in session.tools if t.state == "failed")
    entry = next(m for m in wire["functionMetrics"] if m["state"] == "failed")
    assert (failed.name, failed.error and failed.error.code) == (entry["name"], entry["error"]["code"])
    assert failed.started == datetime.fromisoformat(entry["startedAt"])
    assert failed.ended == datetime.fromisoformat(entry["failedAt"])
    assert session.to_wire() == wire
    older = only(lambda s: "functionStates" in s)[0]  # the field's earlier name
    session = SessionDetail.model_validate(older)
    assert [t.name for t in session.tools] == [m["name"] for m in older["functionStates"]]
    assert session.tools[0].error is not None and session.tools[0].error.code == "Timeout"
    assert session.to_wire() == older


@pytest.mark.parametrize(
    "metrics",
    [
        "not a list",
        [1, "two", None],
        [{"name": 5, "state": None, "startedAt": "yesterday", "error": "boom"}],
        [{"startedAt": 1790000000, "connectedAt": "2026-13-45T99:00:00Z"}],
    ],
)
def test_odd_function_metrics_never_fail_a_session(metrics: Any) -> None:
    session = SessionDetail.model_validate({"id": "s", "functionMetrics": metrics, "functionStates": metrics})
    for tool in session.tools:
        assert tool.name is None or isinstance(tool.name, str)
        assert tool.error is None
        assert tool.ended is None


def test_companion_and_agent_objects_are_kept() -> None:
    wire = {"id": "s", "companion": {"id": "comp_1", "name": "Ava", "voice": "alloy"}, "agent": {"id": "ag_1"}}
    session = SessionSummary.model_validate(wire)
    assert session.companion is not None and (session.companion.id, session.companion.name) == ("comp_1", "Ava")
    assert session.agent is not None and session.agent.id == "ag_1"
    assert session.to_wire() == wire
    odd = SessionSummary.model_validate({"id": "s", "companion": "comp_1", "agent": ["x"]})
    assert odd.companion is None and odd.agent is None


def test_every_demo_session_round_trips_through_the_models() -> None:
    for wire in SESSIONS:
        detail = SessionDetail.model_validate(wire)
        assert detail.to_wire() == wire, wire["id"]
        # the same JSON text, types included: 1710000000 does not come back as 1710000000.0
        assert json.dumps(detail.to_wire(), sort_keys=True) == json.dumps(wire, sort_keys=True), wire["id"]
        assert SessionSummary.model_validate(summary_of(wire)).to_wire() == summary_of(wire)


def test_unknown_fields_nested_in_turns_and_pages_are_kept() -> None:
    page = SessionPage.model_validate(
        {
            "items": [{"id": "sess_1", "mood": "calm"}],
            "filteredCount": 1,
            "totalCount": 9,
            "pageIndex": 0,
            "pageSize": 10,
            "nextCursor": "abc",
        }
    )
    assert page.items[0].extra_fields == {"mood": "calm"}
    assert page.model_extra == {"nextCursor": "abc"}
    assert page.to_wire()["nextCursor"] == "abc"
    turn = ConversationItem.model_validate({"role": "system", "text": "x", "timestamp": ANCHOR, "lang": "de"})
    assert turn.role == "system"
    assert turn.to_wire() == {"role": "system", "text": "x", "timestamp": ANCHOR, "lang": "de"}


def test_to_wire_leaves_out_fields_that_were_not_sent() -> None:
    session = SessionSummary.model_validate({"id": "sess_min"})
    assert session.to_wire() == {"id": "sess_min"}
    # explicit nulls are kept: they were sent
    assert SessionSummary.model_validate({"id": "s", "cost": None}).to_wire() == {"id": "s", "cost": None}


def test_snake_case_names_are_accepted_and_camel_case_is_written() -> None:
    session = SessionSummary(id="s", companion_id="comp_x", created_at=ANCHOR)
    assert session.to_wire() == {"id": "s", "companionId": "comp_x", "createdAt": ANCHOR}
    assert type(session.to_wire()["createdAt"]) is int
    assert SessionSummary(id="s", created_at=ANCHOR + 0.5).to_wire()["createdAt"] == ANCHOR + 0.5


# -- optional fields -----------------------------------------------------------------------


def test_never_started_session_has_no_start_and_no_conversation() -> None:
    for wire in only(lambda s: s.get("status") == "pending"):
        assert "startedAt" not in wire and "conversation" not in wire
        session = SessionDetail.model_validate(wire)
        assert session.started_at is None and session.started is None
        assert session.closed_at is None and session.closed is None
        assert session.conversation is None
        assert session.turns == []
        assert session.duration_seconds is None
        assert session.state == "pending"
        assert not session.is_closed
        assert "startedAt" not in session.to_wire()
        assert "conversation" not in session.to_wire()


def test_open_session_has_no_close_time() -> None:
    for wire in only(lambda s: s.get("status") == "started"):
        session = SessionDetail.model_validate(wire)
        assert session.started_at is not None
        assert session.closed_at is None and session.closed is None
        assert session.duration_seconds is None
        assert session.state == "started"
        assert not session.is_closed
        assert "closedAt" not in session.to_wire()


def test_failed_and_closed_sessions_are_final() -> None:
    for wire in only(lambda s: s.get("status") == "failed"):
        assert SessionDetail.model_validate(wire).is_closed
    closed = SessionDetail.model_validate(only(lambda s: s.get("status") == "closed")[0])
    assert closed.is_closed
    assert closed.duration_seconds == closed.closed_at - closed.started_at  # type: ignore[operator]


def test_empty_conversation_is_not_missing_conversation() -> None:
    wire = only(lambda s: s.get("status") == "closed" and s["conversation"]["items"] == [])[0]
    session = SessionDetail.model_validate(wire)
    assert session.conversation is not None
    assert session.turns == []
    assert session.to_wire()["conversation"] == {"items": []}


@pytest.mark.parametrize(
    ("wire", "state", "closed"),
    [
        ({"id": "a"}, "pending", False),
        ({"id": "a", "startedAt": ANCHOR}, "started", False),
        ({"id": "a", "startedAt": ANCHOR, "closedAt": ANCHOR + 4}, "closed", True),
        ({"id": "a", "status": "failed"}, "failed", True),
        ({"id": "a", "status": None, "closedAt": ANCHOR}, "closed", True),
        ({"id": "a", "status": "started", "startedAt": ANCHOR}, "started", False),
    ],
)
def test_state_is_derived_from_the_timestamps_when_status_is_absent(
    wire: dict[str, Any], state: str, closed: bool
) -> None:
    session = SessionSummary.model_validate(wire)
    assert session.state == state
    assert session.is_closed is closed


def test_duration_never_goes_negative() -> None:
    backwards = SessionSummary.model_validate({"id": "a", "startedAt": ANCHOR + 10, "closedAt": ANCHOR + 4})
    assert backwards.duration_seconds == 0.0
    forwards = SessionSummary.model_validate({"id": "a", "startedAt": ANCHOR + 10, "closedAt": ANCHOR + 305})
    assert forwards.duration_seconds == 295


def test_a_session_without_id_is_rejected() -> None:
    with pytest.raises(ValidationError) as info:
        SessionSummary.model_validate({"companionId": "comp_x"})
    assert info.value.errors()[0]["loc"] == ("id",)


# -- times ---------------------------------------------------------------------------------


def test_datetime_views_are_utc() -> None:
    session = SessionDetail.model_validate(
        {
            "id": "s",
            "createdAt": ANCHOR,
            "startedAt": ANCHOR + 5,
            "closedAt": ANCHOR + 300,
            "conversation": {"items": [{"role": "agent", "text": "hi", "timestamp": ANCHOR + 6}]},
        }
    )
    assert session.created == datetime(2026, 9, 21, 14, 13, 20, tzinfo=UTC)
    for moment in (session.created, session.started, session.closed, session.turns[0].at):
        assert moment is not None
        assert moment.tzinfo is not None
        assert moment.utcoffset() == timedelta(0)
    assert session.closed - session.created == timedelta(seconds=300)  # type: ignore[operator]
    assert session.turns[0].at == datetime(2026, 9, 21, 14, 13, 26, tzinfo=UTC)


def test_from_unix() -> None:
    assert from_unix(None) is None
    assert from_unix(0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert from_unix(1.5) == datetime(1970, 1, 1, 0, 0, 1, 500_000, tzinfo=UTC)


def test_turn_without_timestamp_has_no_time() -> None:
    turn = ConversationItem.model_validate({"role": "user"})
    assert turn.at is None and turn.text == ""


# -- tags query ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [
        {"channel": "web"},
        {"channel": "web", "environment": "production"},
        {"a,b": "c:d", "e=f": "g,h:i"},
        {"key:with:colons": "value,with,commas", "x": ""},
        {'quote"s': "back\\slash", "brace}": "{json}"},
        {"ünïcödé": "日本語", "emoji": "🎉☕", "mixed": "Ärger, bitte: ja"},
        {"": "empty key"},
        {},
    ],
)
def test_tags_query_round_trips(tags: dict[str, str]) -> None:
    encoded = encode_tags_query(tags)
    assert decode_tags_query(encoded) == tags


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=6))
def test_tags_query_round_trips_any_text(tags: dict[str, str]) -> None:
    assert decode_tags_query(encode_tags_query(tags)) == tags


def test_tags_query_is_canonical() -> None:
    one = encode_tags_query({"b": "2", "a": "1"})
    assert one == encode_tags_query({"a": "1", "b": "2"})
    assert one == '{"a":"1","b":"2"}'
    assert "日本" in encode_tags_query({"k": "日本"})  # unicode is sent as is, not \\u-escaped


@pytest.mark.parametrize("raw", ["channel:web", "[1, 2]", '{"a": 1}', '{"a": null}', '"text"', "", "{"])
def test_decode_tags_query_rejects_anything_else(raw: str) -> None:
    with pytest.raises(ValueError):
        decode_tags_query(raw)


# -- error body, connections ---------------------------------------------------------------


@pytest.mark.parametrize(("raw_type", "expected"), [("failure", "failure"), (12, 12), (None, None)])
def test_error_body_type_is_a_string_or_a_number(raw_type: object, expected: object) -> None:
    body = ErrorBody.model_validate(
        {"code": "SessionNotFound", "description": "Session not found", "type": raw_type, "numericType": 0}
    )
    assert body.type == expected
    assert type(body.type) is type(expected)
    assert body.code == "SessionNotFound"
    assert body.description == "Session not found"
    assert body.numeric_type == 0


def test_error_body_tolerates_missing_and_unknown_fields() -> None:
    body = ErrorBody.model_validate({"traceId": "t-1"})
    assert body.code is None and body.description is None and body.type is None
    assert body.model_extra == {"traceId": "t-1"}


@pytest.mark.parametrize("external", ["user_12345", "A", "a-b_C", "x" * 32])
def test_connection_request_accepts_valid_external_ids(external: str) -> None:
    request = ConnectionRequest(
        companion_id="comp_support", provider_config={"voice_id": "alloy"}, external_client_id=external
    )
    assert request.to_wire() == {
        "companionId": "comp_support",
        "providerConfig": {"voiceId": "alloy"},
        "externalClientId": external,
    }


@pytest.mark.parametrize("external", ["", "x" * 33, "has space", "ü", "a/b", "a.b", "user\n"])
def test_connection_request_rejects_invalid_external_ids(external: str) -> None:
    with pytest.raises(ValidationError):
        ConnectionRequest(
            companion_id="comp_support", provider_config={"voice_id": "alloy"}, external_client_id=external
        )


def test_connection_response_hides_the_token_in_repr() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.SECRET-TOKEN.sig"
    response = ConnectionResponse.model_validate({"token": token, "connection": {"id": "sess_new"}})
    assert response.connection.id == "sess_new"
    assert response.token == token
    assert token not in repr(response)
    assert "SECRET-TOKEN" not in str(response)


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 1e20, -1e20])
def test_a_timestamp_that_is_no_real_time_reads_as_unknown(seconds: float) -> None:
    from session_mcp.companion.models import from_unix

    assert from_unix(seconds) is None
