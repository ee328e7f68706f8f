"""How a session's parts are written into a store's columns and read back, whatever the engine.

A stored session keeps three encodings beside its compressed wire JSON: its list row (the
summary, compact JSON: what lists, windows and statistics read), its transcript ``Figures``
(compact JSON: what statistics need of a transcript, so they read no body) and its tags (a JSON
object the engine filters on). Pending (open) sessions keep the list row only. Rows read back
are trusted: they were cleaned by the ingest boundary when written.
"""

from __future__ import annotations

import json
from typing import Any

from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.store.base import Figures, ToolOutcome, figures_of

TRANSCRIPT_FIELDS = frozenset(SessionDetail.model_fields) - frozenset(SessionSummary.model_fields)


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def summary_json(session: SessionSummary) -> str:
    """The list row of ``session``: its wire form without the transcript and tool metrics."""
    wire = session.to_wire()
    for name in TRANSCRIPT_FIELDS:
        wire.pop(SessionDetail.model_fields[name].alias or name, None)
    return compact(wire)


def summary_of(text: str) -> SessionSummary:
    """A list row read back (validated again: the models' computed fields and aliases)."""
    return SessionSummary.model_validate_json(text)


def tags_json(session: SessionSummary) -> str | None:
    return compact({str(k): v for k, v in session.tags.items()}) if session.tags else None


def figures_json(session: SessionDetail) -> str:
    figures = figures_of(session)
    tools = [[t.name, t.state, t.code, t.message, t.at] for t in figures.tools]
    return compact({"t": figures.turns, "u": figures.user_turns, "f": tools})


def figures_from(text: str) -> Figures:
    data = json.loads(text)
    return Figures(int(data["t"]), int(data["u"]), tuple(ToolOutcome(*tool) for tool in data["f"]))
