"""Sessions for store tests: the simulator's demo data, through the ingest boundary as a sync reads it."""

from __future__ import annotations

import json
from typing import Any

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail
from session_mcp.simulator.data import generate_sessions

ANCHOR = 1_790_000_000


def wire_sessions(count: int, seed: int = 7) -> list[dict[str, Any]]:
    return generate_sessions(seed, count, ANCHOR)


def sessions(count: int, seed: int = 7) -> list[SessionDetail]:
    return [ingest(json.dumps(s).encode(), SessionDetail, what="test") for s in wire_sessions(count, seed)]


def with_phrase(session: SessionDetail, phrase: str, turn: int = 0) -> SessionDetail:
    """``session`` with ``phrase`` said in its ``turn``-th turn."""
    wire = session.to_wire()
    items = wire["conversation"]["items"]
    items[turn]["text"] = f"{items[turn]['text']} {phrase}"
    return ingest(json.dumps(wire).encode(), SessionDetail, what="test")
