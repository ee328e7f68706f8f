"""A kept QA record read back through its models: the oracle ``stored.told`` (which makes no model) is
held to, byte for byte, and what the record's round trip is checked with."""

from __future__ import annotations

from dataclasses import dataclass

from session_mcp.companion.models import SessionSummary
from session_mcp.qa.checks import Finding
from session_mcp.qa.context import ContextTurn
from session_mcp.qa.stored import _fields, _Record
from session_mcp.sessions.outcome import SessionOutcome


@dataclass(frozen=True)
class Kept:
    """One checked session as models: its list row, findings, outcome, the turns around them."""

    row: str  # the session's list row (compact JSON), as the store keeps it beside the findings
    findings: list[Finding]
    outcome: SessionOutcome | None = None
    context: list[ContextTurn] | None = None

    def summary(self) -> SessionSummary:
        return SessionSummary.model_validate_json(self.row)


def decode(session_id: str, text: str, row: str) -> Kept:
    """A kept session as ``encode`` wrote it (or the first format, which held a copy of the list row),
    with ``row``, the session's list row from the store."""
    if text.startswith('{"session":'):
        old = _Record.model_validate_json(text)
        return Kept(row, old.findings, old.outcome, old.context)
    record = _Record.model_validate(_fields(session_id, text))  # one pass
    return Kept(row, record.findings, record.outcome, record.context)
