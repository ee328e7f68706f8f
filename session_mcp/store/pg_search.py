"""The search syntax written for PostgreSQL's full-text search, and snippets marked in Python.

``store.search.parse`` reads the query once; ``to_tsquery`` writes those groups as a tsquery
expression with every user word a bound parameter (``websearch_to_tsquery`` has no prefix and no
``NOT``; raw ``to_tsquery`` text fails on ``'`` or ``:``). Phrases and words go through
``phraseto_tsquery`` after the same punctuation step as the indexed column, so ``e-mail`` and
``li.wei12@example.com`` tokenize as SQLite's ``unicode61`` does; a prefix is built from the
quoted words it holds, ``:*`` on the last. The groups carry explicit parentheses: tsquery binds
``&`` tighter than ``|``, as FTS5 does.

``snippet`` marks the matched words of one turn: ``ts_headline`` parses the original text, so a hit
inside an address or behind an apostrophe would come back unmarked; a page's few turns are marked
here instead, with the same folding (case, accents) the index applies.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from session_mcp.store.base import MARKS
from session_mcp.store.search import Group, Term

CONFIG = "simple_unaccent"  # the text search configuration of migration 1: simple + unaccent
PUNCTUATION = "[[:punct:]]+"  # replaced by a blank before indexing and before querying
_WORD = re.compile(r"[^\W_]+")


def _leaf(term: Term, params: list[str]) -> str:
    if not term.prefix:
        params.append(term.text)
        return f"phraseto_tsquery('{CONFIG}', regexp_replace(%s, '{PUNCTUATION}', ' ', 'g'))"
    words = _WORD.findall(term.text)
    quoted = " <-> ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)
    params.append(f"{quoted}:*")
    return f"to_tsquery('{CONFIG}', %s)"


def _group(group: Group, params: list[str]) -> str:
    return "(" + " || ".join(_leaf(t, params) for t in group.terms) + ")"


def to_tsquery(groups: Sequence[Group]) -> tuple[str, list[str]]:
    """A tsquery SQL expression for a parsed query (``%s`` placeholders), and its parameters."""
    params: list[str] = []
    wanted = " && ".join(_group(g, params) for g in groups if not g.negated)
    unwanted = "".join(f" && !!{_group(g, params)}" for g in groups if g.negated)
    return f"({wanted}{unwanted})", params


def fold(text: str) -> str:
    """Case and accents off, as the index sees a word (``Zörblax`` -> ``zorblax``, ``Straße`` -> ``strasse``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


Pattern = tuple[list[str], bool]


def patterns(groups: Sequence[Group]) -> list[Pattern]:
    """The words to mark: each positive term as its folded words, and whether its last is a prefix."""
    found = []
    for group in groups:
        if group.negated:
            continue
        for term in group.terms:
            words = [fold(w) for w in _WORD.findall(term.text)]
            if words:
                found.append((words, term.prefix))
    return found


def _marked(words: Sequence[str], wanted: Sequence[Pattern]) -> list[bool]:
    marked = [False] * len(words)
    for pattern, prefix in wanted:
        size = len(pattern)
        for start in range(len(words) - size + 1):
            head = all(words[start + k] == pattern[k] for k in range(size - 1))
            last = words[start + size - 1]
            if head and (last.startswith(pattern[-1]) if prefix else last == pattern[-1]):
                marked[start : start + size] = [True] * size
    return marked


def snippet(text: str, wanted: Sequence[Pattern], tokens: int) -> str:
    """About ``tokens`` words of ``text`` around its first match, matched runs between ``MARKS``."""
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not spans:
        return " ".join(text.split())
    marked = _marked([fold(text[a:b]) for a, b in spans], wanted)
    first = marked.index(True) if True in marked else 0
    start = max(0, min(first - tokens // 4, len(spans) - tokens))
    end = min(len(spans), start + tokens)
    out = ["…" if start > 0 else ""]
    position = spans[start][0]
    inside = False
    for index in range(start, end):
        a, b = spans[index]
        if marked[index] and not inside:
            out += [text[position:a], MARKS[0]]
            position, inside = a, True
        elif not marked[index] and inside:
            out += [text[position : spans[index - 1][1]], MARKS[1]]
            position, inside = spans[index - 1][1], False
        out.append(text[position:b])
        position = b
    if inside:
        out.append(MARKS[1])
    out.append("…" if end < len(spans) else text[position:])
    return " ".join("".join(out).split())
