"""Scorecards: weighted criteria that sum to 100, fatal criteria, pass and coach marks.

A rules file may hold scorecards (call-centre QA's one model: a score out of 100 and a verdict)::

    [[scorecards]]                      # the default: no companion_ids
    pass = 80                           # a score at least this passes (default 80)
    coach = 60                          # at least this, below pass: coach; below it: fail (default 60)
    [[scorecards.criteria]]
    check = "unanswered_user"           # met when the session has no (undisputed) finding of it
    weight = 30
    [[scorecards.criteria]]
    outcome = ["resolved", "escalated"] # met when the session's outcome is one of these
    weight = 70
    [[scorecards.criteria]]
    check = "pii_exposed"
    severity = "critical"               # only findings at least this severe count against it
    fatal = true                        # missed: the session fails outright (score 0)

    [[scorecards]]
    name = "support"
    companion_ids = ["comp_support"]    # this companion's sessions use this card
    ...

A criterion names a built-in check or a phrase rule of the same file (``check``), or outcomes
(``outcome``); the weights of a card sum to 100 (a fatal criterion may weigh 0). A session's score
is the sum of the weights of the criteria it meets; a missed fatal criterion makes it 0 and the
verdict ``fail``; else ``pass`` at or above the pass mark, ``coach`` at or above the coach mark,
``fail`` below. A session of a companion no card names uses the default card; with no default it
gets no score. Every problem is a ``ScorecardError`` naming the line of the file it is on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from session_mcp.qa.checks import SEVERITY_RANK, Severity
from session_mcp.sessions.outcome import OUTCOMES

Verdict = Literal["pass", "coach", "fail"]
VERDICTS: tuple[Verdict, ...] = ("pass", "coach", "fail")
MAX_SCORECARDS = 50
MAX_CRITERIA = 50


class Graded(Protocol):
    """What a criterion reads of a finding: a ``Finding``, or the report's lighter stand-in for a kept one."""

    @property
    def check(self) -> str: ...

    @property
    def severity(self) -> str: ...


class ScorecardError(ValueError):
    """A scorecard cannot be used; the message starts with the line it is on (when it can be found)."""


class Score(BaseModel):
    """A session's score on its scorecard."""

    model_config = ConfigDict(frozen=True)

    scorecard: str = Field(description="The scorecard's name.")
    score: int = Field(description="0-100: the weights of the criteria met; 0 when a fatal criterion is missed.")
    verdict: Verdict
    missed: list[str] = Field(description="The criteria not met, fatal ones first.")


class _RawCriterion(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    check: str | None = Field(None, min_length=1, max_length=64)
    outcome: tuple[Literal["resolved", "unresolved", "escalated", "abandoned", "unknown"], ...] | None = Field(
        None, min_length=1
    )
    weight: int = Field(0, ge=0, le=100)
    fatal: bool = False
    severity: Severity = "info"


class _RawScorecard(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    name: str = Field("default", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_. -]+$")
    companion_ids: tuple[str, ...] = Field((), max_length=100)
    pass_mark: int = Field(80, ge=0, le=100, alias="pass")
    coach: int = Field(60, ge=0, le=100)
    criteria: tuple[dict[str, Any], ...] = Field(min_length=1, max_length=MAX_CRITERIA)


@dataclass(frozen=True)
class Criterion:
    """One line of a scorecard: met or missed by a session's findings and outcome."""

    check: str | None
    outcomes: frozenset[str]
    weight: int
    fatal: bool
    severity: Severity

    @property
    def label(self) -> str:
        if self.check is not None:
            at_least = f" (at least {self.severity})" if self.severity != "info" else ""
            return f"no {self.check}{at_least}"
        return "outcome " + "/".join(o for o in OUTCOMES if o in self.outcomes)

    def met(self, findings: Iterable[Graded], outcome: str | None) -> bool:
        if self.check is None:
            return (outcome or "unknown") in self.outcomes
        least = SEVERITY_RANK[self.severity]
        return not any(f.check == self.check and SEVERITY_RANK[f.severity] >= least for f in findings)

    def describe(self) -> dict[str, Any]:
        """The criterion as plain data: for the rules fingerprint and the report's page."""
        return {
            "label": self.label,
            "check": self.check,
            "outcomes": sorted(self.outcomes),
            "weight": self.weight,
            "fatal": self.fatal,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class Scorecard:
    name: str
    companion_ids: frozenset[str]
    criteria: tuple[Criterion, ...]
    pass_mark: int
    coach_mark: int

    def score(self, findings: Sequence[Graded], outcome: str | None) -> Score:
        """The score and verdict of a session with these (counted) findings and this outcome."""
        missed = [c for c in self.criteria if not c.met(findings, outcome)]
        fatal = [c for c in missed if c.fatal]
        points = 0 if fatal else 100 - sum(c.weight for c in missed)
        verdict: Verdict = "fail"
        if not fatal and points >= self.pass_mark:
            verdict = "pass"
        elif not fatal and points >= self.coach_mark:
            verdict = "coach"
        labels = [f"{c.label} (fatal)" for c in fatal] + [c.label for c in missed if not c.fatal]
        return Score(scorecard=self.name, score=points, verdict=verdict, missed=labels)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "companion_ids": sorted(self.companion_ids),
            "pass": self.pass_mark,
            "coach": self.coach_mark,
            "criteria": [c.describe() for c in self.criteria],
        }


@dataclass(frozen=True)
class Scorecards:
    """The scorecards of a rules file: a default (maybe) and one per companion scope."""

    cards: tuple[Scorecard, ...] = ()

    def for_companion(self, companion_id: str | None) -> Scorecard | None:
        default = None
        for card in self.cards:
            if not card.companion_ids:
                default = card
            elif companion_id in card.companion_ids:
                return card
        return default

    def score(self, companion_id: str | None, findings: Sequence[Graded], outcome: str | None) -> Score | None:
        card = self.for_companion(companion_id)
        return card.score(findings, outcome) if card is not None else None

    def describe(self) -> list[dict[str, Any]]:
        return [card.describe() for card in self.cards]


NO_SCORECARDS = Scorecards()

# -- reading them from the rules file -------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]\s#]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


@dataclass(frozen=True)
class _Section:
    line: int
    keys: Mapping[str, int]

    def at(self, key: str | None = None) -> int:
        return self.keys.get(key, self.line) if key else self.line


def _sections(text: str, header: str) -> list[_Section]:
    """Every ``[[header]]`` of the document in order, with its line and the lines of its keys."""
    found: list[_Section] = []
    current: dict[str, int] | None = None
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if match := _HEADER.match(line):
            current = None
            if match.group(1) == header and line.lstrip().startswith("[["):
                current = {}
                found.append(_Section(number, current))
        elif current is not None and (key := _KEY.match(line)):
            current.setdefault(key.group(1), number)
    return found


def parse_scorecards(entries: Any, text: str, check_ids: Sequence[str], enabled: set[str]) -> Scorecards:
    """The ``[[scorecards]]`` of a rules document; ``check_ids`` are the checks and rules it may name."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        written = _written(text, "scorecards")
        where = f"line {written}: " if written else ""
        raise ScorecardError(f"{where}'scorecards' must be an array of tables ([[scorecards]])")
    cards_at = _sections(text, "scorecards")
    criteria_at = _criteria_sections(text, cards_at)
    if len(cards_at) != len(entries) and (written := _written(text, "scorecards")):
        cards_at = [_Section(written, {})] * len(entries)  # written inline: every card at that line
    if len(entries) > MAX_SCORECARDS:
        raise ScorecardError(f"{len(entries)} scorecards; the limit is {MAX_SCORECARDS}")
    cards: list[Scorecard] = []
    for index, entry in enumerate(entries):
        card = _scorecard(entry, index, cards_at, criteria_at.get(index, []), check_ids, enabled)
        where = _line(cards_at, index, "companion_ids" if card.companion_ids else "name")
        if any(c.name == card.name for c in cards):
            raise ScorecardError(f"{where}scorecard {card.name!r}: another scorecard has this name; give each a name")
        if not card.companion_ids and any(not c.companion_ids for c in cards):
            raise ScorecardError(
                f"{where}scorecard {card.name!r}: a second default scorecard; give it companion_ids, or remove one"
            )
        for other in cards:
            if shared := sorted(card.companion_ids & other.companion_ids):
                raise ScorecardError(
                    f"{where}scorecard {card.name!r}: companion {shared[0]!r} is already in scorecard {other.name!r}"
                )
        cards.append(card)
    return Scorecards(tuple(cards))


def _written(text: str, key: str) -> int | None:
    """The line of the first ``[key...`` header or ``key =`` in ``text``, if any."""
    found = re.search(rf"^[ \t]*\[+[ \t]*{key}\b|^[ \t]*{key}[ \t]*=", text.removeprefix("\ufeff"), re.M)
    return text.removeprefix("\ufeff").count("\n", 0, found.start()) + 1 if found else None


def _criteria_sections(text: str, cards_at: list[_Section]) -> dict[int, list[_Section]]:
    """The ``[[scorecards.criteria]]`` sections of each scorecard, by the scorecard before them."""
    starts = [card.line for card in cards_at]
    grouped: dict[int, list[_Section]] = {}
    for section in _sections(text, "scorecards.criteria"):
        owner = sum(1 for start in starts if start < section.line) - 1
        grouped.setdefault(owner, []).append(section)
    return grouped


def _line(sections: Sequence[_Section], index: int, key: str | None = None) -> str:
    """``line 12: `` for the ``index``-th section (its ``key``'s line when written), or nothing."""
    return f"line {sections[index].at(key)}: " if index < len(sections) else ""


def _scorecard(
    entry: dict[str, Any],
    index: int,
    cards_at: list[_Section],
    criteria_at: list[_Section],
    check_ids: Sequence[str],
    enabled: set[str],
) -> Scorecard:
    name = entry.get("name", "default")
    where = f"scorecard {name[:64]!r}" if isinstance(name, str) and name else f"scorecards[{index}]"
    try:
        raw = _RawScorecard.model_validate({k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()})
    except ValidationError as exc:
        field, problem = _problem(exc)
        raise ScorecardError(f"{_line(cards_at, index, field)}{where}: {problem}") from None
    where = f"scorecard {raw.name!r}"
    if raw.coach > raw.pass_mark:
        raise ScorecardError(
            f"{_line(cards_at, index, 'coach')}{where}: coach mark {raw.coach} is above the pass mark {raw.pass_mark}; "
            "coach must be at most pass"
        )
    if len(criteria_at) != len(raw.criteria) and index < len(cards_at):
        criteria_at = [_Section(cards_at[index].at("criteria"), {})] * len(raw.criteria)  # inline: that line
    criteria = tuple(
        _criterion(item, position, criteria_at, where, check_ids, enabled) for position, item in enumerate(raw.criteria)
    )
    total = sum(c.weight for c in criteria)
    if total != 100:
        raise ScorecardError(
            f"{_line(cards_at, index)}{where}: the weights of its criteria sum to {total}, not 100; "
            "change them so they do"
        )
    return Scorecard(raw.name, frozenset(raw.companion_ids), criteria, raw.pass_mark, raw.coach)


def _criterion(
    entry: dict[str, Any],
    position: int,
    sections: list[_Section],
    card: str,
    check_ids: Sequence[str],
    enabled: set[str],
) -> Criterion:
    where = f"{card}: criterion {position + 1}"
    try:
        raw = _RawCriterion.model_validate({k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()})
    except ValidationError as exc:
        wrong, why = _problem(exc)
        raise ScorecardError(f"{_line(sections, position, wrong)}{where}: {why}") from None
    problem: str | None = None
    field: str | None = None
    if (raw.check is None) == (raw.outcome is None):
        problem = "give either 'check' (a check or rule id) or 'outcome' (a list of outcomes), not both or neither"
    elif raw.check is not None and raw.check not in check_ids:
        field = "check"
        shown = raw.check[:64].encode("unicode_escape").decode()
        problem = f"no such check {shown!r}; the checks and rules are {', '.join(check_ids)}"
    elif raw.check is not None and raw.check not in enabled:
        field = "check"
        problem = f"check {raw.check!r} is disabled in [checks.{raw.check}], so it would always be met; enable it"
    elif raw.outcome is not None and "severity" in raw.model_fields_set:
        field = "severity"
        problem = "'severity' applies to check criteria only"
    if problem:
        raise ScorecardError(f"{_line(sections, position, field)}{where}: {problem}")
    return Criterion(raw.check, frozenset(raw.outcome or ()), raw.weight, raw.fatal, raw.severity)


def _problem(exc: ValidationError) -> tuple[str | None, str]:
    """The field and the first problem of a validation error, without echoing values."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else None
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return field, f"unknown field {location[:64]!r}"
    if error["type"] == "missing":
        return field, f"{location}: missing; a scorecard needs [[scorecards.criteria]] entries"
    if error["type"] == "tuple_type":
        return field, f'{location}: must be an array, e.g. {location} = ["..."]'
    if field == "outcome" and error["type"] == "literal_error":
        return field, f"outcome: each must be one of {', '.join(OUTCOMES)}"
    if field in ("pass", "coach", "weight") and error["type"] in ("less_than_equal", "greater_than_equal"):
        return field, f"{field}: must be from 0 to 100"
    return field, f"{location}: {error['msg']}" if location else error["msg"]
