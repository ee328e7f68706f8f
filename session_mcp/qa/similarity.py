"""How alike two turns are, cheaply: the repetition checks' similarity, exact and fast.

``most_similar`` answers what ``difflib.SequenceMatcher.ratio`` would, but runs difflib only on a
pair that ``may_reach`` the threshold by bounds that never reject a pair that reaches it (lengths,
shared letters, shared letter pairs): most pairs of different sentences are told apart in
microseconds. Pure: no session, no finding.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections import Counter
from collections.abc import Sequence

_NOT_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Text compared for repetition: case folded, punctuation and runs of spaces as one space."""
    return _NOT_WORD.sub(" ", text.casefold()).strip()


# The letters counted one by one in a turn's letter profile; every other character (digits, accents,
# other scripts) is counted together in one more bucket. A bucketed difference is at most the true one.
_PROFILED = "abcdefghijklmnopqrstuvwxyz "


def profile(text: str) -> tuple[int, ...]:
    """How often each of ``_PROFILED`` occurs in ``text``, then how many other characters: counted in C."""
    counts = tuple(map(text.count, _PROFILED))
    return (*counts, len(text) - sum(counts))


class Said:
    """A turn's compared text; its letter profile and letter pairs, counted the first time a comparison needs them."""

    __slots__ = ("_pairs", "_profile", "index", "text")

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        self.text = text
        self._profile: tuple[int, ...] | None = None
        self._pairs: Counter[str] | None = None

    @property
    def profile(self) -> tuple[int, ...]:
        if self._profile is None:
            self._profile = profile(self.text)
        return self._profile

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
            may_reach(other_size, size, (total - differ(said.profile, other.profile)) // 2, threshold, 1)
            and may_reach(other_size, size, shared(other.pairs, said.pairs), threshold, 2)
        ):
            continue
        if matcher is None:
            matcher = difflib.SequenceMatcher(None, "", text, autojunk=False)
        matcher.set_seq1(other.text)
        ratio = matcher.ratio()  # difflib's own quick bounds would repeat the ones above
        if ratio >= threshold:
            return other.index, ratio
    return None, 0.0


def differ(one: tuple[int, ...], other: tuple[int, ...]) -> int:
    """At most how many letters two texts do not share, from their profiles: difflib's ``quick_ratio`` in C.

    Two texts share ``(total - D) / 2`` letters, ``D`` the sum of each letter's count difference;
    a bucket's difference is at most the sum of its letters' differences, so the profiles' ``D``
    is at most the true one: ``may_reach`` on ``(total - differ) // 2`` shared letters never
    rejects a pair that reaches the threshold.
    """
    return sum(map(abs, map(operator.sub, one, other)))


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
