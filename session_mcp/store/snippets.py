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
import threading

from session_mcp.store.search import Term, parse

TOKENIZER = "unicode61 remove_diacritics 2"  # the SQLite index's (``sqlite_turns.TURNS_FTS``)
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+")
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


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(folded token, start, end) of each token of ``text``, as the index's tokenizer makes them."""
    if text.isascii():
        return [(m.group().lower(), m.start(), m.end()) for m in _ASCII_TOKEN.finditer(text)]
    table = {c: _FOLDED.get(c, "?") for c in set(text) if not c.isascii()}  # "?" never a fold: not known yet
    unknown = {c for c, folded in table.items() if folded == "?"}
    if unknown:
        table.update(_learn(unknown))
    found: list[tuple[str, int, int]] = []
    word: list[str] = []
    start = -1
    for i, c in enumerate(text):
        folded = (c.lower() if c.isalnum() else None) if c.isascii() else table[c]
        if folded is None or (start < 0 and not folded):  # an accent (folded to nothing) only continues a word
            if start >= 0:
                found.append(("".join(word), start, i))
                word, start = [], -1
            continue
        start = i if start < 0 else start
        word.append(folded)
    if start >= 0:
        found.append(("".join(word), start, len(text)))
    return found


def wanted_terms(query: str) -> list[tuple[tuple[str, ...], bool]]:
    """The folded tokens of each term a hit matches (not the negated ones) and whether its last is a prefix."""
    terms: list[Term] = [t for g in parse(query) if not g.negated for t in g.terms]
    found = [(tuple(t for t, _, _ in tokens(term.text)), term.prefix) for term in terms]
    return [(words, prefix) for words, prefix in found if words]


Instance = tuple[int, int, int]  # (token position, term number, tokens): one occurrence of a term


def _instances(words: list[str], terms: list[tuple[tuple[str, ...], bool]]) -> list[Instance]:
    """Every occurrence of every term, by position (FTS5's ``xInst`` order)."""
    found = []
    for number, (phrase, prefix) in enumerate(terms):
        size, head, last = len(phrase), phrase[0], phrase[-1]
        for i in range(len(words) - size + 1):
            if size == 1:
                if words[i] == head or (prefix and words[i].startswith(head)):
                    found.append((i, number, 1))
            elif (
                words[i] == head
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


def _sentence_starts(text: str, found: list[tuple[str, int, int]]) -> list[int]:
    """Positions of tokens that start a sentence: the first, and any after ". " or ": "."""
    starts = [0]
    for position in range(1, len(found)):
        gap = text[found[position - 1][2] : found[position][1]]
        before = gap.rstrip(" \t\n\r")
        if len(before) < len(gap) and before.endswith((".", ":")):
            starts.append(position)
    return starts


def _best_start(text: str, found: list[tuple[str, int, int]], instances: list[Instance], size: int) -> int:
    """Where FTS5's ``snippet()`` starts its window: the best-scoring one, a sentence start preferred."""
    sentences = _sentence_starts(text, found) if len(found) > size else [0]
    best_score, best = 0, 0
    for position, _, _ in instances:
        score, adjusted = _score(instances, position, size, len(found))
        if score > best_score:
            best_score, best = score, adjusted
        if len(found) > size:
            sentence = max(s for s in sentences if s <= position)
            if sentence < position:
                score = _score(instances, sentence, size, len(found))[0] + (120 if sentence == 0 else 100)
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
    found = tokens(text)
    if not found:
        return " ".join(text.split())
    instances = _instances([w for w, _, _ in found], terms)
    start = _best_start(text, found, instances, size)
    end = start + size - 1
    spans = [span for span in _coalesced(instances) if span[0] >= start]
    parts = ["…"] if start > 0 else []
    offset = found[start][1] if start > 0 else 0
    k = 0
    for position in range(start, min(end + 1, len(found))):
        _, token_start, token_end = found[position]
        if k < len(spans) and position == spans[k][0]:
            parts += [text[offset:token_start], marks[0]]
            offset = token_start
        if k < len(spans) and position == spans[k][1]:
            parts += [text[offset:token_end], marks[1]]
            offset = token_end
            k += 1
        if position == end:
            parts.append(text[offset:token_end])
            offset = token_end
            if k < len(spans) and spans[k][0] <= position < spans[k][1]:
                parts.append(marks[1])
    parts.append(text[offset:] if end >= len(found) - 1 else "…")
    return " ".join("".join(parts).split())
