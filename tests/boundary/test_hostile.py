"""Hostile input, property-based: every tool argument, resource URI, prompt, completion and cursor.

One MCP ``Client`` stays open for the whole module on an event loop in a blocking portal, so
hypothesis drives plain synchronous tests while the server keeps its session. The
``CompanionClient`` talks real HTTP to the simulator, which records the raw path of every request.

The properties, for every input:

- nothing crashes: a tool answers with a result (``isError`` with text for bad input), a
  resource, prompt or cursor with a result or an ``MCPError``; the session keeps working;
- an error reads clearly: no traceback, no pydantic URL, no API key, not the SDK's bare
  "Error executing tool <name>" (the sign of an unexpected exception);
- input that breaks the schema is an error and sends no request at all;
- every request that reaches upstream is ``GET /public/sessions`` (raw path exactly that, each
  query parameter once, the filters exactly as given), ``GET /public/sessions/<one segment>``
  (canonically percent-encoded, decoding to an id that was passed in or that the API listed, with
  no character that could change the path) or ``POST /public/connections``.

Run with ``-s`` to see how many hostile inputs were tried.
"""

from __future__ import annotations

import base64
import functools
import json
import operator
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import CallToolResult, PromptReference, ResourceTemplateReference

from session_mcp.companion.models import decode_tags_query
from session_mcp.sessions.tags import parse_tag_pairs
from session_mcp.simulator import RecordedRequest
from tests.helpers import ADVERSARIAL, SwitchableApp, connect, simulator_of, text_of

pytestmark = pytest.mark.anyio

KEY = "sk-live-FAULT-KEY-0001"
INVALID_PARAMS = -32602
SIM = simulator_of({KEY: 7})
REAL_IDS = [s["id"] for s in SIM.sessions_of(KEY)]
TRIED: Counter[str] = Counter()

HYPOTHESIS = settings(ADVERSARIAL, max_examples=300)
# Each generated input runs in one protocol era (2026-07-28 or the legacy handshake), drawn with it,
# so the two eras share the examples. (Run whole in each era, every input went through twice: under
# CI's derandomized profile both eras drew exactly the same inputs.)
ERAS = st.sampled_from(["auto", "legacy"])


# -- the MCP session, kept open for the module ------------------------------------------------


@dataclass
class Env:
    portal: BlockingPortal
    sessions: dict[str, Client]  # one per protocol era
    mcp: Client  # the session of the era in use

    def in_era(self, era: str) -> Env:
        self.mcp = self.sessions[era]
        return self


@pytest.fixture(scope="module")
def eras(upstream: tuple[SwitchableApp, str]) -> Iterator[Env]:
    """One MCP session per protocol era (2026-07-28 and the legacy handshake), open for the module."""
    upstream[0].simulator = SIM
    with (
        start_blocking_portal(backend="asyncio") as portal,  # one task enters and exits each session
        portal.wrap_async_context_manager(connect(upstream[1], mode="auto", key=KEY)) as auto,
        portal.wrap_async_context_manager(connect(upstream[1], mode="legacy", key=KEY)) as legacy,
    ):
        yield Env(portal, {"auto": auto, "legacy": legacy}, auto)
    counts = ", ".join(f"{name} {count}" for name, count in sorted(TRIED.items()))
    print(f"\nhostile inputs tried: {sum(TRIED.values())} ({counts})")


@pytest.fixture
def env(eras: Env, mode: str) -> Env:
    """The module's session of ``mode``'s era: a test that takes it runs in both."""
    return eras.in_era(mode)


@pytest.fixture(autouse=True)
def session_still_works(eras: Env, upstream: tuple[SwitchableApp, str]) -> Iterator[None]:
    """Install the module's simulator; after the test, an ordinary call must answer normally in each era."""
    upstream[0].simulator = SIM
    yield
    for mcp in eras.sessions.values():
        SIM.requests.clear()
        result = eras.portal.call(mcp.call_tool, "list_sessions", {"page_size": 3})
        assert not result.is_error, result.content
        assert [row["id"] for row in result.structured_content["sessions"]] == known_ids()[:3]


def known_ids() -> list[str]:
    return [s["id"] for s in SIM.sessions_of(KEY)]


# -- strategies --------------------------------------------------------------------------------

SPECIALS = ["/", "\\", "?", "#", "%", "%2F", "%2f", "%5C", "%2e%2e", "%00", "%25", "..", ".", "../", "/..", "&",
            "=", ";", ":", "@", "+", " ", "\t", "\n", "\r", "\x00", "\x01", "\x1b", "\x7f", "\x85", "\u2028", "*",
            "~", "'", '"', "<", ">", "{", "}", "|", "^", "`", "[", "]", "$", "!", ","]  # fmt: skip
CONFUSABLES = ["\uff0f", "\u2215", "\u2044", "\u29f8", "\u2571", "\uff3c", "\u2216", "\ufe68", "\uff1f", "\uff03",
               "\uff05", "\uff0e", "\u2024", "\u202e", "\u202d", "\u200b", "\u200d", "\ufeff", "\u00a0", "\u0338",
               "\u0130", "\u212a", "e\u0301", "\U0001f511"]  # fmt: skip
JSON_LOOKING = ["null", "[]", "{}", '["x"]', '{"a": "b"}', "true", "0", "1e309", "-0", '"quoted"']
HAND_PICKED = ["../x", "..", ".", "./", "a/../b", "/", "//", "a/b", "x?y=1", "x#y", "%2e%2e%2fx", "..%2f", "%2F",
               "%252F", "sess 1", "sess\n1", "a\\b", "", "s" * 257, "s" * 10_000, "\x00", "sess\x00",
               "\uff0f\uff0e\uff0e", "\u2215etc\u2215passwd", "\u202esess", "?", "#", "%", "%00", "sess_abc%2F..",
               "sess_abc/", "/sess_abc", "sess_abc?", "sess_abc#frag", ";sess", "sess;x=1", "http://evil.example/",
               "@evil", " sess", "sess ", "\tsess", "public/connections", "../connections",
               REAL_IDS[0] + "/../" + REAL_IDS[1]]  # fmt: skip

fragment = st.one_of(st.sampled_from(SPECIALS + CONFUSABLES), st.sampled_from(REAL_IDS[:20]), st.text(max_size=6))
hostile_text = st.one_of(
    st.sampled_from(HAND_PICKED + JSON_LOOKING),
    st.lists(fragment, min_size=1, max_size=6).map("".join),
    st.builds(
        operator.mul,
        st.sampled_from(["a", "/", "\u00e9", "\uff0f", "%", "..", "\u202e", "\U0001f511", "=,"]),
        st.integers(200, 10_000),
    ),
    st.text(max_size=40),  # hypothesis leaves out lone surrogates: JSON transports cannot carry them
)
session_id_text = st.one_of(hostile_text, st.sampled_from(REAL_IDS))
# No NaN or Infinity: JSON has no such numbers (the SDK's client sends them as null).
json_scalar = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()
)
json_value = st.recursive(
    json_scalar | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def blank(value: Any) -> bool:
    """What the server reads as "not given": null, "", [] or {}, also as JSON text."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return False
    return value is None or value in ("", [], {})


non_integral = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
lists_and_objects = st.one_of(
    st.lists(json_scalar, max_size=3), st.dictionaries(st.text(max_size=5), json_scalar, max_size=3)
)
not_a_string = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), lists_and_objects
)
TAG_KEYS = ["", "=", ",", ":", "{}", "{", "}", "a=b", "a:b,c:d", "channel", "\u202e", "\u043a\u043b\u044e\u0447",
            "\U0001f511", "k" * 1000, "\x00", "a&b", "%2F", '"', "\\", "tags", "pageSize"]  # fmt: skip
tag_text = st.one_of(st.sampled_from(TAG_KEYS), st.text(max_size=20))
not_a_tag_value = st.one_of(
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.text(max_size=2), max_size=2),
)


@dataclass(frozen=True)
class Kind:
    """An argument: values that must be accepted, values that must be refused, values either way."""

    valid: st.SearchStrategy[Any]
    wrong: st.SearchStrategy[Any]
    lax: st.SearchStrategy[Any] | None = None  # accepted or refused: the SDK's lax coercions
    required: bool = False


def integer(low: int, high: int | None, *, valid_up_to: int | None = None) -> Kind:
    """An int in [low, high]; ``valid_up_to`` keeps valid draws cheap (a limit of 2000 reads 2000 sessions)."""
    top = valid_up_to if valid_up_to is not None else high if high is not None else low + 1_000
    out_of_range = [st.integers(-(2**70), low - 1), st.sampled_from([low - 1, -(2**63), -1])]
    if high is not None:
        out_of_range += [st.integers(high + 1, 2**70), st.sampled_from([high + 1, 2**63, 2**64])]
    return Kind(
        valid=st.integers(low, top),
        wrong=st.one_of(
            *out_of_range,
            st.booleans(),
            lists_and_objects,
            non_integral,
            st.sampled_from(["abc", "ten", "1.5", "--1", "0x10", "[1]", '{"a": 1}']),
        ).filter(lambda v: not blank(v) and not (isinstance(v, int) and low <= v <= (high if high is not None else v))),
        lax=st.integers(low, top).map(str),  # a digit string may be read as the number
    )


TEXT_WRONG = not_a_string.filter(lambda v: not blank(v))


def text_kind(*, required: bool = False) -> Kind:
    wrong = st.one_of(not_a_string, st.none()) if required else TEXT_WRONG
    return Kind(valid=hostile_text, wrong=wrong, required=required)


FILTERS = {"companion_id": text_kind(), "external_client_id": text_kind(), "search": text_kind()}
tag_pair = st.builds("{}={}".format, tag_text.filter(lambda k: k and "=" not in k), tag_text)
TAGS = Kind(
    valid=st.one_of(
        st.none(),
        st.dictionaries(tag_text, tag_text, max_size=4),
        st.lists(tag_pair, max_size=4, unique_by=lambda p: p.partition("=")[0]),
    ),
    wrong=st.one_of(
        st.integers(),
        st.lists(st.text(max_size=3).filter(lambda t: not t.partition("=")[0]), min_size=1, max_size=3),
        st.lists(tag_pair, min_size=21, max_size=22),
        st.sampled_from(["web", "channel=web", "channel:web"]),
        st.dictionaries(tag_text, not_a_tag_value, min_size=1, max_size=3),
    ),
)
AGENT_IDS = ["agent_support", "agent_sales", "agent_nobody"]
JSON_OBJECT = Kind(
    valid=st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=10), json_value, max_size=3),
        st.dictionaries(st.text(max_size=10), json_value, max_size=3).map(json.dumps),
    ),
    wrong=st.one_of(
        st.integers(),
        st.lists(st.integers(), min_size=1, max_size=2),
        st.sampled_from(["instructions", "[1]", '"x"', "{", "1e999"]),
    ),
)
BOOL_WRONG = st.one_of(
    lists_and_objects.filter(lambda v: not blank(v)),
    st.sampled_from(["maybe", "2", "truthy", "yes please"]),
    st.integers().filter(lambda i: i not in (0, 1)),
    non_integral,
)
SPECS: dict[str, dict[str, Kind]] = {
    "list_sessions": {
        **FILTERS,
        "tags": TAGS,
        "page_index": integer(0, 1_000_000),
        "page_size": integer(1, 100),
    },
    "list_companions": {
        "status": Kind(
            valid=st.one_of(st.none(), hostile_text, st.lists(hostile_text, max_size=10)),
            wrong=st.one_of(
                st.integers(),
                st.lists(hostile_text, min_size=11, max_size=12),
                st.lists(not_a_string | st.none(), min_size=1, max_size=2),
            ),
        ),
        "search": text_kind(),
        "tags": TAGS,
        "page_index": integer(0, 1_000_000),
        "page_size": integer(1, 100),
    },
    "list_agents": {"page_index": integer(0, 1_000_000), "page_size": integer(1, 100)},
    "get_session_transcript": {
        "session_id": Kind(valid=session_id_text, wrong=st.one_of(not_a_string, st.none()), required=True),
        "offset": integer(0, None, valid_up_to=2**63),
        "limit": integer(1, 1_000),
    },
    "get_session_transcripts": {
        "session_ids": Kind(
            valid=st.one_of(st.none(), st.lists(session_id_text, max_size=5)),
            wrong=st.one_of(
                st.integers(),
                st.sampled_from(["sess_x", "a/b"]),
                st.dictionaries(st.text(max_size=3), st.text(max_size=3), min_size=1, max_size=2),
                st.lists(not_a_string | st.none(), min_size=1, max_size=3),
                st.lists(st.sampled_from(REAL_IDS), min_size=101, max_size=101),
            ),
        ),
        **FILTERS,
        "tags": TAGS,
        "limit": integer(1, 100, valid_up_to=4),
        "max_message_chars": integer(50, 20_000),
    },
    "session_stats": {
        **FILTERS,
        "tags": TAGS,
        "limit": integer(1, 2_000, valid_up_to=4),
        "read_transcripts": Kind(
            valid=st.one_of(st.booleans(), st.none()),
            wrong=BOOL_WRONG,
            lax=st.sampled_from([0, 1, "true", "false", "yes", "no", "on", "off"]),
        ),
    },
    "create_connection": {
        "agent_id": Kind(valid=st.one_of(session_id_text, st.sampled_from(AGENT_IDS)), wrong=TEXT_WRONG),
        "channel_type": Kind(
            valid=st.sampled_from([None, "webrtc", "websocket"]),
            wrong=st.one_of(st.sampled_from(["sip", "WebRTC", " webrtc", "voip"]), st.integers(), st.booleans()),
        ),
        "companion_id": text_kind(),
        "voice_id": text_kind(),
        "settings": JSON_OBJECT,
        "external_client_profile": JSON_OBJECT,
        "external_client_id": text_kind(),
        "tags": TAGS,
        "language": text_kind(),
        "knowledge_base_id": text_kind(),
        "functions": Kind(
            valid=st.one_of(st.none(), st.lists(hostile_text, max_size=3)),
            wrong=st.one_of(st.integers(), st.lists(not_a_string, min_size=1, max_size=2)),
        ),
        "faq_collections": Kind(
            valid=st.one_of(st.none(), st.lists(hostile_text, max_size=3)),
            wrong=st.one_of(st.integers(), st.dictionaries(st.text(max_size=2), st.integers(), min_size=1)),
        ),
        "initial_speech": text_kind(),
        "disable_idle_timeout": Kind(valid=st.one_of(st.none(), st.booleans()), wrong=BOOL_WRONG),
    },
}
EXTRA_NAMES = ["ctx", "self", "session_id", "page", "pageIndex", "companionId", "__class__", "", "tags ", "Search",
               "x" * 1000, "api_key", "X-Api-Key", "arguments"]  # fmt: skip


@dataclass
class Call:
    tool: str
    args: dict[str, Any]
    invalid: list[str]  # why the call must be refused without a request; empty = may succeed
    lax: bool  # holds a value the SDK may coerce; no claim either way


@st.composite
def tool_calls(draw: st.DrawFn, tool: str) -> Call:
    spec = SPECS[tool]
    args: dict[str, Any] = {}
    invalid: list[str] = []
    lax = False
    for name, kind in spec.items():
        choice = draw(
            st.sampled_from(["absent", "valid", "valid", "wrong"] + (["lax"] if kind.lax is not None else []))
        )
        if choice == "absent":
            if kind.required:
                invalid.append(f"{name} missing")
        elif choice == "valid":
            args[name] = draw(kind.valid)
        elif choice == "wrong":
            args[name] = draw(kind.wrong)
            invalid.append(f"{name} wrong")
        else:
            args[name] = draw(kind.lax)  # type: ignore[arg-type]
            lax = True
    if draw(st.integers(0, 5)) == 0:
        names = st.one_of(st.sampled_from(EXTRA_NAMES), st.text(max_size=20)).filter(lambda n: n not in spec)
        extras = draw(st.dictionaries(names, json_value, min_size=1, max_size=2))
        args.update(extras)
        invalid.append("unknown argument")
    if tool == "get_session_transcripts" and not invalid and not blank(args.get("session_ids")):
        given = [name for name in (*FILTERS, "tags", "limit") if not blank(args.get(name))]
        if given:
            invalid.append("session_ids with filters or limit")
    return Call(tool, args, invalid, lax)


# -- the checks --------------------------------------------------------------------------------

LIST_PARAMS = {"pageIndex", "pageSize", "companionId", "externalClientId", "search", "tags"}
DIRECTORY_PATHS = ("/public/companions", "/public/agents")
FILTER_PARAMS = {"companion_id": "companionId", "external_client_id": "externalClientId", "search": "search"}
PATH_BREAKERS = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")


def path_safe(session_id: str) -> bool:
    """The documented id contract: nothing in it could change the request path."""
    return 0 < len(session_id) <= 256 and session_id not in (".", "..") and not PATH_BREAKERS.search(session_id)


def clean(text: str, where: str) -> None:
    assert "Traceback" not in text and 'File "' not in text, (where, text)
    assert "errors.pydantic.dev" not in text, (where, text)
    assert KEY not in text, where


def check_upstream(requests: list[RecordedRequest], passed_ids: set[str], filters: dict[str, Any] | None) -> None:
    """Every recorded request is one of the three allowed shapes."""
    known = set(known_ids())
    for request in requests:
        assert request.api_key == KEY
        if request.method == "POST":
            assert request.query == "", request
            if request.raw_path != "/public/connections":
                parts = request.raw_path.split("/")
                assert len(parts) == 5 and parts[:3] == ["", "public", "agents"] and parts[4] == "connections", request
                check_segment(parts[3], passed_ids | set(AGENT_IDS), set())
            continue
        assert request.method == "GET", request
        if request.raw_path == "/public/sessions":
            check_list_query(request.query, filters)
            continue
        if request.raw_path in DIRECTORY_PATHS:  # the directory: paged, filtered by list_companions' own filters
            params = dict(parse_qsl(request.query, keep_blank_values=True))
            assert set(params) <= {"pageIndex", "pageSize", "statuses", "search", "tags"}, request
            assert params["pageIndex"].isdigit() and 1 <= int(params["pageSize"]) <= 100, request
            continue
        parts = request.raw_path.split("/")
        assert len(parts) == 4 and parts[:3] == ["", "public", "sessions"], request.raw_path
        assert request.query == "", request
        check_segment(parts[3], passed_ids, known)


def check_segment(segment: str, passed_ids: set[str], known: set[str]) -> None:
    """One canonically encoded path segment holding a safe id that was passed in or listed."""
    assert segment and not set(segment) & set("/?#"), segment
    decoded = unquote(segment, errors="strict")
    assert quote(decoded, safe="") == segment, f"not canonically encoded: {segment!r}"
    assert path_safe(decoded), f"an id that could change the path reached upstream: {decoded!r}"
    assert decoded in passed_ids or decoded in known, f"an id nobody passed: {decoded!r}"


def check_list_query(query: str, filters: dict[str, Any] | None) -> None:
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"a parameter twice: {query}"
    assert set(names) <= LIST_PARAMS, query
    params = dict(pairs)
    assert params["pageIndex"].isdigit() and params["pageSize"].isdigit(), query
    assert 1 <= int(params["pageSize"]) <= 100
    if filters is None:
        return
    for name, wire in FILTER_PARAMS.items():
        value = filters.get(name)
        if not value:  # None or "": no filter
            assert wire not in params, (name, query)
        else:
            assert params.get(wire) == value, f"{name} {value!r} reached upstream as {params.get(wire)!r}"
    tags = filters.get("tags")
    if isinstance(tags, list) and tags:
        tags = parse_tag_pairs(tags)
    if isinstance(tags, dict) and tags:
        assert decode_tags_query(params["tags"]) == tags, query
    elif not isinstance(tags, str):
        assert "tags" not in params, query


def overlong_query(args: dict[str, Any]) -> bool:
    """Filters whose encoded query passes httpx2's 65,536-character URL component limit."""
    size = sum(len(quote_plus(args[name])) for name in FILTER_PARAMS if isinstance(args.get(name), str))
    tags = args.get("tags")
    if isinstance(tags, list) and all(isinstance(p, str) for p in tags):
        tags = dict(p.partition("=")[::2] for p in tags)
    if isinstance(tags, dict) and all(isinstance(v, str) for v in tags.values()):
        size += len(quote_plus(json.dumps(tags, ensure_ascii=False)))
    return size > 60_000


def run_tool(env: Env, call: Call) -> CallToolResult:
    SIM.requests.clear()
    TRIED[f"tool:{call.tool}"] += 1
    result: CallToolResult = env.portal.call(env.mcp.call_tool, call.tool, call.args)
    requests = list(SIM.requests)
    text = text_of(result)  # one text block, then at most resource links
    clean(text, call.tool)
    if not overlong_query(call.args):  # known crash: test_overlong_filter_is_an_input_error
        assert text.strip() != f"Error executing tool {call.tool}", f"crash on {call.args!r:.300}"
    if call.invalid and not call.lax:
        assert result.is_error, (call.invalid, text[:300])
        assert not requests, (call.invalid, [r.raw_path for r in requests])
        assert len(text) < 2_000, "an error must not echo a long input back"
    ids = {
        "get_session_transcripts": call.args.get("session_ids"),
        "create_connection": [call.args.get("agent_id")],
    }.get(call.tool, [call.args.get("session_id")])
    passed = {i for i in ids if isinstance(i, str)} if isinstance(ids, list) else set()
    check_upstream(requests, passed, None if call.invalid or call.lax else call.args)
    session_id = call.args.get("session_id") if call.tool == "get_session_transcript" else None
    if isinstance(session_id, str) and not path_safe(session_id):
        assert result.is_error and not requests, text[:300]
    return result


# -- tools -------------------------------------------------------------------------------------


@HYPOTHESIS
@given(call=tool_calls("list_sessions"), era=ERAS)
def test_list_sessions_hostile(eras: Env, call: Call, era: str) -> None:
    env = eras.in_era(era)
    run_tool(env, call)


@HYPOTHESIS
@given(call=tool_calls("get_session_transcript"), era=ERAS)
def test_get_session_transcript_hostile(eras: Env, call: Call, era: str) -> None:
    env = eras.in_era(era)
    result = run_tool(env, call)
    session_id = call.args.get("session_id")
    if not result.is_error:
        assert session_id in known_ids()


@settings(HYPOTHESIS, max_examples=200)
@given(call=tool_calls("get_session_transcripts"), era=ERAS)
def test_get_session_transcripts_hostile(eras: Env, call: Call, era: str) -> None:
    env = eras.in_era(era)
    run_tool(env, call)


@settings(HYPOTHESIS, max_examples=200)
@given(call=tool_calls("session_stats"), era=ERAS)
def test_session_stats_hostile(eras: Env, call: Call, era: str) -> None:
    env = eras.in_era(era)
    run_tool(env, call)


@settings(HYPOTHESIS, max_examples=80)
@given(call=tool_calls("list_companions") | tool_calls("list_agents"), era=ERAS)
def test_directory_tools_hostile(eras: Env, call: Call, era: str) -> None:
    env = eras.in_era(era)
    result = run_tool(env, call)
    if not result.is_error:
        rows = (result.structured_content or {}).get(call.tool.removeprefix("list_"))
        size = call.args.get("page_size")
        assert rows is not None and len(rows) <= (size if isinstance(size, int) else 100)


@settings(HYPOTHESIS, max_examples=200)
@given(call=tool_calls("create_connection"), era=ERAS)
def test_create_connection_hostile(eras: Env, call: Call, era: str) -> None:
    env = eras.in_era(era)
    run_tool(env, call)


# -- resources, prompts, completions, cursors --------------------------------------------------

URI_TEMPLATES = ["napster://sessions/{}/transcript", "napster://sessions/{}"]
ODD_URIS = ["", "napster://sessions/", "napster://sessions//transcript", "napster://sessions/../../etc/passwd",
            "file:///etc/passwd", "napster://sessions/%2F/transcript", "NAPSTER://SESSIONS/x", "napster:sessions/x",
            "napster://sessions/x/transcript/extra", "napster://sessions/x?y=1", "napster://sessions/x#frag",
            "napster://sessions/{session_id}", "napster://sessions/%7Bsession_id%7D/transcript"]  # fmt: skip


def expect_mcp_error(env: Env, what: str, call: Any, *args: Any, short: bool = True) -> Any:
    """The result, or ``None`` after an ``MCPError`` that reads clearly; anything else fails."""
    try:
        return env.portal.call(call, *args)
    except MCPError as exc:
        clean(exc.error.message, what)
        assert exc.error.code == INVALID_PARAMS, (what, exc.error.code, exc.error.message)
        assert "Error creating resource" not in exc.error.message, "an unexpected exception in the handler"
        if short and not exc.error.message.startswith("Unknown resource: "):  # the SDK's no-match echoes the URI
            assert len(exc.error.message) < 2_000, "an error must not echo a long input back"
        return None


@HYPOTHESIS
@given(
    value=st.one_of(session_id_text, st.sampled_from(ODD_URIS), st.text(max_size=30)),
    template=st.sampled_from([*URI_TEMPLATES, "{}"]),
    encode=st.booleans(),
    era=ERAS,
)
def test_resource_uris_hostile(eras: Env, value: str, template: str, encode: bool, era: str) -> None:
    env = eras.in_era(era)
    inserted = quote(value, safe="") if encode else value
    uri = template.format(inserted) if template != "{}" else value
    SIM.requests.clear()
    TRIED["resource"] += 1
    result = expect_mcp_error(env, uri, env.mcp.read_resource, uri)
    requests = list(SIM.requests)
    match = re.fullmatch(r"napster://sessions/([^/]*?)(/transcript)?", uri, flags=re.DOTALL)
    passed = {match.group(1), unquote(match.group(1))} if match else set()
    check_upstream(requests, passed, None)
    assert len(requests) <= 1
    if result is not None:
        assert passed & set(known_ids()), f"{uri!r} read a session nobody named"
        clean(result.contents[0].text, uri)


@HYPOTHESIS
@given(session_id=session_id_text, rubric=st.one_of(st.just(""), hostile_text), era=ERAS)
def test_qa_review_prompt_hostile(eras: Env, session_id: str, rubric: str, era: str) -> None:
    env = eras.in_era(era)
    SIM.requests.clear()
    TRIED["prompt:qa_review_transcript"] += 1
    result = expect_mcp_error(
        env,
        "qa_review_transcript",
        env.mcp.get_prompt,
        "qa_review_transcript",
        {"session_id": session_id, "rubric": rubric},
    )
    check_upstream(list(SIM.requests), {session_id}, None)
    if not path_safe(session_id):
        assert result is None and not SIM.requests
    if result is not None:
        assert session_id in known_ids()


@HYPOTHESIS
@given(
    arguments=st.dictionaries(
        st.sampled_from(["companion_id", "count", "window", "since", "until"]),  # unknown: test_prompt_argument_errors
        st.one_of(hostile_text, st.integers(-(2**70), 2**70).map(str)),
        max_size=4,
    ),
    era=ERAS,
)
def test_summarize_prompt_hostile(eras: Env, arguments: dict[str, str], era: str) -> None:
    env = eras.in_era(era)
    SIM.requests.clear()
    TRIED["prompt:summarize_sessions"] += 1
    count = arguments.get("count", "20").strip() or "20"
    short = len(count) < 100  # a long count is echoed whole: test_prompt_count_error_quotes_input_shortened
    result = expect_mcp_error(
        env, "summarize_sessions", env.mcp.get_prompt, "summarize_sessions", arguments, short=short
    )
    assert not SIM.requests, "the summary prompt needs no request"
    windowed = any((arguments.get(name) or "").strip() for name in ("since", "until", "window"))
    if result is not None:
        assert windowed or 1 <= int(count) <= 500  # with a window the count is not used
        assert arguments.get("companion_id", "") in result.messages[0].content.text


@HYPOTHESIS
@given(
    ref=st.one_of(
        st.sampled_from(["qa_review_transcript", "summarize_sessions"]).map(
            lambda n: PromptReference(type="ref/prompt", name=n)
        ),
        hostile_text.map(lambda n: PromptReference(type="ref/prompt", name=n)),
        st.sampled_from(["napster://sessions/{session_id}/transcript", "napster://sessions/{session_id}"]).map(
            lambda u: ResourceTemplateReference(type="ref/resource", uri=u)
        ),
        hostile_text.map(lambda u: ResourceTemplateReference(type="ref/resource", uri=u)),
    ),
    name=st.one_of(st.sampled_from(["session_id", "companion_id", "count", "rubric"]), hostile_text),
    value=st.one_of(hostile_text, st.sampled_from([i[:n] for i in REAL_IDS[:3] for n in (0, 5, 8)])),
    era=ERAS,
)
def test_completions_hostile(eras: Env, ref: Any, name: str, value: str, era: str) -> None:
    env = eras.in_era(era)
    SIM.requests.clear()
    TRIED["completion"] += 1
    result = expect_mcp_error(env, "complete", env.mcp.complete, ref, {"name": name, "value": value})
    requests = list(SIM.requests)
    check_upstream(requests, set(), {})
    assert all(r.raw_path in ("/public/sessions", *DIRECTORY_PATHS) for r in requests)
    if result is not None:
        values = result.completion.values
        assert len(values) <= 100 and all(v.startswith(value) for v in values)
        if name == "session_id":
            assert set(values) <= set(known_ids())


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@HYPOTHESIS
@given(
    cursor=st.one_of(
        hostile_text,
        st.sampled_from(["x", "e30=", "eyJwIjogLTF9", "====", "!!", "eyJwIjowfQ", "bnVsbA=="]),
        st.one_of(
            st.integers(-(2**70), 2**70).map(lambda p: {"p": p}),
            st.sampled_from([{"p": True}, {"p": 1.0}, {"p": "1"}, {"p": None}, {"q": 1}, [], None, "p", 1]),
            st.dictionaries(st.text(max_size=3), json_value, max_size=2),
        ).map(cursor_of),
    ),
    era=ERAS,
)
def test_resource_list_cursor_hostile(eras: Env, cursor: str, era: str) -> None:
    env = eras.in_era(era)
    SIM.requests.clear()
    TRIED["cursor"] += 1
    result = expect_mcp_error(env, "resources/list", functools.partial(env.mcp.list_resources, cursor=cursor))
    requests = list(SIM.requests)
    check_upstream(requests, set(), {})
    if result is None:
        assert not requests, "a refused cursor sends nothing"
    else:  # cursors are signed (issue 15): none made up here opens, not even a well-formed {"p": 3}
        assert not cursor, "a cursor this server did not make was accepted"


# -- bugs found here, pinned by regression tests ----------------------------------------------


@pytest.mark.parametrize("value", ["null", '["refund"]', '{"a": "b"}'])
@pytest.mark.parametrize("argument", ["search", "companion_id"])
def test_json_looking_filter_reaches_upstream_intact(env: Env, argument: str, value: str) -> None:
    SIM.requests.clear()
    result = env.portal.call(env.mcp.call_tool, "list_sessions", {argument: value, "page_size": 5})
    query = dict(parse_qsl([r for r in SIM.requests if r.raw_path == "/public/sessions"][-1].query))
    assert query.get(FILTER_PARAMS[argument]) == value, query
    if argument == "companion_id":  # no session has it, nor does the project: said so, the value as text
        assert result.is_error and "No companion" in result.content[0].text, result.content[0].text
    else:
        assert not result.is_error, result.content[0].text
        assert result.structured_content["sessions"] == []  # no session has this text


@pytest.mark.parametrize(
    ("prompt", "arguments", "named"),
    [("summarize_sessions", {"bogus": "x"}, "bogus"), ("qa_review_transcript", {}, "session_id")],
    ids=["unknown-argument", "missing-argument"],
)
def test_prompt_argument_errors(env: Env, prompt: str, arguments: dict[str, str], named: str) -> None:
    with pytest.raises(MCPError) as caught:
        env.portal.call(env.mcp.get_prompt, prompt, arguments)
    assert caught.value.error.code == INVALID_PARAMS, caught.value.error
    assert named in caught.value.error.message


def test_prompt_count_error_quotes_input_shortened(env: Env) -> None:
    with pytest.raises(MCPError) as caught:
        env.portal.call(env.mcp.get_prompt, "summarize_sessions", {"count": "9" * 10_000 + "x"})
    assert caught.value.error.code == INVALID_PARAMS
    assert len(caught.value.error.message) < 400, len(caught.value.error.message)


@pytest.mark.parametrize("search", ["\U0001f511" * 5_500, "x" * 70_000], ids=["5500-emoji", "70000-ascii"])
def test_overlong_filter_is_an_input_error(env: Env, search: str) -> None:
    SIM.requests.clear()
    result = env.portal.call(env.mcp.call_tool, "list_sessions", {"search": search})
    text = result.content[0].text
    assert result.is_error and not SIM.requests
    assert text.strip() != "Error executing tool list_sessions", "a crash, not an input error"
    assert "search" in text and len(text) < 1_000
