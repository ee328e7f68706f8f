"""How alike two turns are, cheaply: the repetition checks' similarity, exact and fast.

``most_similar`` answers what ``difflib.SequenceMatcher.ratio`` would, but runs difflib only on a
pair that ``may_reach`` the threshold by bounds that never reject a pair that reaches it (lengths,
shared letters, shared letter pairs): most pairs of different sentences are told apart in
microseconds. Pure: no session, no finding.
"""

from __future__ import annotations

import difflib
import functools
import math
import operator
import re
from collections import Counter
from collections.abc import Sequence

_NOT_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Text compared for repetition: case folded, punctuation and runs of spaces as one space."""
    return _NOT_WORD.sub(" ", text.casefold()).strip()


class Said:
    """A turn's compared text, and its letter pairs, counted the first time a comparison needs them."""

    __slots__ = ("_letters", "_pairs", "index", "text")

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        self.text = text
        self._letters: Counter[str] | None = None
        self._pairs: Counter[str] | None = None

    @property
    def letters(self) -> Counter[str]:
        if self._letters is None:
            self._letters = Counter(self.text)
        return self._letters

    @property
    def pairs(self) -> Counter[str]:
        if self._pairs is None:
            self._pairs = Counter(map(operator.add, self.text, self.text[1:]))
        return self._pairs


def most_similar(said: Said, recent: Sequence[Said], threshold: float) -> tuple[int | None, float]:
    """The most recent earlier turn at least ``threshold`` similar to ``said``, and the ratio.

    difflib works only on a pair that ``may_reach`` the threshold, by the texts' lengths and then
    by their shared letter pairs: most pairs of different sentences are told apart in microseconds.
    """
    text = said.text
    size = len(text)
    matcher: difflib.SequenceMatcher[str] | None = None
    for other in reversed(recent):
        other_size = len(other.text)
        total = size + other_size
        if total and 2.0 * min(size, other_size) / total < threshold:  # real_quick_ratio, as difflib computes it
            continue
        if not (
            letters_may_reach(said, other, threshold)
            and may_reach(other_size, size, shared(other.letters, said.letters), threshold, 1)
            and may_reach(other_size, size, shared(other.pairs, said.pairs), threshold, 2)
        ):
            continue
        if matcher is None:
            matcher = difflib.SequenceMatcher(None, autojunk=False)
            matcher.set_seq2(text)
        matcher.set_seq1(other.text)
        if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold:
            ratio = matcher.ratio()
            if ratio >= threshold:
                return other.index, ratio
    return None, 0.0


def letters_may_reach(one: Said, other: Said, threshold: float) -> bool:
    """The letter bound (``may_reach`` with q = 1), decided early for most pairs of different sentences.

    ``2 * shared letters = total - D``, where ``D`` sums the differences of each letter's counts;
    the differences of ``one``'s letters alone are a lower bound on ``D``, so once they pass
    ``total - 2 * need`` (``need``: the fewest shared letters that reach ``threshold``) no
    pair of these lengths can reach it. Summed letter by letter, it stops there.
    """
    total = len(one.text) + len(other.text)
    need = _fewest_shared(total, threshold)
    budget = total - 2 * need
    theirs = other.letters
    differ = 0
    for letter, count in one.letters.items():
        differ += abs(count - theirs.get(letter, 0))
        if differ > budget:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _fewest_shared(total: int, threshold: float) -> int:
    """The fewest shared letters ``n`` for which ``2.0 * n / total`` (difflib's ratio) reaches ``threshold``."""
    if not total:
        return 0
    n = max(0, math.ceil(threshold * total / 2) - 1)
    while 2.0 * n / total < threshold:
        n += 1
    return n


def shared(one: Counter[str], other: Counter[str]) -> int:
    """How many letter pairs two texts share, as multisets: the sum of the smaller count of each."""
    common = one.keys() & other.keys()
    return sum(map(min, map(one.__getitem__, common), map(other.__getitem__, common)))


def may_reach(length_a: int, length_b: int, shared_grams: int, threshold: float, q: int = 2) -> bool:
    """False only when ``SequenceMatcher(None, a, b).ratio()`` is certainly below ``threshold``.

    The ratio is ``2 * M / (|a| + |b|)``, where the ``M`` matched characters form a common
    subsequence, so ``M <= L``, the longest one's length. Bounds on ``L``:

    - ``L <= min(|a|, |b|)`` (difflib's ``real_quick_ratio``);
    - with the number ``G`` of q-grams (q adjacent characters) the texts share, as multisets:
      ``L <= (G + (q - 1)(|a| + |b| + 1)) // (2q - 1)``. Of the ``|a| - q + 1`` q-grams of ``a``,
      each one not matched in ``b`` holds one of the ``|a| - L`` characters of ``a`` left out of
      the subsequence (each is in at most q q-grams) or spans one of the at most ``|b| - L``
      places where ``b`` has characters in between (each spanned by at most q - 1), so
      ``G >= |a| - q + 1 - q(|a| - L) - (q - 1)(|b| - L)`` (Ukkonen's q-gram lemma, for
      insertions and deletions). For q = 1 it is difflib's ``quick_ratio``; q = 2 (letter pairs)
      tells apart sentences made of the same letters.

    The bound becomes a ratio as difflib computes one (``2.0 * n / total``), so the comparison
    with ``threshold`` can never reject a pair whose ratio reaches it.
    """
    total = length_a + length_b
    if not total:
        return True
    bound = min(length_a, length_b, (shared_grams + (q - 1) * (total + 1)) // (2 * q - 1))
    return 2.0 * bound / total >= threshold
