"""Team rules: a TOML file that tunes the built-in checks and adds phrase rules.

    # Thresholds and switches of the built-in checks, one table per check id.
    [checks.slow_response]
    seconds = 8
    [checks.escalation_request]
    phrases = ["hablar con una persona"]
    [checks.failed_session]
    normal_close_reasons = ["connection_closed", "idle_timeout", "user_hung_up"]
    [checks.long_silence]
    enabled = false

    # A disclosure the agent must make early on.
    [[rules]]
    id = "recording_disclosure"
    type = "required_phrase"
    phrase = "this call is recorded"     # or: pattern = "call (?:is|may be) recorded"
    within_agent_turns = 2
    severity = "critical"
    companion_ids = ["comp_support"]     # optional scope
    tags = ["channel=phone"]             # optional scope: every key must match one of its values

    # Words that must not be said.
    [[rules]]
    id = "refund_promise"
    type = "forbidden_phrase"
    pattern = "\\bguarantee(?:d)? (?:a|your) refund"
    roles = ["agent"]                    # agent (default), user, or both
    severity = "warning"
    message = "Refunds are never guaranteed on a call."

A ``phrase`` matches literally (case and spacing ignored, whole words); a ``pattern`` is a
regular expression, compiled once and bounded as ``patterns`` explains. Rules match the text as
shown, so with ``--redact-pii`` they see ``[EMAIL]`` where an address was. Every problem in the
file is a ``RulesError`` naming the rule (or check) and the field.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from session_mcp.companion.models import SessionDetail
from session_mcp.companion.sanitize import shorten, single_line
from session_mcp.qa.checks import (
    CHECK_IDS,
    DEFAULT_CONFIG,
    CheckConfig,
    Finding,
    Severity,
    Subject,
    capped,
    literal_phrase,
    quote,
    run_checks,
    spoken,
)
from session_mcp.qa.patterns import PatternError, compile_bounded, search
from session_mcp.qa.scorecard import NO_SCORECARDS, ScorecardError, Scorecards, parse_scorecards
from session_mcp.render.lines import quoted

MAX_RULES = 200
MAX_RULES_FILE_BYTES = 1024 * 1024
RULE_ID = r"^[a-z][a-z0-9_]{0,63}$"


class RulesError(ValueError):
    """The rules file cannot be used; the message names the file, the rule and the problem."""


class _RawRule(BaseModel):
    """A ``[[rules]]`` entry as written."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(pattern=RULE_ID)
    type: Literal["required_phrase", "forbidden_phrase"]
    phrase: str | None = Field(None, min_length=1, max_length=200)
    pattern: str | None = Field(None, min_length=1)
    severity: Severity = "warning"
    message: str | None = Field(None, min_length=1, max_length=300)
    roles: tuple[Literal["agent", "user"], ...] = Field(("agent",), min_length=1)
    within_agent_turns: int = Field(3, ge=1, le=100)
    companion_ids: tuple[str, ...] = Field((), max_length=100)
    tags: tuple[str, ...] = Field((), max_length=100)


@dataclass(frozen=True)
class Scope:
    """Which sessions a rule applies to: any of these companions, and for each tag key one of its values."""

    companion_ids: frozenset[str] = frozenset()
    tags: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def applies(self, session: SessionDetail) -> bool:
        if self.companion_ids and session.companion_id not in self.companion_ids:
            return False
        tags = session.tags or {}
        return all(key in tags and str(tags[key]) in values for key, values in self.tags.items())


@dataclass(frozen=True)
class PhraseRule:
    """A ``required_phrase`` or ``forbidden_phrase`` rule, its pattern compiled once."""

    id: str
    type: Literal["required_phrase", "forbidden_phrase"]
    pattern: re.Pattern[str]
    wording: str  # the phrase or pattern as written, for messages
    severity: Severity
    message: str | None
    roles: tuple[str, ...]
    within_agent_turns: int
    scope: Scope

    def findings(self, subject: Subject) -> Iterator[Finding]:
        if not self.scope.applies(subject.session):
            return
        if self.type == "forbidden_phrase":
            for turn in subject.turns:
                if turn.role in self.roles and (match := search(self.pattern, turn.text)):
                    message = self.message or f"Forbidden phrase ({self.wording!r}): {quoted(match.group(), 80)}."
                    yield subject.finding(
                        self.id, self.severity, message, turn, quote(turn.text, match.start(), match.end())
                    )
            return
        agent_turns = list(spoken(subject.turns, "agent"))[: self.within_agent_turns]
        if agent_turns and not any(search(self.pattern, turn.text) for turn in agent_turns):
            first = f"first {len(agent_turns)} agent turns" if len(agent_turns) > 1 else "first agent turn"
            yield subject.finding(self.id, self.severity, self.message or f"The {first} never say {self.wording!r}.")


@dataclass(frozen=True)
class RuleSet:
    """The built-in checks' settings and the team's phrase rules: what a review applies."""

    checks: CheckConfig = DEFAULT_CONFIG
    rules: tuple[PhraseRule, ...] = ()
    source: str | None = None  # the file it was read from
    scorecards: Scorecards = NO_SCORECARDS  # none: sessions get no score

    def review(self, session: SessionDetail, shown: SessionDetail | None = None) -> list[Finding]:
        """Every finding for ``session``: whole-session ones first, then by turn.

        ``shown`` is the session as it is shown (redacted): the evidence quotes it, while the PII
        check reads the original.
        """
        subject = Subject.of(session, shown)
        findings = run_checks(subject, self.checks)
        for rule in self.rules:
            findings += capped(rule.findings(subject))
        return sorted(findings, key=lambda f: -1 if f.turn_index is None else f.turn_index)

    @property
    def check_ids(self) -> tuple[str, ...]:
        """Every id a finding may carry: the enabled built-in checks, then the rules."""
        enabled = tuple(c for c in CHECK_IDS if getattr(self.checks, c).enabled)
        return enabled + tuple(rule.id for rule in self.rules)

    @functools.cached_property
    def fingerprint(self) -> str:
        """What the rules decide, as a short hash: findings (and reviewers' verdicts on them) belong to it.

        The checks' settings, every rule and every scorecard, not the file's name or layout: the same
        rules in another file or order of keys give the same fingerprint, a changed threshold another.
        """
        described = {
            "checks": self.checks.model_dump(mode="json"),
            "rules": [
                [
                    r.id,
                    r.type,
                    r.wording,
                    r.severity,
                    r.message,
                    r.roles,
                    r.within_agent_turns,
                    sorted(r.scope.companion_ids),
                    sorted((k, sorted(v)) for k, v in r.scope.tags.items()),
                ]
                for r in self.rules
            ],
            "scorecards": self.scorecards.describe(),
        }
        text = json.dumps(described, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_rules(path: Path) -> RuleSet:
    """The rules of the TOML file at ``path``; ``RulesError`` (a one-line message) when it cannot be used."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_RULES_FILE_BYTES + 1)
    except OSError as exc:
        raise RulesError(f"cannot read the rules file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_RULES_FILE_BYTES:
        raise RulesError(f"rules file {path}: larger than {MAX_RULES_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RulesError(f"rules file {path}: not UTF-8 text") from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str = "rules") -> RuleSet:
    """The rules of a TOML document; ``source`` names it in errors. A leading byte-order mark is skipped."""
    try:
        document = tomllib.loads(text.removeprefix("\ufeff"))  # editors on Windows write one
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file {source}: not valid TOML: {single_line(str(exc))}") from None
    except ValueError:  # tomllib reads integers with int(), which refuses this many digits
        digits = sys.get_int_max_str_digits()
        raise RulesError(f"rules file {source}: not valid TOML: a number has more than {digits:,} digits") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays and inline tables
        raise RulesError(
            f"rules file {source}: arrays or inline tables are nested too deeply to read; a rules file needs "
            "at most two levels (an array of strings in a table)"
        ) from None
    unknown = sorted(set(document) - {"checks", "rules", "scorecards"})
    if unknown:
        raise RulesError(
            f"rules file {source}: unknown table {unknown[0]!r}; it takes [checks.<id>], [[rules]] and [[scorecards]]"
        )
    checks = _checks(document.get("checks", {}), source)
    entries = document.get("rules", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RulesError(f"rules file {source}: 'rules' must be an array of tables ([[rules]])")
    if len(entries) > MAX_RULES:
        raise RulesError(f"rules file {source}: {len(entries)} rules; the limit is {MAX_RULES}")
    rules: list[PhraseRule] = []
    for position, entry in enumerate(entries):
        rule = _rule(entry, position, source)
        if rule.id in CHECK_IDS or any(r.id == rule.id for r in rules):
            clash = "a built-in check" if rule.id in CHECK_IDS else "another rule"
            raise RulesError(f"rules file {source}: rule {rule.id!r}: id is already used by {clash}")
        rules.append(rule)
    rule_set = RuleSet(checks=checks, rules=tuple(rules), source=source)
    if "scorecards" not in document:
        return rule_set
    ids = (*CHECK_IDS, *(rule.id for rule in rules))
    try:
        cards = parse_scorecards(document["scorecards"], text, ids, set(rule_set.check_ids))
    except ScorecardError as exc:
        raise RulesError(f"rules file {source}: {exc}") from None
    return replace(rule_set, scorecards=cards)


def _checks(table: Any, source: str) -> CheckConfig:
    if not isinstance(table, dict):
        raise RulesError(f"rules file {source}: 'checks' must be a table of [checks.<id>] tables")
    defaults = DEFAULT_CONFIG
    validated: dict[str, Any] = {}
    for check_id, options in table.items():
        if check_id not in CHECK_IDS:
            raise RulesError(
                f"rules file {source}: [checks.{single_line(shorten(check_id, 60))}]: no such check; the checks are "
                f"{', '.join(CHECK_IDS)}"
            )
        if not isinstance(options, dict):
            raise RulesError(f"rules file {source}: [checks.{check_id}] must be a table")
        default = getattr(defaults, check_id)
        try:
            validated[check_id] = type(default).model_validate({**default.model_dump(), **_tuples(options)})
        except ValidationError as exc:
            raise RulesError(f"rules file {source}: [checks.{check_id}] {_problem(exc)}") from None
    return defaults.model_copy(update=validated)


def _tuples(options: dict[str, Any]) -> dict[str, Any]:
    """TOML arrays as tuples, the type of the check options' list fields."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in options.items()}


def _rule(entry: dict[str, Any], position: int, source: str) -> PhraseRule:
    name = entry.get("id")
    where = f"rule {name!r}" if isinstance(name, str) and name else f"rules[{position}]"
    try:
        raw = _RawRule.model_validate(_tuples(entry))
    except ValidationError as exc:
        raise RulesError(f"rules file {source}: {where}: {_problem(exc)}") from None
    given = raw.model_fields_set
    problem = None
    if raw.phrase is not None and not raw.phrase.strip():
        problem = "phrase is blank: give the words to look for"
    elif (raw.phrase is None) == (raw.pattern is None):
        problem = "give either 'phrase' (literal) or 'pattern' (a regular expression), not both or neither"
    elif raw.type == "required_phrase" and "roles" in given:
        problem = "'roles' applies to forbidden_phrase rules only (a required phrase is looked for in agent turns)"
    elif raw.type == "forbidden_phrase" and "within_agent_turns" in given:
        problem = "'within_agent_turns' applies to required_phrase rules only"
    if problem:
        raise RulesError(f"rules file {source}: {where}: {problem}")
    try:
        pattern = literal_phrase(raw.phrase) if raw.phrase is not None else compile_bounded(raw.pattern or "")
        scope = Scope(frozenset(raw.companion_ids), _tag_scope(raw.tags))
    except (PatternError, ValueError) as exc:
        field_name = "pattern" if raw.pattern is not None and isinstance(exc, PatternError) else "tags"
        raise RulesError(f"rules file {source}: {where}: {field_name}: {exc}") from None
    return PhraseRule(
        id=raw.id,
        type=raw.type,
        pattern=pattern,
        wording=raw.phrase or raw.pattern or "",
        severity=raw.severity,
        message=raw.message,
        roles=tuple(dict.fromkeys(raw.roles)),
        within_agent_turns=raw.within_agent_turns,
        scope=scope,
    )


def _tag_scope(pairs: tuple[str, ...]) -> dict[str, frozenset[str]]:
    scope: dict[str, set[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"each tag is 'key=value', not {pair[:60]!r}")
        scope.setdefault(key, set()).add(value)
    return {key: frozenset(values) for key, values in scope.items()}


def _problem(exc: ValidationError) -> str:
    """The first problem of a validation error as ``field: message``, without echoing values."""
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown field {location!r}"
    if error["type"] == "tuple_type":  # the model's tuples are TOML arrays
        return f'{location}: must be an array, e.g. {location} = ["..."]'
    if error["type"] == "string_pattern_mismatch" and location == "id":
        return "id must be snake_case: a lowercase letter, then lowercase letters, digits or '_' (at most 64)"
    return f"{location}: {error['msg']}" if location else error["msg"]
