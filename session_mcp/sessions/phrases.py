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
# Where a clause ends for a negation: punctuation, a conjunction, or a new "I" (speech-to-text has
# no punctuation: in "thats not acceptable i want a human" the "not" is in another clause).
CLAUSE_END = re.compile(r"[.!?;,:]|\b(?:but|so|pero|aber|i|ich|yo)\b", re.I)

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
# The words of a turn that only acknowledges and needs no answer: "ok", "great", "nope", "wow. ok".
ACKNOWLEDGEMENT_WORDS = frozenset(
    [
        "ok",
        "okay",
        "k",
        "kk",
        "great",
        "perfect",
        "cool",
        "nice",
        "fine",
        "alright",
        "all",
        "right",
        "good",
        "yes",
        "yeah",
        "yep",
        "yup",
        "no",
        "nope",
        "sure",
        "got",
        "it",
        "sounds",
        "understood",
        "i",
        "see",
        "ugh",
        "hmm",
        "hm",
        "wow",
        "oh",
        "ah",
        "uh",
        "um",
        "mhm",
        "huh",
        "well",
        "then",
        "sí",
        "si",
        "vale",
        "bueno",
        "claro",
        "genial",
        "perfecto",
        "ja",
        "nein",
        "gut",
        "super",
        "prima",
        "alles",
        "klar",
        "verstehe",
    ]
)
MAX_ACKNOWLEDGEMENT_WORDS = 5
# The user puts the call on hold: "one sec", "hang on", "un momento", "Moment bitte".
HOLD = re.compile(
    r"\b(?:one|just\s+a)\s+(?:sec(?:ond)?|moment|minute)\b|\b(?:hang|hold)\s+on\b|\bwait\s+a\s+(?:sec|moment)\b|"
    r"\bun\s+momento\b|\bespera\b|\beinen\s+moment\b|\bmoment,?\s+bitte\b",
    re.I,
)


def negated(text: str, start: int) -> bool:
    """Whether a negation precedes ``start`` in the same clause (``I don't need a human``)."""
    clause_start = 0
    for match in CLAUSE_END.finditer(text, 0, start):
        clause_start = match.end()
    return NEGATION.search(text, clause_start, start) is not None


def needs_no_reply(text: str) -> bool:
    """A closing ("ok thanks bye", "Maybe later.", "no that's all"), a turn that only says "ok", or "one sec".

    A question in the last sentence always wants an answer; one earlier is closed only by a
    courtesy in the last sentence ("Seriously? OK, bye."), not by a bare acknowledgement ("So
    nothing gets fixed? Great."); with no question, a courtesy anywhere closes ("Danke! That helps.").
    """
    last = last_sentence(text)
    if asks(last):
        return False
    if CLOSING.search(last):
        return True
    if asks(text):
        return False
    return CLOSING.search(text) is not None or acknowledgement(text) or HOLD.search(last) is not None


def asks(text: str) -> bool:
    """Whether ``text`` holds a question mark (Spanish opening one included)."""
    return "?" in text or "¿" in text


def echoes(text: str, agent_said: str) -> bool:
    """Whether the user only repeats what the agent just said (a drill: "repeat after me").

    Compared without spaces or punctuation: speech-to-text writes "I'd" as "id".
    """
    said = _NOT_WORD.sub("", text.casefold())
    return len(said) >= 10 and said in _NOT_WORD.sub("", agent_said.casefold())


def acknowledgement(text: str) -> bool:
    """Whether ``text`` only acknowledges ("ok", "great", "wow. ok"): a few words, all of that kind."""
    words = _WORD.findall(text.casefold())
    return 0 < len(words) <= MAX_ACKNOWLEDGEMENT_WORDS and all(w in ACKNOWLEDGEMENT_WORDS for w in words)


def last_sentence(text: str) -> str:
    """The last sentence of ``text`` that holds a word (``"Seriously? OK, bye."`` -> ``"OK, bye."``)."""
    sentences = [s for s in _SENTENCE.split(text) if _WORD.search(s)]
    return sentences[-1].strip() if sentences else text.strip()


_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"[\W_]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
