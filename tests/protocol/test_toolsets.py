"""Toolsets (``--tools``): each set serves exactly its tools, in the one stated order; an unknown set
stops the start with a line naming the valid ones."""

from __future__ import annotations

import dataclasses

import pytest

from session_mcp.config import TOOLSETS, ConfigError, Settings, load_settings
from session_mcp.server.toolsets import TOOLS_OF
from tests.helpers import assert_one_clear_error, connect, run_main

pytestmark = pytest.mark.anyio

# The order tools/list gives, pinned: a change here is a change every host's cache and prompt sees.
ORDER = [
    "list_sessions",
    "get_session_transcript",
    "get_session_transcripts",
    "session_stats",
    "review_sessions",
    "annotate_session",
    "search_transcripts",
    "create_connection",
    "list_companions",
    "list_agents",
]


async def listed(base_url: str, settings: Settings, mode: str = "auto") -> list[str]:
    async with connect(base_url, settings, mode=mode) as mcp:
        return [tool.name for tool in (await mcp.list_tools()).tools]


def served(names: list[str]) -> list[str]:
    """``names`` in the pinned order, as far as this branch's server has them."""
    return [name for name in ORDER if name in names]


@pytest.mark.parametrize("toolset", TOOLSETS)
async def test_each_toolset_lists_exactly_its_tools(base_url: str, toolset: str) -> None:
    names = await listed(base_url, Settings(toolsets=(toolset,)))
    everything = await listed(base_url, Settings())
    assert names == [name for name in everything if name in TOOLS_OF[toolset]]
    assert names or toolset == "directory", f"toolset {toolset} serves nothing"  # directory: its tools come later


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_list_order_is_the_stated_one(base_url: str, mode: str) -> None:
    names = await listed(base_url, Settings(), mode)
    assert set(names) <= set(ORDER), f"a new tool: add it to a toolset and to ORDER ({set(names) - set(ORDER)})"
    assert names == served(names)
    assert {"list_sessions", "search_transcripts", "review_sessions", "create_connection"} <= set(names)
    both = await listed(base_url, Settings(toolsets=("connect", "read")), mode)
    assert both == served(both) and both[-1] == "create_connection"


async def test_read_only_still_removes_the_writing_tools(base_url: str) -> None:
    names = await listed(base_url, dataclasses.replace(Settings(read_only=True), toolsets=("read", "connect")))
    assert "create_connection" not in names and "list_sessions" in names


def test_toolsets_from_flag_and_environment() -> None:
    env = {"NAPSTER_API_KEY": "k"}
    assert load_settings({}, env).toolsets == TOOLSETS
    assert load_settings({}, env | {"SESSION_MCP_TOOLS": " QA, read ,qa"}).toolsets == ("read", "qa")
    assert load_settings({"toolsets": "all"}, env | {"SESSION_MCP_TOOLS": "qa"}).toolsets == TOOLSETS
    with pytest.raises(ConfigError, match=r"unknown toolset 'writes'.*read, search, qa, connect, directory"):
        load_settings({"toolsets": "read,writes"}, env)
    with pytest.raises(ConfigError, match="no toolset named"):
        load_settings({"toolsets": " , "}, env)


@pytest.mark.parametrize(
    ("argv", "env"),
    [(["--demo", "--tools", "read,sql"], {}), (["--demo"], {"SESSION_MCP_TOOLS": "everything"})],
)
def test_unknown_toolset_stops_the_start(argv: list[str], env: dict[str, str]) -> None:
    done = run_main(*argv, env=env)
    line = assert_one_clear_error(done, "unknown toolset", "read, search, qa, connect, directory")
    assert ("--tools" if "--tools" in argv else "SESSION_MCP_TOOLS") in line


async def test_the_instructions_name_the_tools_of_a_chosen_few(base_url: str) -> None:
    async with connect(base_url, Settings(toolsets=("read",))) as mcp:
        some = mcp.instructions
    async with connect(base_url, Settings()) as mcp:
        every = mcp.instructions
    assert some is not None and every is not None
    assert some.endswith(
        "serves only these tools: list_sessions, get_session_transcript, get_session_transcripts, session_stats."
    )
    assert "serves only" not in every
