"""create_connection through the SDK's own ``Client``: the agent way, the companion way, exactly one."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from session_mcp.simulator import Simulator
from tests.helpers import text_of

pytestmark = pytest.mark.anyio

# Every field, as a strict-mode model fills them: the unused ones null or empty.
UNUSED: dict[str, Any] = {
    "agent_id": "", "channel_type": None, "companion_id": "", "voice_id": "", "settings": None,
    "external_client_id": "", "external_client_profile": None, "tags": [], "initial_speech": "", "language": "",
    "knowledge_base_id": None, "functions": [], "faq_collections": None, "disable_idle_timeout": None,
}  # fmt: skip


def posts(simulator: Simulator) -> list[str]:
    return [r.raw_path for r in simulator.requests if r.method == "POST"]


async def test_every_field_is_advertised_and_none_is_required(mcp: Client) -> None:
    tool = next(t for t in (await mcp.list_tools()).tools if t.name == "create_connection")
    assert set(tool.input_schema["properties"]) == set(UNUSED)
    assert "required" not in tool.input_schema


async def test_the_agent_way_with_every_other_field_empty(mcp: Client, simulator: Simulator) -> None:
    arguments = {
        **UNUSED,
        "agent_id": "agent_sales",
        "channel_type": "websocket",
        "external_client_profile": '{"plan": "pro"}',
        "tags": ["channel=test"],
    }
    result = await mcp.call_tool("create_connection", arguments)
    assert not result.is_error, text_of(result)
    session_id = (result.structured_content or {})["session_id"]
    assert posts(simulator) == ["/public/agents/agent_sales/connections"]
    assert simulator.projects["demo"].connection_bodies == [
        {"channelType": "websocket", "externalClientProfile": {"plan": "pro"}, "tags": {"channel": "test"}}
    ]
    assert simulator.projects["demo"].sessions[session_id]["sessionType"] == "websocket"


async def test_the_agent_way_defaults_to_webrtc(mcp: Client, simulator: Simulator) -> None:
    result = await mcp.call_tool("create_connection", {"agent_id": "agent_support"})
    assert not result.is_error, text_of(result)
    assert simulator.projects["demo"].connection_bodies == [{"channelType": "webrtc"}]


async def test_the_companion_way_with_every_other_field_empty(mcp: Client, simulator: Simulator) -> None:
    arguments = {**UNUSED, "companion_id": "comp_support", "voice_id": "alloy", "disable_idle_timeout": False}
    result = await mcp.call_tool("create_connection", arguments)
    assert not result.is_error, text_of(result)
    assert posts(simulator) == ["/public/connections"]
    assert simulator.projects["demo"].connection_bodies == [
        {"companionId": "comp_support", "providerConfig": {"voiceId": "alloy", "settings": {}}}
    ]


NOT_ONE_WAY: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["Give agent_id", "or companion_id and voice_id"]),
    ({"agent_id": "agent_support", "companion_id": "comp_support"}, ["companion_id cannot go with agent_id"]),
    ({"agent_id": "agent_support", "companion_id": "comp_support", "voice_id": "alloy"}, ["companion_id, voice_id"]),
    ({"agent_id": "agent_support", "settings": '{"a": "b"}'}, ["settings cannot go with agent_id"]),
    ({"agent_id": "agent_support", "disable_idle_timeout": True}, ["disable_idle_timeout cannot go"]),
    ({"companion_id": "comp_support"}, ["voice_id is missing", "go together"]),
    ({"voice_id": "alloy"}, ["companion_id is missing"]),
    ({"companion_id": "comp_support", "voice_id": "alloy", "channel_type": "webrtc"}, ["channel_type goes with"]),
    ({"agent_id": "agent_support", "channel_type": "sip"}, ["channel_type"]),
]


@pytest.mark.parametrize(("arguments", "says"), NOT_ONE_WAY)
async def test_not_exactly_one_way_is_refused_clearly(
    mcp: Client, simulator: Simulator, arguments: dict[str, Any], says: list[str]
) -> None:
    result = await mcp.call_tool("create_connection", {**UNUSED, **arguments})
    assert result.is_error
    for words in says:
        assert words in text_of(result), text_of(result)
    assert not simulator.requests


async def test_an_unknown_agent_points_to_the_agent_id(mcp: Client, simulator: Simulator) -> None:
    result = await mcp.call_tool("create_connection", {"agent_id": "agent_nobody"})
    assert result.is_error
    text = text_of(result)
    assert "404" in text and "Check agent_id" in text and "list_sessions" not in text
    # ... and names the project's agents, by name (the directory's GET /public/agents).
    assert "This project's agents: agent_support (Ava agent), agent_tutor (Kai agent), agent_booking" in text
    assert posts(simulator) == ["/public/agents/agent_nobody/connections"]


async def test_an_unsafe_agent_id_sends_nothing(mcp: Client, simulator: Simulator) -> None:
    result = await mcp.call_tool("create_connection", {"agent_id": "../connections"})
    assert result.is_error and "is not an agent id" in text_of(result)
    assert not simulator.requests


async def test_the_refusal_after_a_failed_call_tells_the_truth(mcp: Client, simulator: Simulator) -> None:
    failed = await mcp.call_tool("create_connection", {"companion_id": "comp_unknown", "voice_id": "alloy"})
    assert failed.is_error and "400" in text_of(failed)
    refused = await mcp.call_tool("create_connection", {"agent_id": "agent_support"})
    assert refused.is_error
    text = text_of(refused)
    assert "was created" not in text
    assert "whether or not it succeeded" in text and "Try again in" in text
    assert posts(simulator) == ["/public/connections"]
