"""Phrases that both a session's outcome and the QA checks read: negations and closing courtesies.

They sit in the sessions tier, below ``qa/``, so that ``sessions/outcome.py`` (which the store may
record per session) and ``qa/checks.py`` share one list instead of two that drift apart. English,
Spanish and German (the demo's code-switching), with a few French courtesies; what a caller says
to a voice agent, so speech-to-text forms without apostrophes (``dont``, ``thats``) count too.
"""

from __future__ import annotations

import re

_APOSTROPHE = r"['’]?"

NEGATION = re.compile(
    r"\b(?:not|no|never|without|neither|nor|do\s+not|no\s+need|nobody|"
    rf"(?:don|doesn|didn|won|wouldn|needn|isn|aren|shouldn|can){_APOSTROPHE}t|cannot|"
    r"nicht|kein(?:e|en|er)?|nunca|tampoco|sin)\b",
    re.I,
)
CLAUSE_END = re.compile(r"[.!?;,:]|\b(?:but|so|pero|aber)\b", re.I)

# A courtesy that closes a conversation and needs no reply: thanks, bye, "that's all", "maybe later".
CLOSING = re.compile(
    r"\b(?:thanks?|thank\s+you|thx|ty|cheers|bye(?:\s+bye)?|good\s*bye|see\s+y(?:ou|a)|"
    rf"that{_APOSTROPHE}?s\s+(?:all|it|everything)|(?:no|nope)[,.]?\s+(?:that{_APOSTROPHE}?s\s+(?:all|it)|"
    r"(?:i'?m|im)\s+(?:good|fine|ok(?:ay)?)|all\s+good|thanks?)|"
    r"maybe\s+(?:later|another\s+time|next\s+time)|(?:i'?ll|i\s+will)\s+think\s+about\s+it|"
    r"not\s+(?:right\s+)?now|have\s+a\s+(?:good|nice|great)\s+(?:one|day|evening)|take\s+care|"
    r"merci|gracias|adi[oó]s|hasta\s+(?:luego|pronto|mañana)|chao|danke(?:sch[oö]n)?|tsch[uü]ss|"
    r"auf\s+wiederh[oö]ren|vielleicht\s+sp[aä]ter|quiz[aá]s?\s+(?:m[aá]s\s+tarde|luego))\b",
    re.I,
)


def negated(text: str, start: int) -> bool:
    """Whether a negation precedes ``start`` in the same clause (``I don't need a human``)."""
    clause_start = 0
    for match in CLAUSE_END.finditer(text, 0, start):
        clause_start = match.end()
    return NEGATION.search(text, clause_start, start) is not None
