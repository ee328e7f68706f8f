"""The repetition checks' cheap bounds: they never reject a pair difflib would match, so the findings
are exactly those of the unfiltered comparison, on generated transcripts and on the demo data."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.models import SessionDetail
from session_mcp.qa import checks
from session_mcp.qa.checks import CheckConfig, Subject, run_checks
from session_mcp.qa.similarity import Said, common, may_reach, most_similar, normalize
from session_mcp.simulator import Simulator
from tests.helpers import ROOT, make_session

# Few letters and spaces: near-repeats, shuffles and shared pairs are common, as in a stuck loop.
TEXT = st.text(alphabet="abc d", min_size=0, max_size=60)
THRESHOLD = st.floats(min_value=0.05, max_value=1.0)


def unfiltered(said: Said, recent: Sequence[Said], threshold: float) -> tuple[int | None, float]:
    """The comparison as it was before the bounds: difflib alone, for every earlier turn."""
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(said.text)
    for other in reversed(recent):
        matcher.set_seq1(other.text)
        if matcher.real_quick_ratio() >= threshold and matcher.quick_ratio() >= threshold:
            ratio = matcher.ratio()
            if ratio >= threshold:
                return other.index, ratio
    return None, 0.0


def longest_common(a: str, b: str) -> int:
    """The longest common subsequence's length, by the textbook dynamic programme."""
    row = [0] * (len(b) + 1)
    for x in a:
        previous = 0
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], previous + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


# Profiled letters, digits, accents, other scripts and characters outside the basic plane.
ANY_TEXT = st.text(alphabet="ab 7\u00e9\u00df\u4e2d\U0001f600", min_size=0, max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.one_of(TEXT, ANY_TEXT), st.one_of(TEXT, ANY_TEXT), THRESHOLD)
def test_the_bound_is_the_longest_common_subsequence_and_never_rejects_a_pair_that_reaches(
    a: str, b: str, threshold: float
) -> None:
    assert common(a, b) == longest_common(a, b)
    if difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold:
        assert may_reach(len(a), len(b), common(a, b), threshold)


@settings(max_examples=200, deadline=None)
@given(st.one_of(TEXT, ANY_TEXT), st.lists(st.one_of(TEXT, ANY_TEXT), max_size=checks.RECENT_TURNS), THRESHOLD)
def test_most_similar_is_the_unfiltered_answer(text: str, earlier: list[str], threshold: float) -> None:
    recent = [Said(i, other) for i, other in enumerate(earlier)]
    said = Said(len(earlier), text)
    assert most_similar(said, recent, threshold) == unfiltered(said, recent, threshold)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.text(alphabet=st.characters(max_codepoint=127)), st.text(alphabet="Aa _-.\t\x1c\u00c9\u017f\u0130"))
)
def test_ascii_text_is_normalized_as_the_regular_expression_does(text: str) -> None:
    """The bytes path for ASCII text gives what the regular expression gives (the path for all text)."""
    assert normalize(text) == re.sub(r"[\W_]+", " ", text.casefold()).strip()


def test_the_bound_tells_different_sentences_apart_where_quick_ratio_cannot() -> None:
    """Same letters, other words, or halves swapped: difflib's ``quick_ratio`` lets them through, the bound does not."""
    for a, b in [
        ("a gentleman", "elegant man"),
        ("my order is late. i want a refund.", "i want a refund. my order is late."),
    ]:
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        assert matcher.real_quick_ratio() == matcher.quick_ratio() == 1.0
        assert matcher.ratio() < 0.9
        assert not may_reach(len(a), len(b), common(a, b), 0.9)
    assert may_reach(11, 11, common("a gentleman", "a gentleman"), 1.0)  # a text reaches itself


REPEATING = st.lists(
    st.tuples(st.sampled_from(["agent", "user"]), st.text(alphabet="abcd ", min_size=18, max_size=50)),
    min_size=2,
    max_size=24,
)


@settings(max_examples=60, deadline=None)
@given(REPEATING, st.floats(min_value=0.5, max_value=1.0))
def test_generated_transcripts_get_the_findings_of_the_unfiltered_checks(
    turns: list[tuple[str, str]], similarity: float
) -> None:
    session = make_session(*[(role, text, float(i)) for i, (role, text) in enumerate(turns)])
    _findings_both_ways(session, similarity)  # asserts the two agree


def test_the_demo_data_gets_the_findings_of_the_unfiltered_checks() -> None:
    simulator = Simulator(api_keys={"demo": 7}, anchor=1_790_000_000)
    sessions = [SessionDetail.model_validate(s) for s in simulator.sessions_of("demo")]
    flagged = sum(_findings_both_ways(s, 0.9) for s in sessions)
    assert flagged > 0  # the demo data holds repetitions: the comparison was exercised


def _findings_both_ways(session: SessionDetail, similarity: float) -> int:
    """How many repetition findings ``session`` has; the same with the bounds and without them."""
    options = checks.RepetitionOptions(similarity=similarity, min_chars=1)
    config = CheckConfig(agent_repetition=options, user_repetition=options)
    fast = run_checks(Subject.of(session), config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "most_similar", unfiltered)
        slow = run_checks(Subject.of(session), config)
    assert fast == slow
    return sum(1 for f in fast if f.check.endswith("_repetition"))


def test_rapidfuzz_is_imported_at_the_first_comparison_not_at_start_up() -> None:
    """~10 ms a host would wait for at every start: only the repetition checks need it."""
    code = (
        "import sys; import session_mcp.server; print('rapidfuzz' in sys.modules); "
        "from session_mcp.qa.similarity import common; common('ab', 'ba'); print('rapidfuzz' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "True"]
