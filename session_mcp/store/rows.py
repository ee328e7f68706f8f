"""How a session's parts are written into a store's columns and read back, whatever the engine.

A stored session keeps three encodings beside its compressed wire JSON: its list row (the
summary, compact JSON: what lists, windows and statistics read), its transcript ``Figures``
(compact JSON: what statistics need of a transcript, so they read no body) and its tags (a JSON
object the engine filters on). Pending (open) sessions keep the list row only. Rows read back
are trusted: they were cleaned by the ingest boundary when written.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.companion.plain import kept_text
from session_mcp.store.base import Figures, StoredOutcome, StoreError, ToolOutcome, figures_of

COMPRESSION = 6  # zlib level of what the store keeps compressed (bodies, findings): near the best, fast
TURN_BITS = 16  # turns per session the index holds: 65,536 (the wire JSON keeps any beyond)

TRANSCRIPT_FIELDS = frozenset(SessionDetail.model_fields) - frozenset(SessionSummary.model_fields)
_TRANSCRIPT = set(TRANSCRIPT_FIELDS)


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def summary_json(session: SessionSummary) -> str:
    """The list row of ``session``: its wire form without the transcript and tool metrics."""
    if isinstance(session, SessionDetail):  # left out as it is dumped, not dumped (the whole transcript) and dropped
        return compact(session.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude=_TRANSCRIPT))
    wire = session.to_wire()  # a summary: what it holds of them are unknown fields, which only the wire names
    for name in TRANSCRIPT_FIELDS:
        wire.pop(SessionDetail.model_fields[name].alias or name, None)
    return compact(wire)


def summary_of(text: str) -> SessionSummary:
    """A list row read back (validated again: the models' computed fields and aliases)."""
    return SessionSummary.model_validate_json(text)


def tags_json(session: SessionSummary) -> str | None:
    return compact({str(k): v for k, v in session.tags.items()}) if session.tags else None


def figures_json(session: SessionDetail, outcome: StoredOutcome | None = None) -> str:
    """The figures of ``session`` as stored: ``o`` and ``s`` (outcome and signal) only when known."""
    figures = figures_of(session, outcome)
    tools = [[t.name, t.state, t.code, t.message, t.at] for t in figures.tools]
    data: dict[str, Any] = {"t": figures.turns, "u": figures.user_turns, "f": tools}
    if outcome is not None:
        data["o"], data["s"] = outcome
    return compact(data)


def figures_from(text: str) -> Figures:
    """Figures read back; a row stored before outcomes were has none (``None``)."""
    data = json.loads(text)
    tools = tuple(ToolOutcome(*tool) for tool in data["f"])
    return Figures(int(data["t"]), int(data["u"]), tools, data.get("o"), data.get("s"))


def stored_bodies(sessions: Sequence[SessionDetail]) -> list[tuple[SessionDetail, bytes, int]]:
    """Each session with its wire JSON compressed, and that JSON's size: as it came when the ingest kept it
    (it changed nothing in it, and reading it back validates it as it did), else re-made from the model."""
    rows = []
    for session in sessions:
        raw = kept_text(session) or compact(session.to_wire()).encode()
        rows.append((session, zlib.compress(raw, COMPRESSION), len(raw)))
    return rows


def session_of_body(body: bytes, session_id: str) -> SessionDetail:
    """A stored session read back, trusted: its body passed the ingest boundary (text cleaned, numbers and
    nesting bounded) before it was written, so only the models validate it again, straight from the JSON.
    A body that is not one (a damaged store) is a ``StoreError`` that says what to do."""
    try:
        return SessionDetail.model_validate_json(zlib.decompress(body))
    except (zlib.error, ValidationError) as exc:
        what = "is not compressed JSON" if isinstance(exc, zlib.error) else "does not fit the session's shape"
        raise StoreError(
            f"the stored session {session_id} {what}: the store is damaged; "
            "delete its sessions with `session-mcp store purge --all` and run `session-mcp sync` again"
        ) from None


def session_columns(tenant: str, session: SessionDetail, body: bytes, raw_bytes: int) -> tuple[Any, ...]:
    """The ``sessions`` row of a stored session, in both engines' column order."""
    return (
        tenant, session.id, body, raw_bytes, len(session.turns), session.companion_id, session.external_client_id,
        session.state, session.close_reason, session.session_type, session.modality, session.created_at,
        session.started_at, session.closed_at, session.list_time, session.start_time, time.time(),
    )  # fmt: skip


def turn_offset(timestamp: float | None, origin: float | None) -> float | None:
    """Seconds of a turn from the session's start, as the search's hits give them."""
    return None if timestamp is None or origin is None else max(0.0, timestamp - origin)
