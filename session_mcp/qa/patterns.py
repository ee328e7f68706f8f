"""Regular expressions from a rules file, bounded so that no rule can hang a QA run.

Python's ``re`` cannot be interrupted: one search of ``a.*b.*c`` over 2,000 characters takes
seconds, ``(a+)+`` forever. So a pattern is accepted only when its worst case is small, and is
matched in windows of bounded size:

- A turn is searched in windows of ``WINDOW`` characters that overlap by ``OVERLAP``: the work
  grows linearly with the text, and a match longer than ``OVERLAP`` that straddles two windows
  can be missed (rules are phrases, not paragraphs).
- Before compiling, the pattern's backtracking is bounded from its structure: a sequence
  multiplies the choices of its parts, alternatives add up, and a repetition of up to ``n`` items
  has ``n + 1`` choices (``*`` and ``+`` count as ``WINDOW``), unless what follows it is a literal
  character it cannot match (``\\s+card``: it never backtracks into another path) or nothing at
  all. A repetition of something that itself has choices multiplies them per repeat (``(a+)+``,
  ``(a|ab)*``): far over the limit. Matching may start at each of ``WINDOW`` positions, unless
  the pattern starts with a literal word: two of its occurrences are at least its period apart
  (``guarantee``: 9), so only ``WINDOW / period`` starts get past it. The pattern is refused when
  the starts times that bound exceed ``MAX_STEPS`` (a few tens of milliseconds at worst).
- A pattern that can match empty text (``a*``, ``(?:)``) is refused: it would flag every turn.
- Backreferences, conditionals and verbose mode are refused; patterns are at most
  ``MAX_PATTERN_CHARS`` long, repeat counts (``{n}``, ``{m,n}``) at most ``WINDOW`` (a longer run
  cannot fit in the text one search sees), and patterns match case-insensitively.

In practice: one unbounded ``.*`` or ``\\s+`` per pattern is fine, and so is any number of
them before a literal; instead of two ``.*``, start with a word and bound the gaps
(``REWRITE_EXAMPLE``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

from session_mcp.companion.sanitize import single_line

WINDOW = 2_000
OVERLAP = 200
MAX_STEPS = 50_000_000
MAX_PATTERN_CHARS = 300
SATURATED = 10**18
FLAGS = re.IGNORECASE
EMPTY_PROBES = ("", " ", "a", "0", ".")  # texts on which an empty match shows (a* and \b alike)
REWRITE_EXAMPLE = "guarantee.{0,80}refund.{0,80}today"  # the shape the refusal suggests; a test compiles it

_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_ZERO_WIDTH_ESCAPES = set("bBAZ")
_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_TOO_MANY_REPEATS = (
    f"a repeat count is too large: write at most {{{WINDOW}}} (a turn is searched {WINDOW:,} characters at a time), "
    "e.g. '.{0,80}'"
)


class PatternError(ValueError):
    """The pattern is refused; the message says why and how to rewrite it."""


def compile_bounded(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled (case-insensitive) once its worst case is known to be small."""
    if not pattern:
        raise PatternError("the pattern is empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"the pattern is {len(pattern)} characters long; the limit is {MAX_PATTERN_CHARS}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)  # '[[' and the like: meant to change meaning
            compiled = re.compile(pattern, FLAGS)
    except re.error as exc:
        raise PatternError(f"not a valid regular expression: {single_line(exc.msg)} at position {exc.pos}") from None
    except OverflowError:  # a repeat count of 2**32 - 1 or more: re cannot even compile it
        raise PatternError(_TOO_MANY_REPEATS) from None
    except FutureWarning as warning:
        raise PatternError(f"ambiguous: {single_line(str(warning))}; escape the character with a backslash") from None
    if compiled.flags & re.VERBOSE:
        raise PatternError("verbose mode (?x) is not supported: write the pattern without it")
    steps = worst_case_steps(pattern)
    if steps > MAX_STEPS:
        shown = "more than 10^18" if steps >= SATURATED else f"about {steps:,}"
        raise PatternError(
            f"the pattern could take too long on a long turn ({shown} steps, limit {MAX_STEPS:,}): start it "
            f"with a word and bound its gaps, e.g. '{REWRITE_EXAMPLE}' instead of 'guarantee.*refund.*today', "
            "and do not repeat a group that repeats or has alternatives, such as '(a+)+' or '(a|ab)*'"
        )
    if any(match is not None and not match.group() for match in map(compiled.search, EMPTY_PROBES)):
        raise PatternError(
            "the pattern can match empty text, so it would flag every turn: make it need at least one character "
            "(e.g. 'a+' instead of 'a*')"
        )
    return compiled


def worst_case_steps(pattern: str) -> int:
    """The structural bound on matching steps over one window (``pattern`` must compile)."""
    tree = _Parser(pattern).parse()
    paths, work = tree.measure()
    prefix = _leading_word(tree)
    starts = min(WINDOW, WINDOW // _period(prefix) + 1) if prefix else WINDOW
    return _cap(WINDOW * len(prefix) + starts * (paths + work))  # trying the word everywhere, then the rest


def _leading_word(tree: _Node) -> str:
    """The ASCII characters every match starts with (after zero-width anchors), lowercased.

    ASCII only: under ``IGNORECASE`` two ASCII characters match the same text only when they are
    equal ignoring case, so the word's period below holds for the text it matches.
    """
    word = ""
    for node in tree.children if tree.kind == "seq" else [tree]:
        if node.kind == "anchor" and not word:
            continue
        if node.kind != "atom" or node.literal is None or not node.literal.isascii():
            break
        word += node.literal.lower()
    return word


def _period(word: str) -> int:
    """The smallest shift at which ``word`` overlaps itself (its length when it never does)."""
    return next(shift for shift in range(1, len(word) + 1) if word[shift:] == word[: len(word) - shift])


def search(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match of ``pattern`` in ``text``, searched window by window."""
    start = 0
    while True:
        match = pattern.search(text, start, start + WINDOW)
        if match is not None or start + WINDOW >= len(text):
            return match
        start += WINDOW - OVERLAP


# -- the structural bound ---------------------------------------------------------------------


@dataclass
class _Node:
    """A piece of a parsed pattern: a sequence, alternatives, a group or an atom."""

    kind: str  # "seq", "alt", "atom", "anchor", "repeat"
    children: list[_Node] = field(default_factory=list)
    literal: str | None = None  # the one character an atom matches, when it is a plain character
    source: str = ""  # an atom's pattern text, to test which characters it matches
    low: int = 0
    high: int = 0

    def measure(self, follow: _Node | None = None, at_end: bool = True) -> tuple[int, int]:
        """(paths, work): how many ways matching may continue past this node from one position,
        and an upper bound on the steps spent in it over all of them."""
        if self.kind == "alt":
            branches = [child.measure(follow, at_end) for child in self.children]
            return _cap(sum(p for p, _ in branches)), _cap(sum(w for _, w in branches))
        if self.kind == "seq":
            paths, work = 1, 0
            for i, child in enumerate(self.children):
                last = i == len(self.children) - 1
                child_paths, child_work = child.measure(follow if last else self.children[i + 1], at_end and last)
                work = _cap(work + paths * child_work)
                paths = _cap(paths * child_paths)
            return paths, work
        if self.kind == "repeat":
            inner_paths, inner_work = self.children[0].measure(None, False)
            work = _cap(inner_work * self.high)
            if inner_paths == 1:
                # Only the longest run goes on when nothing follows or what follows cannot be matched
                # by the repeated character; every shorter run then fails at once.
                if at_end or (self.children[0].kind == "atom" and _disjoint(self.children[0], follow)):
                    return 1, work
                return self.high - self.low + 1, work
            paths = sum(_cap(inner_paths**k) if k < 64 else SATURATED for k in range(self.low, self.high + 1))
            return _cap(paths), _cap(paths * inner_work)
        return 1, 1


def _cap(value: int) -> int:
    return min(value, SATURATED)


def _disjoint(atom: _Node, follow: _Node | None) -> bool:
    """Whether ``follow`` starts with a character ``atom`` cannot match (so no backtracking into it)."""
    char = _first_literal(follow)
    if char is None:
        return False
    return re.fullmatch(atom.source, char, FLAGS | re.DOTALL) is None


def _first_literal(node: _Node | None) -> str | None:
    while node is not None and node.kind == "seq" and node.children:
        node = node.children[0]
    return node.literal if node is not None and node.kind == "atom" else None


class _Parser:
    """A recursive-descent reader of a pattern ``re.compile`` has already accepted."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0

    def parse(self) -> _Node:
        return self._alternatives()

    def _alternatives(self) -> _Node:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.pos += 1
            branches.append(self._sequence())
        return branches[0] if len(branches) == 1 else _Node("alt", branches)

    def _sequence(self) -> _Node:
        items: list[_Node] = []
        while self.pos < len(self.text) and self._peek() not in "|)":
            atom = self._atom()
            if atom is not None:
                items.append(self._repeat(atom))
        return _Node("seq", items)

    def _repeat(self, atom: _Node) -> _Node:
        char = self._peek()
        bounds: tuple[int, int] | None = None
        if char in ("*", "+", "?"):
            self.pos += 1
            bounds = {"*": (0, WINDOW), "+": (1, WINDOW), "?": (0, 1)}[char]
        elif char == "{":
            match = _QUANTIFIER.match(self.text, self.pos)
            if match is not None and (match.group(1) or match.group(2)):  # '{}' is two characters
                self.pos = match.end()
                low = int(match.group(1) or 0)
                high = low if not match.group(2) else (int(match.group(3)) if match.group(3) else WINDOW)
                if max(low, high) > WINDOW:
                    raise PatternError(_TOO_MANY_REPEATS)
                bounds = (low, high)
        if bounds is None:
            return atom
        if self._peek() in ("?", "+"):  # lazy or possessive: the same paths at worst
            self.pos += 1
        return self._repeat(_Node("repeat", [atom], low=min(bounds[0], bounds[1]), high=bounds[1]))

    def _atom(self) -> _Node | None:
        char = self.text[self.pos]
        if char == "(":
            return self._group()
        if char == "[":
            return self._class()
        if char == "\\":
            return self._escape()
        self.pos += 1
        if char in "^$":
            return _Node("anchor")
        if char == ".":
            return _Node("atom", source=".")
        return _Node("atom", literal=char, source=re.escape(char))

    def _group(self) -> _Node | None:
        head = self.text[self.pos : self.pos + 4]
        if head.startswith(("(?P=", "(?(")):
            raise PatternError("backreferences and conditionals are not allowed: match the text itself")
        if head.startswith("(?#"):
            self.pos = self.text.index(")", self.pos) + 1
            return None
        self.pos += 1
        if self._peek() == "?":
            flags = re.match(r"\?[aiLmsux-]*\)", self.text[self.pos :])
            if flags:  # (?i): global flags, nothing to match
                self.pos += flags.end()
                return None
            prefix = re.match(r"\?(?:P<\w+>|<[=!]|[=!:>]|[aiLmsux-]+:)", self.text[self.pos :])
            if prefix is None:
                raise PatternError("uses a group construct the rules do not allow")
            self.pos += prefix.end()
        body = self._alternatives()
        self.pos += 1  # the closing parenthesis
        return body

    def _class(self) -> _Node:
        start = self.pos
        self.pos += 1
        if self._peek() == "^":
            self.pos += 1
        if self._peek() == "]":
            self.pos += 1
        while self.text[self.pos] != "]":
            self.pos += 2 if self.text[self.pos] == "\\" else 1
        self.pos += 1
        return _Node("atom", source=self.text[start : self.pos])

    def _escape(self) -> _Node:
        start = self.pos
        char = self.text[self.pos + 1]
        self.pos += 2
        if char.isdigit() and char != "0":
            raise PatternError("backreferences (\\1, \\2, ...) are not allowed: match the text itself")
        if char in _ZERO_WIDTH_ESCAPES:
            return _Node("anchor")
        lengths = {"x": 2, "u": 4, "U": 8}
        if char in lengths:
            self.pos += lengths[char]
            return _Node(
                "atom", literal=chr(int(self.text[start + 2 : self.pos], 16)), source=self.text[start : self.pos]
            )
        if char == "N":
            self.pos = self.text.index("}", self.pos) + 1
            return _Node("atom", source=self.text[start : self.pos])
        if char == "0":
            self.pos = re.compile(r"[0-7]{0,2}").match(self.text, self.pos).end()  # type: ignore[union-attr]
            return _Node("atom", source=self.text[start : self.pos])
        if char.isalpha() and char not in _SIMPLE_ESCAPES:
            return _Node("atom", source=self.text[start : self.pos])  # a class: \d, \w, \s and their opposites
        return _Node("atom", literal=_SIMPLE_ESCAPES.get(char, char), source=self.text[start : self.pos])

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""
