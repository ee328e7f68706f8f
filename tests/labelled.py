"""The labelled sessions of ``tests/data/qa_labelled_sessions.json``, scored: checks and outcomes.

Each entry holds a session in the API's wire format (loaded through ``companion/ingest.py``, as
the API's answers are), its expected outcome, and its expected findings: check id -> severity; a
check not named must not flag. A third of the set is ``holdout``: never looked at while tuning
the phrases, so its figures say how the rules do on sessions they were not fitted to. Shared by
``tests/unit/qa/test_labelled.py`` (the figures pinned) and ``bench/qa_recall.py`` (the table).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail
from session_mcp.qa.checks import CHECK_IDS, SEVERITY_RANK
from session_mcp.qa.rules import RuleSet
from session_mcp.sessions.outcome import OUTCOMES, outcome_of

LABELLED = Path(__file__).resolve().parent / "data" / "qa_labelled_sessions.json"
SPLITS = ("tune", "holdout")
PRECISION_TARGET = 0.9
ACCURACY_TARGET = 0.85


@dataclass(frozen=True)
class Labelled:
    name: str
    split: str
    session: SessionDetail
    outcome: str
    findings: dict[str, str]  # check -> severity


def load(path: Path = LABELLED) -> list[Labelled]:
    """Every labelled session, its wire JSON read through the inbound boundary."""
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["sessions"]
    return [
        Labelled(
            name=entry["name"],
            split=entry["split"],
            session=ingest(json.dumps(entry["session"]).encode(), SessionDetail, what="a labelled session"),
            outcome=entry["expected"]["outcome"],
            findings=entry["expected"]["findings"],
        )
        for entry in entries
    ]


@dataclass
class Tally:
    """Counts for one check or one outcome: how often expected, flagged, and both (rightly)."""

    expected: int = 0
    flagged: int = 0
    right: int = 0
    misses: list[str] = field(default_factory=list)  # "name: what went wrong", for the bench's notes

    @property
    def precision(self) -> float:
        return self.right / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.expected if self.expected else 1.0


@dataclass
class Score:
    checks: dict[str, Tally]
    outcomes: dict[str, Tally]
    sessions: int

    @property
    def accuracy(self) -> float:
        return sum(t.right for t in self.outcomes.values()) / self.sessions if self.sessions else 1.0


def score(labelled: Iterable[Labelled], rules: RuleSet | None = None) -> Score:
    """Per check (a finding of the expected severity is right) and per outcome, over ``labelled``."""
    rules = rules or RuleSet()
    checks = {check: Tally() for check in CHECK_IDS}
    outcomes = {outcome: Tally() for outcome in OUTCOMES}
    count = 0
    for entry in labelled:
        count += 1
        found: dict[str, str] = {}
        for finding in rules.review(entry.session):
            if SEVERITY_RANK[finding.severity] >= SEVERITY_RANK.get(found.get(finding.check, ""), -1):
                found[finding.check] = finding.severity
        for check, tally in checks.items():
            wanted, got = entry.findings.get(check), found.get(check)
            tally.expected += wanted is not None
            tally.flagged += got is not None
            tally.right += wanted is not None and got == wanted
            if wanted != got:
                tally.misses.append(f"{entry.name}: expected {wanted or 'nothing'}, found {got or 'nothing'}")
        decided = outcome_of(entry.session)
        outcomes[entry.outcome].expected += 1
        outcomes[decided.outcome].flagged += 1
        if decided.outcome == entry.outcome:
            outcomes[entry.outcome].right += 1
        else:
            outcomes[entry.outcome].misses.append(f"{entry.name}: {decided.outcome} ({decided.signal})")
    return Score(checks, outcomes, count)
