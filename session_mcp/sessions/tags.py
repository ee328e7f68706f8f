"""Tags as people and models write them: ``"key=value"`` strings, one pair each.

One parser for the tools and the command line, so ``--tag channel=web`` and
``tags=["channel=web"]`` mean the same. The key is everything before the first ``=``; the value
may itself hold ``=`` and may be empty. Errors name the pair by position, never by value (a
value may be anything, the API key pasted by mistake included); the caller adds how to write one.
"""

from __future__ import annotations

from collections.abc import Iterable


def parse_tag_pairs(pairs: Iterable[object]) -> dict[str, str]:
    """The pairs as a mapping; ``ValueError`` naming the first pair that is not ``key=value``."""
    tags: dict[str, str] = {}
    for number, pair in enumerate(pairs, start=1):
        key, sep, value = pair.partition("=") if isinstance(pair, str) else ("", "", "")
        if not sep or not key:
            raise ValueError(f"tag {number} is not a 'key=value' string")
        if tags.get(key, value) != value:
            raise ValueError(f"tag {number} repeats an earlier key with another value")
        tags[key] = value
    return tags
