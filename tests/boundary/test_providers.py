"""The model providers' own converters and clients on the real ``tools/list`` answer.

Each provider library turns MCP tool schemas into what its model endpoint accepts, with rules
of its own. These tests run the libraries themselves, offline:

- OpenAI Agents SDK: strict conversion (``convert_schemas_to_strict=True``) of every tool, then
  a whole ``Runner.run`` with the SDK's own MCP client on the server's stdio, against a local
  stand-in of the Responses API that checks every tool arrives strict and calls each one.
- google-genai: its MCP adapter on every tool (``tags`` must stay an array of strings), then
  ``generate_content(tools=[session])`` against a local stand-in of the Gemini API, which calls
  each tool through the library's automatic function calling.
- LangChain: ``convert_to_openai_tool(strict=True)``, and langchain-google-genai's function
  declarations (which turn a ``type`` list such as ``["array", "null"]`` into STRING: the reason
  the schemas spell null as an ``anyOf``).

A stand-in fills every field the way a strict-mode model does, from the schema it was sent:
the fields a call needs with real values, every other one ``null`` ("nulls") or its type's
empty value ("empties"). Every call must be answered, not refused.

The libraries are the ``providers`` extra (``pip install -e ".[providers]"``). Each test is
skipped where its library is absent, except under CI (``CI`` set), which installs the extra: there
a missing library fails the test instead of silently measuring nothing.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import Tool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from session_mcp.simulator import Simulator, serve_in_thread
from tests.helpers import script

pytestmark = pytest.mark.anyio

# The demo data's ids do not depend on the time: the server started with --demo has these too.
DEMO_SESSION = Simulator(api_keys={"demo": 7}).sessions_of("demo")[0]["id"]
# What each call needs; a strict-mode model fills every other field with null or an empty value.
NEEDED: dict[str, dict[str, Any]] = {
    "list_sessions": {},
    "get_session_transcript": {"session_id": DEMO_SESSION},
    "get_session_transcripts": {"session_ids": [DEMO_SESSION]},
    "session_stats": {"limit": 5},
    "create_connection": {"agent_id": "agent_support"},
    "review_sessions": {"limit": 5},
    "search_transcripts": {"query": "refund"},
    "list_companions": {},
    "list_agents": {},
    "annotate_session": {"session_id": DEMO_SESSION, "reviewer": "ana", "verdict": "note", "comment": "checked"},
}
FILLINGS = ["nulls", "empties"]


def need(module: str) -> None:
    """Skip without the provider library ``module``; under CI, fail instead."""
    if os.environ.get("CI"):
        importlib.import_module(module)
    else:
        pytest.importorskip(module)


# -- strict filling -----------------------------------------------------------------------------


def kinds(prop: dict[str, Any]) -> set[str]:
    """The non-null JSON types a property allows, lowercase (Gemini writes them in capitals)."""
    declared = prop.get("type")
    found = declared if isinstance(declared, list) else [declared] if declared else []
    found += [kind for option in prop.get("anyOf", []) for kind in kinds(option)]
    return {str(kind).lower() for kind in found} - {"null"}


def strict_fill(properties: dict[str, Any], needed: dict[str, Any], filling: str) -> dict[str, Any]:
    """Every field present, as a strict-mode model fills a call: only ``needed`` has values."""
    arguments: dict[str, Any] = {}
    for name, prop in properties.items():
        if name in needed:
            arguments[name] = needed[name]
        elif filling == "empties" and kinds(prop) & {"string", "array"}:
            arguments[name] = "" if "string" in kinds(prop) else []
        else:
            arguments[name] = None
    return arguments


# -- a stand-in for the model endpoints ----------------------------------------------------------


@dataclass
class ModelStandIn:
    """Plays a strict-mode model: calls each tool once with every field filled, then answers text.

    It serves the OpenAI Responses API (``POST /v1/responses``) and the Gemini API
    (``POST /v1/models/<model>:generateContent``), and records what it was sent.
    """

    filling: str = "nulls"
    tools_seen: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)  # tool name -> what the client sent back
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)  # tool name -> the arguments

    def next_call(self, declared: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
        for name, needed in NEEDED.items():
            if name in declared and name not in self.calls:
                self.calls[name] = strict_fill(declared[name].get("properties", {}), needed, self.filling)
                return name, self.calls[name]
        return None

    async def openai(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.tools_seen = body.get("tools", [])
        for item in body.get("input", []):
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                self.results[item["call_id"]] = item["output"]
        call = self.next_call({t["name"]: t["parameters"] for t in self.tools_seen if t.get("type") == "function"})
        if call is None:
            output: dict[str, Any] = {
                "type": "message", "id": "msg_done", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": "Done.", "annotations": []}],
            }  # fmt: skip
        else:
            name, arguments = call
            output = {"type": "function_call", "id": f"fc_{name}", "call_id": name, "name": name,
                      "arguments": json.dumps(arguments), "status": "completed"}  # fmt: skip
        usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens_details": {"reasoning_tokens": 0}}  # fmt: skip
        response = {"id": f"resp_{len(self.calls)}", "object": "response", "created_at": 0, "model": body["model"],
                    "status": "completed", "output": [output], "parallel_tool_calls": False, "tool_choice": "auto",
                    "tools": [], "usage": usage}  # fmt: skip
        return JSONResponse(response)

    async def gemini(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.tools_seen = [d for tool in body.get("tools", []) for d in tool.get("functionDeclarations", [])]
        for content in body.get("contents", []):
            for part in content.get("parts", []):
                if "functionResponse" in part:
                    self.results[part["functionResponse"]["name"]] = part["functionResponse"]["response"]
        call = self.next_call({d["name"]: d.get("parameters", {}) for d in self.tools_seen})
        part = {"text": "Done."} if call is None else {"functionCall": {"name": call[0], "args": call[1]}}
        return JSONResponse(
            {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}]}
        )


class SwitchableModel:
    def __init__(self) -> None:
        self.current = ModelStandIn()

    def app(self) -> Starlette:
        async def openai(request: Request) -> JSONResponse:
            return await self.current.openai(request)

        async def gemini(request: Request) -> JSONResponse:
            return await self.current.gemini(request)

        return Starlette(
            routes=[
                Route("/v1/responses", openai, methods=["POST"]),
                Route("/v1/models/{model_action}", gemini, methods=["POST"]),
            ]
        )


@pytest.fixture(scope="module")
def model_endpoint() -> Iterator[tuple[SwitchableModel, str]]:
    """(switchable stand-in, base URL) of a model endpoint on a free loopback port."""
    switch = SwitchableModel()
    with serve_in_thread(switch.app()) as url:
        yield switch, url


@pytest.fixture(params=FILLINGS)
def stand_in(request: pytest.FixtureRequest, model_endpoint: tuple[SwitchableModel, str]) -> ModelStandIn:
    model_endpoint[0].current = ModelStandIn(filling=request.param)
    return model_endpoint[0].current


async def listed(mcp: Client) -> list[Tool]:
    tools = (await mcp.list_tools()).tools
    assert {t.name for t in tools} == set(NEEDED), "a new tool: add what its call needs to NEEDED"
    return tools


# -- OpenAI Agents SDK --------------------------------------------------------------------------


@asynccontextmanager
async def agents_stdio_server(store: Path) -> AsyncIterator[Any]:
    """The server as the Agents SDK starts it: its own MCP client on the console script's stdio."""
    from agents.mcp import MCPServerStdio

    server = MCPServerStdio(
        params={"command": script(), "args": ["--demo", "--store", str(store)]},  # a store: every tool is there
        cache_tools_list=True,
        use_structured_content=True,  # a success comes back as its JSON; an error as its text
        client_session_timeout_seconds=30,
    )
    async with server:
        yield server


async def test_openai_strict_conversion_of_every_tool(mcp: Client) -> None:
    need("agents")
    from agents.mcp import MCPServerStdio, MCPUtil
    from agents.strict_schema import ensure_strict_json_schema

    server = MCPServerStdio(params={"command": "unused"})  # never connected: the converter only reads it
    for tool in await listed(mcp):
        converted = MCPUtil.to_function_tool(tool, server, convert_schemas_to_strict=True)
        assert converted.strict_json_schema, f"{tool.name} fell back to a non-strict schema"
        schema = converted.params_json_schema
        assert schema["additionalProperties"] is False
        assert schema["required"] == list(tool.input_schema["properties"])
        # The public converter agrees: no UserError on the advertised schema itself.
        assert ensure_strict_json_schema(copy.deepcopy(tool.input_schema)) == schema


async def test_openai_agents_run_calls_every_tool_in_strict_mode(
    stand_in: ModelStandIn, model_endpoint: Any, tmp_path: Path
) -> None:
    need("agents")
    from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)  # traces would be sent to OpenAI
    async with (
        AsyncOpenAI(base_url=f"{model_endpoint[1]}/v1", api_key="sk-standin") as openai,
        agents_stdio_server(tmp_path / "store" / "s.sqlite3") as server,
    ):
        model = OpenAIResponsesModel(model="gpt-standin", openai_client=openai)
        agent = Agent(
            name="qa",
            instructions="Review the sessions.",
            model=model,
            mcp_servers=[server],
            mcp_config={"convert_schemas_to_strict": True},
        )
        result = await Runner.run(agent, "Use every tool once.", max_turns=len(NEEDED) + 2)
    assert result.final_output == "Done."
    assert {t["name"] for t in stand_in.tools_seen} == set(NEEDED)
    for tool in stand_in.tools_seen:
        assert tool["strict"] is True, f"{tool['name']} was sent non-strict"
        assert tool["parameters"]["additionalProperties"] is False
    assert set(stand_in.results) == set(NEEDED)
    for name, output in stand_in.results.items():
        text = output if isinstance(output, str) else json.dumps(output)
        assert text.startswith("{"), f"{name} called as {stand_in.calls[name]} was refused: {text[:300]}"


# -- google-genai -------------------------------------------------------------------------------


def object_without_properties(schema: Any) -> bool:
    """Gemini answers 400 for an OBJECT with no properties: is there one anywhere?"""
    if isinstance(schema, dict):
        if str(schema.get("type", "")).upper() == "OBJECT" and not schema.get("properties"):
            return True
        return any(object_without_properties(value) for value in schema.values())
    if isinstance(schema, list):
        return any(object_without_properties(item) for item in schema)
    return False


async def test_gemini_conversion_of_every_tool_keeps_tags_a_list_of_strings(mcp: Client) -> None:
    need("google.genai")
    from google.genai import _mcp_utils

    tools = await listed(mcp)
    converted = _mcp_utils.mcp_to_gemini_tools(tools)
    for tool, gemini in zip(tools, converted, strict=True):
        (declaration,) = gemini.function_declarations or []
        assert declaration.parameters is not None, tool.name
        wire = declaration.parameters.model_dump(mode="json", exclude_none=True)
        assert not object_without_properties(wire["properties"]), f"{tool.name}: an OBJECT with no properties"
        assert set(wire["properties"]) == set(tool.input_schema["properties"]), tool.name
        for name, prop in wire["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} lost its description"
        if "tags" in wire["properties"]:
            tags = wire["properties"]["tags"]
            assert (tags["type"], tags["items"]["type"]) == ("ARRAY", "STRING"), f"{tool.name}: tags became {tags}"
        if tool.name == "list_sessions":
            assert wire["properties"]["page_size"]["maximum"] == 100  # bounds survive the conversion


async def test_gemini_generate_content_calls_every_tool(
    mcp: Client, stand_in: ModelStandIn, model_endpoint: Any
) -> None:
    need("google.genai")
    from google import genai
    from google.genai import types

    gemini = genai.Client(api_key="standin", http_options=types.HttpOptions(base_url=model_endpoint[1]))
    await listed(mcp)
    answer = await gemini.aio.models.generate_content(
        model="gemini-standin",
        contents="Use every tool once.",
        # A dict, not GenerateContentConfig: the library deep-copies a config object, and an mcp 2.x
        # ClientSession cannot be copied (it holds running tasks). Its bug, not the server's.
        config={"tools": [mcp.session], "automatic_function_calling": {"maximum_remote_calls": len(NEEDED) + 1}},
    )
    assert answer.text == "Done."
    assert set(stand_in.results) == set(NEEDED)
    for name, response in stand_in.results.items():
        assert "result" in response, f"{name} called as {stand_in.calls[name]} was refused: {str(response)[:300]}"
        assert not response["result"].get("isError"), f"{name}: {str(response)[:300]}"
    tags = next(d for d in stand_in.tools_seen if d["name"] == "list_sessions")["parameters"]["properties"]["tags"]
    assert (tags["type"], tags["items"]["type"]) == ("ARRAY", "STRING")


# -- LangChain ----------------------------------------------------------------------------------


async def test_langchain_strict_openai_tool_of_every_tool(mcp: Client) -> None:
    need("langchain_core")
    from langchain_core.utils.function_calling import convert_to_openai_tool

    for tool in await listed(mcp):
        spec = {"name": tool.name, "description": tool.description, "parameters": tool.input_schema}
        function = convert_to_openai_tool(spec, strict=True)["function"]
        assert function["strict"] is True
        parameters = function["parameters"]
        assert parameters["required"] == list(tool.input_schema["properties"])
        for name, prop in parameters["properties"].items():
            if name not in tool.input_schema.get("required", []):
                assert {"type": "null"} in prop["anyOf"], f"{tool.name}.{name}: a strict model could not leave it out"
        if "tags" in parameters["properties"]:
            tags = parameters["properties"]["tags"]["anyOf"][0]
            assert (tags["type"], tags["items"]["type"]) == ("array", "string"), f"{tool.name}: tags became {tags}"


async def test_langchain_google_genai_declarations_of_every_tool(mcp: Client) -> None:
    need("langchain_google_genai")
    from langchain_google_genai._function_utils import convert_to_genai_function_declarations

    tools = await listed(mcp)
    specs = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                               "parameters": t.input_schema}} for t in tools]  # fmt: skip
    (converted,) = convert_to_genai_function_declarations(specs)
    declared = {d.name: d for d in converted.function_declarations or []}
    for tool in tools:
        parameters = declared[tool.name].parameters
        assert parameters is not None and parameters.properties is not None, tool.name
        wire = {name: prop.model_dump(mode="json", exclude_none=True) for name, prop in parameters.properties.items()}
        assert set(wire) == set(tool.input_schema["properties"]), tool.name
        for name, prop in wire.items():
            advertised = tool.input_schema["properties"][name]
            kind = (advertised["anyOf"][0] if "anyOf" in advertised else advertised)["type"]
            assert prop["type"] == kind.upper(), f"{tool.name}.{name}: {kind} became {prop['type']}"
            assert prop.get("description"), f"{tool.name}.{name} lost its description"
        if "tags" in wire:
            assert wire["tags"]["items"]["type"] == "STRING", tool.name
