"""How alike two turns are, cheaply: the repetition checks' similarity, exact and fast.

``most_similar`` answers what ``difflib.SequenceMatcher.ratio`` would, but runs difflib only on a
pair that ``may_reach`` the threshold by bounds that never reject a pair that reaches it: the
lengths, then the longest common subsequence (computed in C by rapidfuzz, under a microsecond a
pair). difflib's matched characters are a common subsequence, so its ratio is at most that one's:
different sentences, even of the same letters or with their halves swapped, never reach difflib.
Pure: no session, no finding.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Sequence

_NOT_WORD = re.compile(r"[\W_]+")


# ASCII letters and digits as they are, every other byte a space: ``_NOT_WORD`` for ASCII text.
_ASCII_WORD = bytes(c if chr(c).isalnum() and c < 128 else 32 for c in range(256))


def normalize(text: str) -> str:
    """Text compared for repetition: case folded, punctuation and runs of spaces as one space.

    ASCII text (most turns) is folded as bytes, in C: a sixth of the regular expression's time.
    """
    if text.isascii():
        return b" ".join(text.encode().lower().translate(_ASCII_WORD).split()).decode()
    return _NOT_WORD.sub(" ", text.casefold()).strip()


class Said:
    """A turn's compared text and where it was said."""

    __slots__ = ("index", "text")

    def __init__(self, index: int, text: str) -> None:
        self.index = index
        self.text = text


def most_similar(said: Said, recent: Sequence[Said], threshold: float) -> tuple[int | None, float]:
    """The most recent earlier turn at least ``threshold`` similar to ``said``, and the ratio.

    difflib works only on a pair that ``may_reach`` the threshold, by the texts' lengths and then
    by their longest common subsequence: most pairs of different sentences are told apart in a microsecond.
    """
    text = said.text
    size = len(text)
    matcher: difflib.SequenceMatcher[str] | None = None
    for other in reversed(recent):
        other_size = len(other.text)
        total = size + other_size
        if total and 2.0 * min(size, other_size) / total < threshold:  # real_quick_ratio, as difflib computes it
            continue
        if not may_reach(other_size, size, common(text, other.text), threshold):
            continue
        if matcher is None:
            matcher = difflib.SequenceMatcher(None, "", text, autojunk=False)
        matcher.set_seq1(other.text)
        ratio = matcher.ratio()  # difflib's own quick bounds would repeat the ones above
        if ratio >= threshold:
            return other.index, ratio
    return None, 0.0


def common(one: str, other: str) -> int:
    """The length of the longest common subsequence of two texts (rapidfuzz's Indel distance, in C)."""
    return (len(one) + len(other) - _indel_distance()(one, other)) // 2


@functools.cache
def _indel_distance() -> Callable[[str, str], int]:
    """rapidfuzz's Indel distance, imported at the first comparison (~10 ms to import), not at start-up."""
    from rapidfuzz.distance import Indel

    return Indel.distance


def may_reach(length_a: int, length_b: int, longest: int, threshold: float) -> bool:
    """False only when ``SequenceMatcher(None, a, b).ratio()`` is certainly below ``threshold``.

    The ratio is ``2 * M / (|a| + |b|)``, where the ``M`` matched characters form a common
    subsequence (difflib's blocks are in order in both texts), so ``M <= L``, the ``longest``
    one's length, and ``L <= min(|a|, |b|)``. The bound becomes a ratio as difflib computes one
    (``2.0 * n / total``), so the comparison can never reject a pair whose ratio reaches it.
    """
    total = length_a + length_b
    if not total:
        return True
    return 2.0 * min(length_a, length_b, longest) / total >= threshold
