"""Team rules: the TOML file, phrase rules with their scope, errors that name the rule, bounded patterns."""

from __future__ import annotations

import codecs
import re
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_mcp.qa import rules as rules_module
from session_mcp.qa.patterns import (
    MAX_STEPS,
    REWRITE_EXAMPLE,
    WINDOW,
    PatternError,
    compile_bounded,
    search,
    worst_case_steps,
)
from session_mcp.qa.rules import RulesError, RuleSet, load_rules, parse_rules
from session_mcp.sessions.redact import redact_session
from tests.helpers import ROOT, make_session

DISCLOSURE = """
[[rules]]
id = "recording_disclosure"
type = "required_phrase"
phrase = "this call is recorded"
within_agent_turns = 2
severity = "critical"
"""


def checks_of(rule_set: RuleSet, *turns: tuple[str, str, float], **fields: object) -> list[str]:
    return [f.check for f in rule_set.review(make_session(*turns, **fields))]


def test_the_documented_example_is_a_valid_rules_file() -> None:
    lines = (rules_module.__doc__ or "").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("    "))
    end = next((i for i, line in enumerate(lines[first:]) if line and not line.startswith("    ")), len(lines))
    example = textwrap.dedent("\n".join(lines[first : first + end]))
    rule_set = parse_rules(example, "docstring")
    assert [r.id for r in rule_set.rules] == ["recording_disclosure", "refund_promise"]
    assert rule_set.checks.slow_response.seconds == 8
    assert not rule_set.checks.long_silence.enabled
    assert "long_silence" not in rule_set.check_ids and "refund_promise" in rule_set.check_ids


def test_thresholds_change_the_built_in_checks() -> None:
    slow = (("user", "Hello?", 1), ("agent", "Hi!", 8))
    assert "slow_response" in checks_of(RuleSet(), *slow)
    relaxed = parse_rules('[checks.slow_response]\nseconds = 8\nseverity = "info"')
    assert "slow_response" not in checks_of(relaxed, *slow)
    stricter = parse_rules("[checks.slow_response]\nseconds = 1.5")
    [finding] = [f for f in stricter.review(make_session(("user", "Hello?", 1), ("agent", "Hi!", 3))) if f.turn_index]
    assert finding.check == "slow_response" and "limit 1.5 s" in finding.message
    off = parse_rules("[checks.slow_response]\nenabled = false")
    assert "slow_response" not in checks_of(off, *slow)


def test_required_phrase_within_the_first_agent_turns() -> None:
    rule_set = parse_rules(DISCLOSURE)
    said_first = (("agent", "Hi! This call is recorded for quality.", 1), ("user", "Fine.", 3), ("agent", "Ok.", 4))
    assert checks_of(rule_set, *said_first) == []
    said_second = (("agent", "Hi!", 1), ("user", "Hi", 2), ("agent", "Note: this  CALL is recorded.", 3))
    assert checks_of(rule_set, *said_second) == []
    said_too_late = (
        ("agent", "Hi!", 1),
        ("user", "Hello", 2),
        ("agent", "How can I help?", 3),
        ("user", "My order", 4),
        ("agent", "By the way, this call is recorded.", 5),
    )
    [finding] = rule_set.review(make_session(*said_too_late))
    assert (finding.check, finding.severity, finding.turn_index) == ("recording_disclosure", "critical", None)
    assert finding.message == "The first 2 agent turns never say 'this call is recorded'."
    whole_words_only = (("agent", "This call is recordedness.", 1), ("user", "Ok", 2), ("agent", "Bye!", 3))
    assert checks_of(rule_set, *whole_words_only) == ["recording_disclosure"]


def test_required_phrase_skips_sessions_without_agent_turns() -> None:
    rule_set = parse_rules(DISCLOSURE)
    assert "recording_disclosure" not in checks_of(rule_set, ("user", "Hello?", 1))


def test_scope_by_companion_and_tags() -> None:
    scoped = parse_rules(DISCLOSURE + 'companion_ids = ["comp_support"]\ntags = ["channel=phone", "channel=sip"]')
    turns = (("agent", "Hi!", 1), ("user", "Hello, my order please.", 2), ("agent", "Sure.", 3))
    assert checks_of(scoped, *turns, tags={"channel": "phone"}) == ["recording_disclosure"]
    assert checks_of(scoped, *turns, tags={"channel": "sip", "env": "prod"}) == ["recording_disclosure"]
    assert checks_of(scoped, *turns, tags={"channel": "web"}) == []
    assert checks_of(scoped, *turns) == []  # no tags at all
    assert checks_of(scoped, *turns, tags={"channel": "phone"}, companionId="comp_sales") == []


def test_forbidden_phrase_on_agent_text_by_default_and_on_user_text_when_asked() -> None:
    agent_only = parse_rules(
        '[[rules]]\nid = "refund_promise"\ntype = "forbidden_phrase"\n'
        'pattern = "\\\\bguarantee(?:d)? (?:a|your) refund"\nmessage = "Refunds are never guaranteed."'
    )
    turns = (
        ("user", "Can you guarantee a refund?", 1),
        ("agent", "Yes, we " + "really " * 40 + "guaranteed your refund, no worries.", 2),
    )
    [finding] = agent_only.review(make_session(*turns))
    assert finding.turn_index == 1 and finding.message == "Refunds are never guaranteed."
    assert finding.evidence.count("guaranteed your refund") == 1 and len(finding.evidence) <= 200
    both = parse_rules(
        '[[rules]]\nid = "swearing"\ntype = "forbidden_phrase"\nphrase = "damn"\nroles = ["agent", "user"]'
    )
    assert [f.turn_index for f in both.review(make_session(("user", "Damn it", 1), ("agent", "Damn.", 2)))] == [0, 1]
    assert not both.review(make_session(("user", "Amsterdam", 1), ("agent", "Dammit", 2)))  # whole words only


def test_forbidden_phrase_matches_the_redacted_text_when_redaction_is_on() -> None:
    rule_set = parse_rules('[[rules]]\nid = "email_read_back"\ntype = "forbidden_phrase"\npattern = "@example\\\\.com"')
    session = make_session(("user", "Hi", 0), ("agent", "I have you as ana@example.com.", 1))
    assert {f.check for f in rule_set.review(session)} == {"email_read_back", "pii_exposed"}
    shown = {f.check for f in rule_set.review(session, redact_session(session))}
    assert shown == {"pii_exposed"}


BAD_FILES = [
    ("a = ", "not valid TOML"),
    ("[reports]\nx = 1", "unknown table 'reports'"),
    ("checks = 3", "'checks' must be a table"),
    ("[checks.slowness]\nseconds = 1", "[checks.slowness]: no such check"),
    ("[checks.slow_response]\nseconds = -1", "[checks.slow_response] seconds: Input should be greater than 0"),
    ('[checks.slow_response]\nseconds = "8"', "[checks.slow_response] seconds: Input should be a valid number"),
    ("[checks.slow_response]\nsecs = 8", "[checks.slow_response] unknown field 'secs'"),
    ("[checks.agent_repetition]\nsimilarity = 1.5", "[checks.agent_repetition] similarity"),
    ('[checks.pii_exposed]\nseverity = "high"', "[checks.pii_exposed] severity"),
    ("rules = 1", "'rules' must be an array of tables"),
    ('[[rules]]\ntype = "forbidden_phrase"\nphrase = "x"', "rules[0]: id: Field required"),
    ('[[rules]]\nid = "Bad-Id"\ntype = "forbidden_phrase"\nphrase = "x"', "rule 'Bad-Id': id must be snake_case"),
    ('[[rules]]\nid = "x"\ntype = "forbidden"\nphrase = "x"', "rule 'x': type: Input should be"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"', "rule 'x': give either 'phrase'"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "a"\npattern = "b"', "rule 'x': give either"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "(a+)+"', "rule 'x': pattern: the pattern could take"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "a.*b.*c"', "rule 'x': pattern: the pattern could"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "(a)\\\\1"', "rule 'x': pattern: backreferences"),
    (
        '[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "a*"',
        "rule 'x': pattern: the pattern can match empty",
    ),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "(?:)"', "pattern: the pattern can match empty text"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "\\\\b"', "pattern: the pattern can match empty text"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "   "', "rule 'x': phrase is blank"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "a"\nroles = "agent"', "roles: must be an array, e.g."),
    ('[checks.failed_session]\nnormal_close_reasons = "done"', "normal_close_reasons: must be an array"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "(unclosed"', "rule 'x': pattern: not a valid regular"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "(?x) a b"', "rule 'x': pattern: verbose mode"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "' + "a" * 301 + '"', "characters long"),
    ('[[rules]]\nid = "x"\ntype = "required_phrase"\nphrase = "a"\nroles = ["user"]', "'roles' applies to"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "a"\nwithin_agent_turns = 2', "'within_agent_turns'"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "a"\ntags = ["channel"]', "rule 'x': tags: each tag"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "a"\nroles = ["bot"]', "rule 'x': roles.0"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "a"\ncolor = "red"', "rule 'x': unknown field 'color'"),
    ('[[rules]]\nid = "pii_exposed"\ntype = "forbidden_phrase"\nphrase = "a"', "already used by a built-in check"),
    ('[[rules]]\nid = "x"\ntype = "forbidden_phrase"\nphrase = "a"\n' * 2, "rule 'x': id is already used by another"),
    ('[checks."a\\nb"]\nx = 1', "[checks.a b]: no such check"),  # a quoted key may hold a line break
    (
        '[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "x{4294967295}"',
        "pattern: a repeat count is too large",
    ),
    (
        '[[rules]]\nid = "x"\ntype = "forbidden_phrase"\npattern = "(?\\\\\\n"',
        "pattern: not a valid regular expression",
    ),
    ("[checks.slow_response]\nseconds = 1" + "0" * 5000, "not valid TOML: a number has more than 4,300 digits"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_a_bad_file_gets_an_error_naming_the_rule_and_the_problem(text: str, expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, "team.toml")
    message = str(caught.value)
    assert message.startswith("rules file team.toml: ") and expected in message, message
    assert "\n" not in message


NESTED = {
    "arrays": "a = " + "[" * 5000 + "]" * 5000,
    "inline tables": "a = " + "{b = " * 5000 + "1" + "}" * 5000,
    "tables in arrays": "[checks.slow_response]\nseconds = " + "[{b = " * 3000 + "1" + "}]" * 3000,
}


@pytest.mark.parametrize("text", NESTED.values(), ids=list(NESTED))
def test_a_rules_file_nested_thousands_deep_is_one_clear_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(text)
    for read in (lambda: parse_rules(text, str(path)), lambda: load_rules(path)):
        with pytest.raises(RulesError) as caught:  # not tomllib's RecursionError
            read()
        message = str(caught.value)
        assert message.startswith(f"rules file {path}: ") and "nested too deeply" in message and "\n" not in message


def test_a_rules_file_with_a_byte_order_mark_is_read_as_without_it(tmp_path: Path) -> None:
    text = DISCLOSURE + "[checks.long_silence]\nenabled = false\n"
    path = tmp_path / "bom.toml"
    path.write_bytes(codecs.BOM_UTF8 + text.encode())  # what Notepad writes as "UTF-8 with BOM"
    rule_set = load_rules(path)
    assert [r.id for r in rule_set.rules] == ["recording_disclosure"]
    assert not rule_set.checks.long_silence.enabled
    assert parse_rules("\ufeff" + text).check_ids == parse_rules(text).check_ids


def test_load_rules_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[checks]")
    with pytest.raises(RulesError, match="not UTF-8"):
        load_rules(binary)
    huge = tmp_path / "huge.toml"
    huge.write_text("# " + "x" * (1024 * 1024))
    with pytest.raises(RulesError, match="larger than 1024 KiB"):
        load_rules(huge)
    good = tmp_path / "good.toml"
    good.write_text(DISCLOSURE)
    assert load_rules(good).source == str(good)


# -- bounded patterns ------------------------------------------------------------------------

ACCEPTED = [
    r"credit\s+card\s+number",
    r"\bguarantee\b.*\brefund",
    r"(?:sorry|apologi[sz]e).{0,60}again",
    r"\d{1,6}\s*%",
    r"\w+@\w+\.com",
    r"[^\]]+\]",
    r"(?:ab)+c",
    r"(?i:call) (?P<what>is|may be) recorded(?=\.)",
    REWRITE_EXAMPLE,  # two bounded gaps after a word: few starts get past the word
    r"\bsorry.{0,80}again.{0,80}sorry",
]
ADVERSARIAL = [
    "ab" * WINDOW,
    " " * 3 * WINDOW,
    "1" * 3 * WINDOW,
    "guarantee " * 600,
    "guarantee refund " * 400,
    "sorry again " * 500,
    "credit " + " " * 5000,
    "a" * 6000,
]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_accepted_patterns_stay_fast_on_adversarial_text(pattern: str) -> None:
    compiled = compile_bounded(pattern)
    assert worst_case_steps(pattern) <= MAX_STEPS
    started = time.perf_counter()
    for text in ADVERSARIAL:
        search(compiled, text)
    assert time.perf_counter() - started < 5.0  # loose for a loaded machine; backtracking takes ages


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(a|ab)*c",
        r"a.*b.*c",
        r"a.*b.{0,80}c",
        r"guarantee.*refund.*today",
        r"aa.{0,80}a.{0,80}a.{0,80}a",
        r"\d+\d+x",
        r"(\w+\s?)*$",
        r"(.*)*",
    ],
)
def test_catastrophic_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError, match="too long"):
        compile_bounded(pattern)


def test_the_rewrite_a_refusal_suggests_is_accepted() -> None:
    with pytest.raises(PatternError) as refused:
        compile_bounded("guarantee.*refund.*today")
    suggested = re.search(r"e\.g\. '([^']+)' instead of '([^']+)'", str(refused.value))
    assert suggested is not None and suggested.group(2) == "guarantee.*refund.*today"
    compile_bounded(suggested.group(1))
    qa_page = (ROOT / "docs" / "qa.md").read_text()
    assert f"`{REWRITE_EXAMPLE}`" in qa_page  # the QA page gives the same advice
    compile_bounded(REWRITE_EXAMPLE)


def test_search_finds_matches_in_any_window_and_across_a_boundary() -> None:
    pattern = compile_bounded("needle")
    for at in (0, WINDOW - 3, WINDOW + 10, 5 * WINDOW):
        text = "x" * at + "needle" + "y" * 50
        match = search(pattern, text)
        assert match is not None and match.start() == at
    assert search(pattern, "x" * 10_000) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab()[]{}*+?|\\.^$,0123:=!<>P-xNuiw#s", max_size=24))
def test_any_pattern_is_compiled_or_refused_with_a_reason(pattern: str) -> None:
    try:
        compiled = compile_bounded(pattern)
    except PatternError as exc:
        assert str(exc)
        return
    assert isinstance(compiled, re.Pattern)
    started = time.perf_counter()
    for text in ("ab" * 300, "a" * 600, "\\" * 600, "0" * 600):
        search(compiled, text)
    assert time.perf_counter() - started < 5.0  # backtracking on 600 characters would take ages


@pytest.mark.parametrize(
    "pattern",
    ["x{4294967295}", "x{1,4294967296}", "x{4294967295,}", "{4294967295}", "(?:ab){99999999999999999999}", "x{2001}"],
)
def test_a_huge_repeat_count_is_refused_with_a_reason(pattern: str) -> None:
    with pytest.raises(PatternError) as caught:  # not re's OverflowError
        compile_bounded(pattern)
    assert str(caught.value).startswith(f"a repeat count is too large: write at most {{{WINDOW}}}")
    compile_bounded(f"x{{{WINDOW}}}")  # a turn window's worth is fine


def test_a_regular_expression_error_is_one_line() -> None:
    with pytest.raises(PatternError) as caught:
        compile_bounded("(?\\\n")  # re's message quotes the characters, line break included
    assert "\n" not in str(caught.value) and "unknown extension" in str(caught.value)


# Pieces of regular expressions, big repeat counts among them: random syntax mostly fails to
# compile, but enough of it compiles to reach the structural bound's own parser.
REGEX_TOKENS = [*"ab()[]{}*+?|\\.^$,:=!<>P-#0123456789", "(?", "(?:", "(?P<a>", "(?P=a)", "(?<=", "(?<!", "(?=",
                "(?!", "(?>", "(?#", "(?i)", "(?s:", "(?-i:", "(?a)", "(?(1)", "\\1", "\\N{", "\\x4", "\\u00e9",
                "\\0", "[^", "[]", "\\b", "\\Z", "\\s+", "\\w", "\\d", "[a-z]", ".{0,80}", "*?", "+?", "*+",
                "\u00e9", "\u0130", "\u212a", "\ufeff", "\n", "\x00", "\U0001f600", "\\\n"]  # fmt: skip
REGEX_PIECES = st.one_of(
    st.sampled_from(REGEX_TOKENS),
    st.integers(0, 2**70).map("{{{}}}".format),
    st.tuples(st.integers(0, 2**40), st.integers(0, 2**40)).map(lambda t: f"{{{t[0]},{t[1]}}}"),
    st.integers(0, 2**40).map("{{{},}}".format),
    st.text(max_size=3),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REGEX_PIECES, max_size=40).map("".join))
def test_generated_patterns_compile_or_are_refused_in_one_line(pattern: str) -> None:
    try:
        compiled = compile_bounded(pattern)
    except PatternError as exc:  # the only exception: re's OverflowError and the parser's slips are bugs
        assert str(exc) and len(str(exc).splitlines()) == 1 and len(str(exc)) < 600, str(exc)
        return
    started = time.perf_counter()
    for text in ("ab" * 300, "a" * 600, "\\" * 600, "0" * 600):
        search(compiled, text)
    assert time.perf_counter() - started < 5.0


# Rules files as a hostile tester writes them: any text, deep nesting, numbers of thousands of
# digits, odd Unicode in keys and values, and rules shaped right with hostile fields.
ODD_SCALARS = ["1" + "0" * 5000, "0x" + "f" * 4400, "1e999", "-inf", "nan", "true", "0001-01-01", "07:32:00",
               "9999-12-31T23:59:59-01:00", '"forbidden_phrase"', '"critical"', '["agent"]', '"x{4294967295}"',
               '"a.*b.*c"']  # fmt: skip
FIELDS = ["id", "type", "phrase", "pattern", "severity", "message", "roles", "within_agent_turns", "tags",
          "companion_ids", "enabled", "seconds", "phrases", "normal_close_reasons", "similarity"]  # fmt: skip


def _toml_string(text: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in text) + '"'


def _nested(depth: int, shape: int) -> str:
    opening, closing = [("[", "]"), ("{a = ", "}"), ("[{a = ", "}]")][shape]
    return opening * depth + "1" + closing * depth


def _table(header: str, pairs: list[tuple[str, str]]) -> str:
    return header + "\n" + "".join(f"{key} = {value}\n" for key, value in pairs)


_texts = st.text(max_size=20)
_scalars = st.one_of(_texts.map(_toml_string), st.integers(-(2**70), 2**70).map(str), st.sampled_from(ODD_SCALARS))
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
    st.builds(_nested, st.integers(1, 3000), st.integers(0, 2)),
)
_pairs = st.lists(
    st.tuples(st.sampled_from(FIELDS) | _texts.map(_toml_string), _values), max_size=5, unique_by=lambda kv: kv[0]
)
_headers = st.one_of(
    st.just("[[rules]]"),
    st.sampled_from(["slow_response", "long_silence", "pii_exposed", "nope"]).map("[checks.{}]".format),
    _texts.map(lambda t: f"[checks.{_toml_string(t)}]"),
)
_rule = st.builds(
    lambda kind, match, pairs: _table(f'[[rules]]\nid = "r"\ntype = "{kind}"\n{match}', pairs),
    st.sampled_from(["forbidden_phrase", "required_phrase"]),
    st.builds("{} = {}".format, st.sampled_from(["phrase", "pattern"]), _texts.map(_toml_string)),
    st.lists(st.tuples(st.sampled_from(["severity", "message", "roles", "tags"]), _values), max_size=2),
)
rules_documents = st.one_of(
    _rule,
    st.lists(st.builds(_table, _headers, _pairs), max_size=3).map("\n".join),
    st.builds(lambda depth, shape: "a = " + _nested(depth, shape), st.integers(1, 5000), st.integers(0, 2)),
    st.integers(1, 3000).map(lambda depth: "a" + ".a" * depth + " = 1"),
    st.text(max_size=200),
)


def _outcome(path: Path) -> tuple[str, ...]:
    """What ``load_rules`` makes of the file: the ids it reviews with, or its one error line."""
    try:
        return load_rules(path).check_ids
    except RulesError as exc:  # the only exception it raises
        message = str(exc)
        assert message.startswith(f"rules file {path}: ") and len(message.splitlines()) == 1, message
        assert len(message) < 1_000, message
        return ("error", message)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(document=rules_documents | st.binary(max_size=200))
def test_any_rules_file_is_read_or_refused_in_one_line(document: str | bytes, tmp_path: Path) -> None:
    path = tmp_path / "team.toml"
    raw = document if isinstance(document, bytes) else document.encode("utf-8", "surrogatepass")
    path.write_bytes(raw)
    outcome = _outcome(path)
    if not raw.startswith(codecs.BOM_UTF8):
        path.write_bytes(codecs.BOM_UTF8 + raw)
        assert _outcome(path) == outcome  # a byte-order mark changes nothing


def test_the_readme_example_is_a_valid_rules_file() -> None:
    qa_page = (ROOT / "docs" / "qa.md").read_text()
    example = qa_page.split("```toml\n", 1)[1].split("```", 1)[0]
    rule_set = parse_rules(example, "docs/qa.md")
    assert [r.id for r in rule_set.rules] == ["recording_disclosure", "refund_promise"]
    assert rule_set.checks.failed_session.normal_close_reasons[-1] == "user_hung_up"
