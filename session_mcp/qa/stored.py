"""QA work done once: a closed session's findings kept in the store under a fingerprint of the rules.

A closed session never changes, so its findings change only with what produces them: the rules
(the built-in checks' settings and the team's phrase rules), whether evidence is quoted redacted,
and the code of the checks. ``fingerprint`` covers all three; the code by a digest of the source
of the modules that decide a finding (``CHECKS_CODE``), so any change to them invalidates what was
kept without anyone having to remember a version number. A re-run under the same fingerprint reads
each kept session's findings back (``told``), with the list row the store keeps beside them: no
check, no transcript, no request. The record is compact (``encode``): about 0.5 KB compressed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass, replace
from typing import Any

from pydantic import BaseModel
from pydantic_core import from_json

from session_mcp import __version__
from session_mcp.companion.models import from_unix
from session_mcp.qa.checks import Finding
from session_mcp.qa.context import ContextTurn
from session_mcp.qa.report import told_of
from session_mcp.qa.rules import RuleSet
from session_mcp.sessions.outcome import SessionOutcome
from session_mcp.store.base import Listed

# The modules whose code decides what a check finds and how its finding reads.
CHECKS_MODULES = (
    "session_mcp.qa.checks",
    "session_mcp.qa.disclosure",
    "session_mcp.qa.escalation",
    "session_mcp.qa.patterns",
    "session_mcp.qa.similarity",
    "session_mcp.qa.context",
    "session_mcp.sessions.outcome",
    "session_mcp.sessions.phrases",
    "session_mcp.qa.rules",
    "session_mcp.sessions.redact",
    "session_mcp.render.transcript",
    "session_mcp.render.lines",
    "session_mcp.render.common",
)


class _Record(BaseModel):
    """The findings, outcome and context by field name: the first format (with a copy of the list row,
    still read, no longer written)."""

    findings: list[Finding]
    outcome: SessionOutcome | None = None
    context: list[ContextTurn] | None = None


@functools.cache
def checks_code() -> str:
    """A digest of the checks' source; the package version where the source is not shipped."""
    digest = hashlib.sha256(__version__.encode())
    for name in CHECKS_MODULES:
        try:
            digest.update(inspect.getsource(importlib.import_module(name)).encode())
        except (OSError, TypeError):  # no source (a frozen build): the version stands for it
            continue
    return digest.hexdigest()


def fingerprint(rules: RuleSet, *, redacted: bool) -> str:
    """The fingerprint findings are kept under: the rules' content (not the file's name), the
    redaction, the checks' code. Every field of the rule set counts, so a new kind of rule needs
    nothing here."""
    content = {"code": checks_code(), "redacted": redacted, "rules": canonical(replace(rules, source=None))}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


def canonical(value: object) -> object:
    """``value`` as plain JSON data, the same in every process (sets sorted, patterns as their source)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: canonical(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, re.Pattern):
        return [value.pattern, value.flags]
    if isinstance(value, Mapping):
        return {str(key): canonical(item) for key, item in sorted(value.items())}
    if isinstance(value, set | frozenset):
        return sorted(json.dumps(canonical(item), sort_keys=True) for item in value)
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return value


def encode(
    findings: Sequence[Finding], outcome: SessionOutcome | None = None, context: list[ContextTurn] | None = None
) -> str:
    """The text kept for a checked session: compact JSON of positional fields, without what the reader
    has already: the list row (the store keeps it beside), the session id (the record's key), a
    turn's offset and text where the context holds them (a finding's evidence and the outcome's
    quote are most often the whole turn). Reviewers' verdicts are not kept: the report adds them."""
    turns = {turn.turn_index: turn for turn in context or ()}
    kept: dict[str, object] = {
        "f": [_finding(f, turns) for f in findings],
        "c": None if context is None else [[t.turn_index, t.role, t.offset_seconds, t.text] for t in context],
    }
    if outcome is not None:
        quote, where = outcome.evidence, list[object]()
        if quote is not None:
            turn = turns.get(quote.turn_index)
            same = turn is not None and (turn.role, turn.text) == (quote.role, quote.quote)
            where = [quote.turn_index] if same else [quote.turn_index, quote.role, quote.quote]
        kept["o"] = [outcome.outcome, outcome.signal, outcome.reason, *where]
    return json.dumps(kept, separators=(",", ":"), ensure_ascii=False)


def _finding(finding: Finding, turns: Mapping[int, ContextTurn]) -> list[object]:
    """``[check, severity, message]`` for the whole session; ``+ [turn]`` when the context has the
    turn's offset and text as the finding's; else ``+ [turn, offset, evidence]``."""
    head: list[object] = [finding.check, finding.severity, finding.message]
    index, offset, evidence = finding.turn_index, finding.offset_seconds, finding.evidence
    if index is None and offset is None and not evidence:
        return head
    turn = turns.get(index) if index is not None else None
    if turn is not None and (turn.offset_seconds, turn.text) == (offset, evidence):
        return [*head, index]
    return [*head, index, offset, evidence]


Told = tuple[dict[str, Any], list[dict[str, Any]], list[Any] | None]  # what ``ReportBuilder.add_told`` takes


def told(session_id: str, text: str, listed: Listed, *, context: bool = True) -> Told:
    """A kept session as ``ReportBuilder.add_told`` takes it: what its list row says (``listed``, as the store
    read it), its findings, the turns around them (unless not ``context``: a report that does not read them
    back), as plain JSON-ready data. No model is made of them: the builder writes them as a model would, and a
    re-run's time was that of making models of 50,000 sessions and writing them out again."""
    if text.startswith('{"session":'):  # the first format: read through its models
        old = _Record.model_validate_json(text)
        record = old.model_dump(include={"findings", "outcome", "context"})
    else:
        record = _fields(session_id, text, context=context)
    said = record["outcome"]
    outcome = (said["outcome"], said["reason"], said["evidence"]) if said is not None else ()
    return told_of(listed, from_unix(listed.start_time), *outcome), record["findings"], record["context"]


def _fields(session_id: str, text: str, *, context: bool = True) -> dict[str, Any]:
    """The findings, outcome and context of a record ``encode`` wrote, as their models' fields by name."""
    kept = from_json(text)
    turns = {turn[0]: turn for turn in kept["c"] or ()}
    findings = []
    for check, severity, message, *where in kept["f"]:
        index, offset, evidence = where if len(where) == 3 else (None, None, "")
        if len(where) == 1:
            index, _, offset, evidence = turns[where[0]]
        findings.append(
            {
                "session_id": session_id,
                "check": check,
                "severity": severity,
                "turn_index": index,
                "offset_seconds": offset,
                "evidence": evidence,
                "message": message,
                "review": None,
            }
        )
    outcome = None
    if (said := kept.get("o")) is not None:
        name, signal, reason, *where = said
        quote = None
        if where:
            index, role, words = where if len(where) == 3 else turns[where[0]][:2] + turns[where[0]][3:]
            quote = {"turn_index": index, "role": role, "quote": words}
        outcome = {"outcome": name, "signal": signal, "reason": reason, "evidence": quote}
    turned = None
    if context and kept["c"] is not None:
        turned = [{"turn_index": i, "role": r, "offset_seconds": o, "text": t} for i, r, o, t in kept["c"]]
    return {"findings": findings, "outcome": outcome, "context": turned}
