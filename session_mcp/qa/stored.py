"""QA work done once: a closed session's findings kept in the store under a fingerprint of the rules.

A closed session never changes, so its findings change only with what produces them: the rules
(the built-in checks' settings and the team's phrase rules), whether evidence is quoted redacted,
and the code of the checks. ``fingerprint`` covers all three; the code by a digest of the source
of the modules that decide a finding (``CHECKS_CODE``), so any change to them invalidates what was
kept without anyone having to remember a version number. A re-run under the same fingerprint reads
each kept session's findings and summary back (``decode``): no check, no transcript, no request.
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

from pydantic import BaseModel

from session_mcp import __version__
from session_mcp.companion.models import SessionDetail, SessionSummary
from session_mcp.qa.breakdown import ContextTurn
from session_mcp.qa.checks import Finding
from session_mcp.qa.rules import RuleSet
from session_mcp.sessions.outcome import SessionOutcome

# The modules whose code decides what a check finds and how its finding reads.
CHECKS_MODULES = (
    "session_mcp.qa.checks",
    "session_mcp.qa.disclosure",
    "session_mcp.qa.escalation",
    "session_mcp.qa.patterns",
    "session_mcp.qa.similarity",
    "session_mcp.qa.breakdown",
    "session_mcp.sessions.outcome",
    "session_mcp.sessions.phrases",
    "session_mcp.qa.rules",
    "session_mcp.sessions.redact",
    "session_mcp.render.transcript",
    "session_mcp.render.lines",
    "session_mcp.render.common",
)
DETAIL_FIELDS = {"conversation", "functionMetrics", "functionStates"}  # what a summary leaves out


class Kept(BaseModel):
    """What the report needs of one checked session: its summary line, findings, outcome, the turns around them."""

    session: dict[str, object]  # the summary's wire form (SessionSummary), transcript left out
    findings: list[Finding]
    outcome: SessionOutcome | None = None
    context: list[ContextTurn] | None = None

    def summary(self) -> SessionSummary:
        return SessionSummary.model_validate(self.session)


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
    session: SessionDetail,
    findings: Sequence[Finding],
    outcome: SessionOutcome | None = None,
    context: list[ContextTurn] | None = None,
) -> str:
    """The text kept for a checked session (the summary's wire form, findings, outcome and context as JSON)."""
    summary = {key: value for key, value in session.to_wire().items() if key not in DETAIL_FIELDS}
    return Kept(session=summary, findings=list(findings), outcome=outcome, context=context).model_dump_json()


def decode(text: str) -> Kept:
    """A kept session as ``encode`` wrote it."""
    return Kept.model_validate_json(text)
