"""Snippets made in Python from a turn's text, as FTS5's ``snippet()`` makes them from stored content.

The SQLite index is contentless (the text lives once, in the compressed body), so ``snippet()``
has nothing to read: a page's hits (at most a page) are marked here. Words are split and folded
exactly as the tokenizer ``unicode61 remove_diacritics 2`` does (``Zörblax`` is ``zorblax``,
``Straße`` stays ``straße``): ASCII letters and digits by rule, any other character as FTS5 itself
reads it, asked once per character (its Unicode 6.1 tables are not Python's: a combining accent
is part of a word there, ``ﬁ`` and ``²`` are not decomposed, newer emoji are word characters).
Each term of the query that must match (words, phrases, prefixes) is
marked where it occurs, a phrase as one span; the snippet is a window of ``SNIPPET_TOKENS``
tokens around the first match, "…" where it cuts the text.
"""

from __future__ import annotations

import re
import sqlite3
import string
import threading
from bisect import bisect_left, bisect_right
from functools import lru_cache
from itertools import accumulate

from session_mcp.store.search import QUERIES_KEPT, Term, parse

TOKENIZER = "unicode61 remove_diacritics 2"  # the SQLite index's (``sqlite_turns.TURNS_FTS``)
_ACCENT = "\u0301"  # in a text split by class: a character folded to nothing
_TOKEN_SPLIT = re.compile(f"([A-Za-z0-9][A-Za-z0-9{_ACCENT}]*)")  # its capture keeps the tokens between the gaps
_ASCII_LOWER = {ord(c): c.lower() for c in string.ascii_uppercase}
_SENTENCE_BREAK = re.compile(r"[.:][ \t\n\r]+")
_FOLDED: dict[str, str | None] = {}  # a non-ASCII character as FTS5 reads it: folded ("" dropped), None a separator
MAX_KNOWN = 50_000  # characters remembered (a language's are a few hundred)
_ORACLE_LOCK = threading.Lock()
_oracle: list[sqlite3.Connection] = []  # FTS5 asked about characters: opened at the first non-ASCII text


def _learn(chars: set[str]) -> dict[str, str | None]:
    """How FTS5's tokenizer reads ``chars`` (each put between two letters: one word or two), remembered."""
    with _ORACLE_LOCK:
        if not _oracle:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            conn.execute(f"CREATE VIRTUAL TABLE f USING fts5(text, content='', tokenize='{TOKENIZER}')")
            conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, instance)")
            _oracle.append(conn)
        conn = _oracle[0]
        asked = [c for c in chars if not "\ud800" <= c <= "\udfff"]  # a lone surrogate cannot be sent: a separator
        conn.executemany("INSERT INTO f (rowid, text) VALUES (?, ?)", [(ord(c), f"q{c}z") for c in asked])
        folded: dict[str, str | None] = dict.fromkeys(chars)
        for term, doc in conn.execute("SELECT term, doc FROM v"):
            if term not in ("q", "z"):
                folded[chr(doc)] = term[1:-1]
        conn.execute("INSERT INTO f (f) VALUES ('delete-all')")
        if len(_FOLDED) > MAX_KNOWN:  # texts made of every code point must not grow it without end
            _FOLDED.clear()
        _FOLDED.update(folded)
        return folded


def _split(text: str) -> tuple[list[str], list[int], list[int]]:
    """The folded tokens of ``text`` and where each starts and ends, as the index's tokenizer makes them.

    Split in C: the gaps and tokens alternate in ``re.split``'s list, their lengths add up to the offsets.
    A text with other characters is split on a copy where each stands for its class (a word character,
    a separator, an accent: one that continues a word and starts none), its tokens folded after.
    """
    if text.isascii():
        parts = _TOKEN_SPLIT.split(text.lower())
        bounds = list(accumulate(map(len, parts)))
        return parts[1::2], bounds[0:-1:2], bounds[1::2]
    table = {c: _FOLDED.get(c, "?") for c in set(text) if not c.isascii()}  # "?" never a fold: not known yet
    unknown = {c for c, folded in table.items() if folded == "?"}
    if unknown:
        table.update(_learn(unknown))
    classes = {ord(c): " " if folded is None else "a" if folded else _ACCENT for c, folded in table.items()}
    parts = _TOKEN_SPLIT.split(text.translate(classes))
    bounds = list(accumulate(map(len, parts)))
    starts, ends = bounds[0:-1:2], bounds[1::2]
    folds = _ASCII_LOWER | {ord(c): folded for c, folded in table.items() if folded is not None}
    return [text[start:end].translate(folds) for start, end in zip(starts, ends, strict=True)], starts, ends


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(folded token, start, end) of each token of ``text``, as the index's tokenizer makes them."""
    return list(zip(*_split(text), strict=True))


def wanted_terms(query: str) -> list[tuple[tuple[str, ...], bool]]:
    """The folded tokens of each term a hit matches (not the negated ones) and whether its last is a prefix."""
    return list(_wanted(query))


@lru_cache(maxsize=QUERIES_KEPT)
def _wanted(query: str) -> tuple[tuple[tuple[str, ...], bool], ...]:
    terms: list[Term] = [t for g in parse(query) if not g.negated for t in g.terms]
    found = [(tuple(t for t, _, _ in tokens(term.text)), term.prefix) for term in terms]
    return tuple((words, prefix) for words, prefix in found if words)


Instance = tuple[int, int, int]  # (token position, term number, tokens): one occurrence of a term


def _at(words: list[str], word: str) -> list[int]:
    """The positions of ``word`` in ``words`` (searched in C)."""
    found: list[int] = []
    position = -1
    for _ in range(words.count(word)):
        position = words.index(word, position + 1)
        found.append(position)
    return found


def _instances(words: list[str], terms: list[tuple[tuple[str, ...], bool]]) -> list[Instance]:
    """Every occurrence of every term, by position (FTS5's ``xInst`` order)."""
    found = []
    for number, (phrase, prefix) in enumerate(terms):
        size, head, last = len(phrase), phrase[0], phrase[-1]
        if size == 1 and prefix:
            found += [(i, number, 1) for i, word in enumerate(words) if word.startswith(head)]
            continue
        for i in _at(words, head):
            if size == 1 or (
                i + size <= len(words)
                and words[i + 1 : i + size - 1] == list(phrase[1:-1])
                and (words[i + size - 1].startswith(last) if prefix else words[i + size - 1] == last)
            ):
                found.append((i, number, size))
    return sorted(found)


def _score(instances: list[Instance], start: int, size: int, length: int) -> tuple[int, int]:
    """FTS5's score of the window of ``size`` tokens from ``start`` (1,000 a term, 1 a repeat) and the
    window's start moved to centre its matches."""
    seen: set[int] = set()
    score, first, last = 0, -1, 0
    for position, number, tokens_ in instances:
        if start <= position < start + size:
            score += 1 if number in seen else 1000
            seen.add(number)
            first = position if first < 0 else first
            last = position + tokens_
    adjusted = first - int((size - (last - first)) / 2)  # C's division: towards zero
    return score, max(0, min(adjusted, length - size))


def _sentence_starts(text: str, starts: list[int]) -> list[int]:
    """Positions of tokens that start a sentence: the first, and any after ". " or ": " (blanks after the
    gap's last other character, a full stop or colon: neither is ever part of a token)."""
    found = [0]
    for match in _SENTENCE_BREAK.finditer(text):
        position = bisect_left(starts, match.end())
        if 0 < position < len(starts) and starts[position] == match.end():
            found.append(position)
    return found


def _best_start(text: str, starts: list[int], instances: list[Instance], size: int) -> int:
    """Where FTS5's ``snippet()`` starts its window: the best-scoring one, a sentence start preferred."""
    length = len(starts)
    if length <= size:
        return 0  # every window is the whole text
    sentences = _sentence_starts(text, starts)
    best_score, best = 0, 0
    for position, _, _ in instances:
        score, adjusted = _score(instances, position, size, length)
        if score > best_score:
            best_score, best = score, adjusted
        sentence = sentences[bisect_right(sentences, position) - 1]
        if sentence < position:
            score = _score(instances, sentence, size, length)[0] + (120 if sentence == 0 else 100)
            if score > best_score:
                best_score, best = score, sentence
    return best


def _coalesced(instances: list[Instance]) -> list[tuple[int, int]]:
    """(first, last token) of the marked spans: overlapping occurrences made one."""
    spans: list[tuple[int, int]] = []
    for position, _, tokens_ in instances:
        end = position + tokens_ - 1
        if spans and position <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((position, end))
    return spans


def snippet(text: str, terms: list[tuple[tuple[str, ...], bool]], marks: tuple[str, str], size: int) -> str:
    """The ``size`` tokens of ``text`` FTS5's ``snippet()`` would give, matches of ``terms`` between ``marks``."""
    words, starts, ends = _split(text)
    if not words:
        return " ".join(text.split())
    instances = _instances(words, terms)
    start = _best_start(text, starts, instances, size)
    end, last = start + size - 1, min(start + size, len(words)) - 1
    parts = ["…"] if start > 0 else []
    offset = starts[start] if start > 0 else 0
    for first, final in _coalesced(instances):
        if first < start:
            continue
        if first > last:
            break
        closed = min(final, last)  # a span the window cuts is closed at its last token
        parts += [text[offset : starts[first]], marks[0], text[starts[first] : ends[closed]], marks[1]]
        offset = ends[closed]
        if final > last:
            break
    parts += [text[offset : ends[end]], "…"] if end < len(words) - 1 else [text[offset:]]
    return " ".join("".join(parts).split())
