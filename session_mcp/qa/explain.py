"""Every check explained for the people who read a report: what it flags, its threshold, its severity.

The report names checks by id in its tables; the page explains each beside its count, with the
thresholds the review ran with (a rules file changes them), so a reader who never saw the rules
file knows what ``slow_response`` meant on this report.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from session_mcp.qa.checks import CHECK_IDS, DEFAULT_SEVERITY, Severity
from session_mcp.qa.rules import RuleSet

MEANINGS = {
    "no_user_turn": "The user never said anything in a started or closed session.",
    "unanswered_user": "The session ended on a user turn the agent never answered (a closing thanks or bye "
    "needs no answer).",
    "slow_response": "The agent's first reply after the user spoke came late.",
    "long_silence": "Nobody spoke for a long time between two turns, or before the first one.",
    "agent_repetition": "The agent said the same thing again, word for word or nearly.",
    "user_repetition": "The user said the same thing again: a sign of not being understood.",
    "escalation_request": "The user asked for a human, a manager or an operator (not when they said they do "
    "not need one).",
    "failed_session": "The session failed, or was closed for a reason that is not a normal end.",
    "tool_failure": "A tool the agent called failed (a call the user left before is not a failure).",
    "pii_exposed": "The agent said an e-mail address, a phone number or a card number aloud.",
}


class CheckHelp(BaseModel):
    check: str
    meaning: str
    threshold: str | None = None
    severity: Severity


def explain(rules: RuleSet) -> list[CheckHelp]:
    """The enabled checks and the rules, in report order, each with its meaning and threshold."""
    helps = []
    for check in CHECK_IDS:
        options = getattr(rules.checks, check)
        if options.enabled:
            helps.append(
                CheckHelp(
                    check=check,
                    meaning=MEANINGS[check],
                    threshold=_threshold(check, options.model_dump()),
                    severity=options.severity or DEFAULT_SEVERITY[check],
                )
            )
    for rule in rules.rules:
        if rule.type == "required_phrase":
            meaning = f"The agent's first {rule.within_agent_turns} turns must say {rule.wording!r}."
        else:
            meaning = f"Nobody ({', '.join(rule.roles)}) may say {rule.wording!r}."
        helps.append(CheckHelp(check=rule.id, meaning=rule.message or meaning, severity=rule.severity))
    return helps


def _threshold(check: str, options: dict[str, Any]) -> str | None:
    if "seconds" in options:
        return f"more than {options['seconds']:g} s"
    if "similarity" in options:
        return f"similarity at least {options['similarity']:g}, {options['min_chars']} characters or more"
    if check == "failed_session":
        return "normal close reasons: " + ", ".join(options["normal_close_reasons"])
    if check == "escalation_request" and options.get("phrases"):
        return "also: " + ", ".join(map(repr, options["phrases"]))
    return None
