"""The words of a request for a human, told from the near misses that use the same words.

A request for a human, a person, a manager, a supervisor, a representative or an operator, in
the forms callers use ("let me talk to your manager", "transfer me to a human", "is there a real
person?", "Representative!"), is one unless:

- a negation comes before it in the same clause (``sessions.phrases.negated``: "I don't need a
  human", "no need to transfer me"; speech-to-text writes no commas, so a new "I" ends a clause);
- the sentence talks about the phrase rather than saying it ("how do I say I want to talk to the
  manager in German", "translate ...");
- the user only repeats the agent's line, as in a language drill ("Repeat after me: ...":
  ``sessions.phrases.echoes``, which the outcome uses too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from session_mcp.sessions.phrases import negated

_WHO = (
    r"(?:(?:a|an|the|some|your|one\s+of\s+your)\s+)?(?:(?:real|live|actual)\s+)?"
    r"(?:human(?:\s+being)?|person|manager|supervisor|representative|operator|"
    r"(?:real|live|human|actual)\s+(?:agent|one)|someone\s+(?:real|else|in\s+charge))\b"
)
ESCALATION = re.compile(
    r"\b(?:"
    rf"(?:speak|talk|chat)\s+(?:to|with)\s+{_WHO}"
    rf"|(?:get|put|transfer|connect|pass|escalate)\s+(?:me\s+)?(?:(?:through|over|on)\s+)?(?:to\s+|with\s+)?{_WHO}"
    r"|(?:want|need|prefer|request|demand|ask\s+for|rather\s+have|(?:['’]d|would)\s+like)\s+"
    rf"(?:to\s+(?:speak|talk)\s+(?:to|with)\s+)?{_WHO}"
    rf"|(?:is|are)\s+there\s+(?:a|an|any)\s+(?:real\s+)?(?:human|person|people|manager|supervisor)\b"
    r"|escalate\s+(?:this|it|my\s+(?:case|issue|complaint))\b"
    r")",
    re.I,
)
# The whole turn is the request: "Representative!"
ESCALATION_ALONE = re.compile(
    r"^\W*(?:human|operator|representative|real\s+person|manager|supervisor)(?:\s+please)?\W*$", re.I
)
# Words that make what follows a phrase talked about, not said: "how do I say ...", "translate ...".
_MENTION = re.compile(
    r"\b(?:how\s+(?:do|would|can|should|to)\s+(?:i\s+|you\s+|we\s+)?say|what\s+does|translat\w*|"
    r"repeat\s+after|(?:is|was)\s+it\s+correct\s+to\s+say|c[oó]mo\s+se\s+dice|wie\s+sagt\s+man)\b",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?¿¡]")
# A word every form of ESCALATION holds (the end of ``_WHO``, "people", "escalate"), always at the
# start of a word (after a space or at the start): a turn without one is no request, found far
# faster than ESCALATION tries each of its words.
_NEEDED = re.compile(
    r"\b(?:human|person|people|manager|supervisor|representative|operator|real|live|actual|someone|escalate)", re.I
)


_NEEDED_WORDS = (
    "human",
    "person",
    "people",
    "manager",
    "supervisor",
    "representative",
    "operator",
    "real",
    "live",
    "actual",
    "someone",
    "escalate",
)


def may_ask(text: str) -> bool:
    """False only when ``_NEEDED`` finds nothing in ``text``: for ASCII text (most turns) by substrings in C.

    In ASCII text an ASCII letter matches only its own two cases under ``re.I``, so a lower-cased
    text without one of the words (anywhere, not only at a word's start) holds no match; other
    text ("ſomeone": the long s matches an s) goes to the pattern itself.
    """
    if not text.isascii():
        return _NEEDED.search(text) is not None
    lowered = text.lower()
    return any(word in lowered for word in _NEEDED_WORDS)


def first_request(text: str, extra: Sequence[re.Pattern[str]] = ()) -> re.Match[str] | None:
    """The first request for a human in ``text`` (built-in, then ``extra``), neither negated nor mentioned."""
    for pattern in (ESCALATION, *extra) if may_ask(text) else extra:
        for match in pattern.finditer(text):
            if not negated(text, match.start()) and not _mentioned(text, match.start()):
                return match
    return None


def _mentioned(text: str, start: int) -> bool:
    """Whether the sentence before ``start`` talks about a phrase ("how do I say I want a manager")."""
    sentence_start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, start)), default=0)
    return _MENTION.search(text, sentence_start, start) is not None


def asks_alone(text: str) -> bool:
    """Whether the whole turn is the request, as callers say it to a phone menu: "Representative!"."""
    return ESCALATION_ALONE.match(text) is not None
