"""The tool-argument conventions (docs/tools.md, server/arguments.py), through the SDK's own ``Client``.

Empty means "not given" (null, "", [] and {}, also sent as JSON text), an empty argument never
excludes another, tags are "key=value" strings (an object still works), shapeless values are
JSON text, and the advertised schemas hold no free-form object.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from mcp import Client
from pydantic import BaseModel

from session_mcp.companion.models import decode_tags_query
from session_mcp.render.lines import quoted
from session_mcp.server.schema import input_schema
from session_mcp.simulator import Simulator
from tests.helpers import text_of

pytestmark = pytest.mark.anyio

# JSON text of an empty value is empty too, except for text arguments, where it is text.
EMPTIES: list[Any] = [None, "", [], {}, "null", "[]", "{}"]
FILTERS = ("companion_id", "external_client_id", "search", "tags")


def list_queries(simulator: Simulator) -> list[dict[str, str]]:
    return [dict(parse_qsl(r.query)) for r in simulator.requests if r.raw_path == "/public/sessions"]


@pytest.mark.parametrize("empty", EMPTIES, ids=repr)
async def test_every_optional_argument_may_be_empty(mcp: Client, simulator: Simulator, empty: Any) -> None:
    tools = {t.name: t.input_schema for t in (await mcp.list_tools()).tools}
    for name in ("list_sessions", "session_stats", "get_session_transcripts"):
        schema = tools[name]
        arguments = {
            arg: None if isinstance(empty, str) and empty and prop["anyOf"][0]["type"] == "string" else empty
            for arg, prop in schema["properties"].items()
            if arg not in schema.get("required", [])
        }
        if name != "list_sessions":
            arguments["read_transcripts" if name == "session_stats" else "max_message_chars"] = None
        simulator.requests.clear()
        result = await mcp.call_tool(name, arguments)
        assert not result.is_error, (name, result.content)
        first = list_queries(simulator)[0]
        assert set(first) == {"pageIndex", "pageSize"}, f"{name}: an empty argument became a filter: {first}"
    page = (await mcp.call_tool("list_sessions", {"page_size": empty, "page_index": empty})).structured_content
    assert page is not None and (page["page_index"], page["page_size"]) == (0, 20)  # the defaults


async def test_session_ids_with_every_other_field_empty_is_answered(mcp: Client, simulator: Simulator) -> None:
    ids = [s["id"] for s in simulator.sessions_of("demo")[:2]]
    filled = {"session_ids": ids, "companion_id": "", "external_client_id": None, "search": "", "tags": [],
              "limit": None, "max_message_chars": None}  # fmt: skip
    result = await mcp.call_tool("get_session_transcripts", filled)
    assert not result.is_error, result.content
    assert [t["session"]["id"] for t in (result.structured_content or {})["transcripts"]] == ids
    # And the other way round: empty ids, a filter and a limit.
    other = {**filled, "session_ids": [], "companion_id": "comp_support", "limit": 2}
    result = await mcp.call_tool("get_session_transcripts", other)
    assert not result.is_error, result.content
    sessions = (result.structured_content or {})["transcripts"]
    assert len(sessions) == 2 and {t["session"]["companion_id"] for t in sessions} == {"comp_support"}


async def test_a_non_empty_argument_still_excludes(mcp: Client, simulator: Simulator) -> None:
    ids = [simulator.sessions_of("demo")[0]["id"]]
    for other in ({"tags": ["channel=web"]}, {"limit": 3}, {"search": "refund"}):
        result = await mcp.call_tool("get_session_transcripts", {"session_ids": ids, **other})
        assert result.is_error, other
    assert not simulator.requests


@pytest.mark.parametrize(
    "tags", [["channel=web"], {"channel": "web"}, '["channel=web"]', '{"channel": "web"}'], ids=repr
)
async def test_tags_as_pairs_or_object_filter_the_same(mcp: Client, simulator: Simulator, tags: Any) -> None:
    result = await mcp.call_tool("list_sessions", {"tags": tags, "page_size": 100})
    assert not result.is_error, result.content
    assert decode_tags_query(list_queries(simulator)[-1]["tags"]) == {"channel": "web"}
    rows = (result.structured_content or {})["sessions"]
    expected = [s["id"] for s in simulator.sessions_of("demo") if (s.get("tags") or {}).get("channel") == "web"]
    assert rows and [row["id"] for row in rows] == expected[:100]


async def test_a_tag_value_may_hold_equals_signs(mcp: Client, simulator: Simulator) -> None:
    await mcp.call_tool("list_sessions", {"tags": ["formula=a=b", "empty="]})
    assert decode_tags_query(list_queries(simulator)[-1]["tags"]) == {"formula": "a=b", "empty": ""}


@pytest.mark.parametrize("value", ["null", "[]", '["refund"]', "{}"])
async def test_text_that_looks_like_json_is_text(mcp: Client, simulator: Simulator, value: str) -> None:
    """The SDK decodes JSON-looking strings for arguments that are not plain ``str``: filters are."""
    result = await mcp.call_tool("list_sessions", {"search": value, "companion_id": value})
    # Nothing matches, and the project has no such companion: it says so, naming the text as given.
    assert result.is_error and f"No companion {quoted(value)} in this project" in text_of(result)
    assert list_queries(simulator)[-1]["search"] == value
    assert list_queries(simulator)[-1]["companionId"] == value


@pytest.mark.parametrize(
    "settings", ['{"instructions": "Be brief."}', {"instructions": "Be brief."}], ids=["json-text", "object"]
)
async def test_connection_settings_as_json_text_or_object(mcp: Client, simulator: Simulator, settings: Any) -> None:
    result = await mcp.call_tool(
        "create_connection", {"companion_id": "comp_support", "voice_id": "alloy", "settings": settings}
    )
    assert not result.is_error, result.content
    (body,) = simulator.projects["demo"].connection_bodies
    assert body["providerConfig"]["settings"] == {"instructions": "Be brief."}


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ("instructions", "not valid JSON"),
        ("[1, 2]", "JSON object is required"),
        ('"x"', "JSON object is required"),
        ({"x": "y" * 20_001}, "at most 20,000"),
    ],
    ids=["not-json", "a-list", "a-string", "too-long"],
)
async def test_bad_connection_settings_are_named(mcp: Client, simulator: Simulator, settings: Any, says: str) -> None:
    result = await mcp.call_tool(
        "create_connection", {"companion_id": "comp_support", "voice_id": "alloy", "settings": settings}
    )
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "settings" in text and says in text, text
    assert not simulator.requests


async def test_unknown_argument_is_refused_even_when_empty(mcp: Client, simulator: Simulator) -> None:
    result = await mcp.call_tool("list_sessions", {"companyId": None})
    assert result.is_error
    assert "unknown argument 'companyId'" in result.content[0].text  # type: ignore[union-attr]
    assert not simulator.requests


# -- the schema post-processing ---------------------------------------------------------------


class Kinds(BaseModel):
    name: str
    choice: str | None = None
    level: int = 3
    mode: Any = None


def test_input_schema_closes_nothing_and_allows_null_for_the_optional() -> None:
    schema = Kinds.model_json_schema()
    schema["properties"]["choice"] = {"type": "string", "enum": ["a", "b"]}
    schema["additionalProperties"] = False
    advertised = input_schema(schema)
    assert "additionalProperties" not in advertised
    props = advertised["properties"]
    assert props["name"] == {"type": "string"}  # required: no null
    choice = {"type": "string", "enum": ["a", "b"]}
    assert props["choice"] == {"anyOf": [choice, {"type": "null"}]}
    assert props["level"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": 3}
    assert "type" not in props["mode"]  # no type: null is allowed already


class Mapped(BaseModel):
    labels: dict[str, str] = {}


class Open(BaseModel):
    blob: dict[str, Any] = {}


@pytest.mark.parametrize("model", [Mapped, Open])
def test_input_schema_refuses_a_free_form_object(model: type[BaseModel]) -> None:
    with pytest.raises(ValueError, match="free-form object"):
        input_schema(model.model_json_schema())
