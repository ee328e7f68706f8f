"""A body's turns up to one read without decoding it all: what the full decode gives, cut after that one."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.store import turn_items as reader
from session_mcp.store.base import StoreError
from session_mcp.store.rows import stored_bodies
from session_mcp.store.sqlite_turns import body_items
from session_mcp.store.turn_items import turn_items
from tests.unit.store.helpers import sessions

TRAPS = ['"conversation":{"items":[', '\\"conversation\\":{\\"items\\":[{', "},{", "é😀", '"', "\\"]


def compressed(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def same_as_the_full_decode(body: bytes) -> None:
    try:
        whole = body_items(body)
    except Exception as exc:  # the reader must fail the same way
        with pytest.raises(type(exc)):
            turn_items(body, 0)
        return
    for last in range(len(whole) + 2):
        assert turn_items(body, last) == whole[: last + 1], last


def test_stored_bodies_are_read_the_same_without_the_full_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = [body for _, body, _ in stored_bodies(sessions(30))]
    for body in bodies:
        same_as_the_full_decode(body)
    wanted = {body: body_items(body) for body in bodies}
    monkeypatch.setattr(reader, "body_items", lambda body: pytest.fail("the full decode was taken"))
    for body, whole in wanted.items():
        for last in range(len(whole)):
            assert turn_items(body, last) == whole[: last + 1]


def texts(parts: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(parts), max_size=6).map("".join)


item = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "agent", None]), "text": texts([*TRAPS, "a", " "])},
    optional={"timestamp": st.integers(0, 2**40) | st.floats(allow_nan=False), "extra": st.just({"items": []})},
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    before=st.dictionaries(st.sampled_from(["id", "mode", "agent", "items"]), texts(TRAPS), max_size=3),
    items=st.lists(item, max_size=12),
    after=st.dictionaries(st.sampled_from(["status", "items", "conversation"]), st.just({"items": [{"text": "x"}]})),
    nested=st.booleans(),
)
def test_any_layout_reads_as_the_full_decode_reads_it(
    before: dict[str, Any], items: list[Any], after: dict[str, Any], nested: bool
) -> None:
    """Keys around and before the turns, a nested ``conversation`` first, traps in texts: the same turns."""
    wire: dict[str, Any] = {"agent": {"conversation": {"items": [{"text": "nested"}]}}} if nested else {}
    wire |= {**before, "conversation": {"items": items}}
    after.pop("conversation", None)  # a later duplicate key is the one case not seen (documented): not drawn
    wire |= after
    same_as_the_full_decode(compressed(wire))


@pytest.mark.parametrize(
    "text",
    [
        '{"conversation":{"items":[{"text":"a"},{"text":"b"}]}}',  # the first member
        '{"conversation":{"x":1},"conversation":{"items":[{"text":"later"}]}}',  # a duplicate key: the last read
        '{"conversation":{"items":[1,2,{"text":"c"}]}}',  # items that are not objects
        '{"conversation":{"items":[]}}',
        '{"conversation":{"items":[{"text":"a"}] }}',
        '{ "conversation" : { "items" : [ {"text":"a"} ] } }',  # blanks: the full decode
        '\ufeff{"conversation":{"items":[{"text":"a"}]}}',  # a BOM
        '{"a":[1,{"b":2}],"conversation":{"items":[{"text":"a"}]}}',
        '{"mode":"conversation","conversation":{"items":[{"text":"a"}]}}',  # the word as a value before
        '{"a":{"conversation" :1},"conversation":{"items":[{"text":"a"}]}}',  # as a nested key before
        '{"conversation" :1,"conversation":{"items":[{"text":"a"}]}}',  # a duplicate before: the last read
        '{"a":"}{[\\"","b":"x\\"y","conversation":{"items":[{"text":"a"}]}}',  # brackets and quotes in strings
        '{"a":"}}","conversation":{"items":[{"text":"a"}]}}',
        '{"a":{"b":"{","conversation":{"items":[{"text":"a"}]}}}',  # one level down
        '{"a":1}},"conversation":{"items":[{"text":"a"}]}}',  # the top level closed before: not JSON
        '{"conversation":null}',
        "[1,2]",
        "not json",
    ],
)
def test_unusual_bodies_read_as_the_full_decode_reads_them(text: str) -> None:
    same_as_the_full_decode(zlib.compress(text.encode()))


def test_a_body_that_is_not_compressed_fails_as_the_full_decode_does() -> None:
    same_as_the_full_decode(b"\x00\xff\x00")


def test_late_turns_need_more_of_the_body_inflated() -> None:
    """Turns past the first bytes inflated: more is inflated until they are in."""
    items = [{"role": "user", "text": f"turn {i} " + "word " * 200} for i in range(8)]
    same_as_the_full_decode(compressed({"id": "s", "conversation": {"items": items}}))


def test_damage_past_the_turns_read_is_not_seen_and_before_them_is() -> None:
    """The text after the last turn read is not read (the cost saved): a body cut there still gives its first
    turns; a turn in or past the damage fails as the full decode does."""
    body = zlib.compress(b'{"conversation":{"items":[{"text":"a"},{"text":"b"')
    assert turn_items(body, 0) == [{"text": "a"}]
    with pytest.raises(StoreError, match="cannot be read"):
        turn_items(body, 1)
