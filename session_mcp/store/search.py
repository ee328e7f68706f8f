"""The transcript search's query language, parsed once and written out for each engine.

Raw text in an FTS5 ``MATCH`` fails or misleads (``refund "charged`` is an unterminated string,
``-refund`` and ``e-mail`` read as column filters, ``NOT working`` is a syntax error) and FTS5
binds AND tighter than OR. So user text never reaches ``MATCH``: ``parse`` reads the syntax below
into groups, and ``to_fts5`` writes every term as a quoted string with explicit parentheses.

Syntax: words (all must match), "exact phrase", ``a OR b``, ``NOT word`` or ``-word``,
``prefix*`` (at least 2 letters). Case and accents are ignored (the tokenizer's work); no
stemming: ``refun*`` finds "refunded", ``refund`` does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_QUERY_CHARS = 500
QUERIES_KEPT = 256  # queries whose parsed forms are kept (``to_fts5``, ``snippets.wanted_terms``)
MAX_TERMS = 32  # each term is one more doclist to merge: a bound on the work one query can ask for


class QueryError(ValueError):
    """A query the syntax cannot read; the message ends with the syntax."""

    HELP = (
        'query syntax: words (all must match), "exact phrase", a OR b, NOT word or -word, prefix* (at least 2 '
        'letters); example: refund "charged twice" NOT voucher subscri*'
    )

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}. {self.HELP}")


@dataclass(frozen=True)
class Term:
    text: str
    prefix: bool


@dataclass(frozen=True)
class Group:
    """Alternatives (OR) of which one must match, or, ``negated``, none may."""

    negated: bool
    terms: tuple[Term, ...]


_TOKEN = re.compile(r'\s*(?:(?P<neg>-)?"(?P<phrase>[^"]*)"(?P<pstar>\*)?|(?P<word>[^\s"]+)|(?P<quote>"))')
_ALNUM = re.compile(r"[^\W_]")  # a letter or digit: what the tokenizer keeps
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # a NUL ends an FTS5 string early: controls are blanks
_Item = tuple[str, Term | None, bool]  # (kind: "T" | "OR" | "NOT" | "AND", term, negated)


def _items(query: str) -> list[_Item]:
    items: list[_Item] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None or match.end() == pos:  # only trailing blanks are left
            break
        pos = match.end()
        if match.group("quote"):
            raise QueryError("unbalanced double quote")
        if match.group("phrase") is not None:
            term = Term(match.group("phrase"), bool(match.group("pstar")))
            items.append(("T", term, bool(match.group("neg"))))
            continue
        word = match.group("word")
        if word in ("OR", "NOT", "AND"):
            items.append((word, None, False))
            continue
        negated = word.startswith("-") and len(word) > 1
        word = word[1:] if negated else word
        items.append(("T", Term(word.rstrip("*"), word.endswith("*")), negated))
    return items


def _checked(term: Term) -> Term | None:
    """The term, ``None`` when it has no letter or digit (``-``, ``:``: dropped), or why a prefix is refused."""
    if not _ALNUM.search(term.text):
        return None
    last = term.text.split()[-1] if term.text.split() else ""
    if term.prefix and len(_ALNUM.findall(last)) < 2:
        raise QueryError(f"prefix {term.text}* is too short")
    return term


def parse(query: str) -> list[Group]:
    """The groups of ``query``, all of which must hold; raises ``QueryError``."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    items = _items(_CONTROL.sub(" ", query).strip())
    groups: list[Group] = []
    pending_not = False
    i = 0
    while i < len(items):
        kind, term, negated = items[i]
        i += 1
        if kind == "AND":
            continue
        if kind == "NOT":
            pending_not = True
            continue
        if kind == "OR" or term is None:
            raise QueryError("OR needs a term on both sides")
        negated, pending_not = negated or pending_not, False
        first = _checked(term)
        alternatives = [first] if first is not None else []
        while i < len(items) and items[i][0] == "OR":
            if i + 1 >= len(items) or items[i + 1][0] != "T":
                raise QueryError("OR needs a term on both sides")
            _, other, other_negated = items[i + 1]
            if other_negated or negated:
                raise QueryError("NOT cannot be combined with OR")
            if other is not None and (checked := _checked(other)) is not None:
                alternatives.append(checked)
            i += 2
        if alternatives:
            groups.append(Group(negated, tuple(alternatives)))
    if pending_not:
        raise QueryError("NOT needs a term after it")
    if not any(not g.negated for g in groups):
        raise QueryError("the query needs at least one word that is not negated")
    if sum(len(g.terms) for g in groups) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} terms")
    return groups


def _fts5_term(term: Term) -> str:
    return '"' + term.text.replace('"', '""') + '"' + (" *" if term.prefix else "")


def _fts5_group(group: Group) -> str:
    return "(" + " OR ".join(_fts5_term(t) for t in group.terms) + ")"


@lru_cache(maxsize=QUERIES_KEPT)
def to_fts5(query: str) -> str:
    """An FTS5 ``MATCH`` expression for ``query``: every term quoted, every group in parentheses (kept: a
    search writes it before its work and in it, and a page is often asked for again, or the next one)."""
    groups = parse(query)
    wanted = " AND ".join(_fts5_group(g) for g in groups if not g.negated)
    unwanted = "".join(" NOT " + _fts5_group(g) for g in groups if g.negated)
    return f"({wanted}){unwanted}" if unwanted else wanted
