"""Toolsets: which tools a host loads (``--tools``), and the one order ``tools/list`` gives them in.

Every host sends each tool's schema and description to the model in every conversation, so a host
that only reads sessions should not pay for the QA or connection tools. The order is stated here
once, not left to the order of registration: ``tools/list`` is the same on every start (the
2026-07-28 revision asks for a deterministic order), whatever toolsets are chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from mcp.server.mcpserver.tools import Tool

from session_mcp.config import TOOLSETS

# Each toolset's tools; the toolsets as config.TOOLSETS names them.
TOOLS_OF: dict[str, tuple[str, ...]] = {
    "read": ("list_sessions", "get_session_transcript", "get_session_transcripts", "session_stats"),
    "search": ("search_transcripts",),
    "qa": ("review_sessions", "annotate_session"),
    "connect": ("create_connection",),
    "directory": ("list_companions", "list_agents"),
}
assert tuple(TOOLS_OF) == TOOLSETS, "config.TOOLSETS and TOOLS_OF name the same toolsets in the same order"
TOOLSET_OF: dict[str, str] = {name: toolset for toolset, names in TOOLS_OF.items() for name in names}
# The order of tools/list: reading first, as a model starts, then the review, the search, writing,
# the directory (the bundle's manifest.json lists them in this order too).
ORDER_OF_TOOLS = (
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
)
assert set(ORDER_OF_TOOLS) == set(TOOLSET_OF), "every tool of a toolset has its place in the order, and only those"
ORDER: dict[str, int] = {name: i for i, name in enumerate(ORDER_OF_TOOLS)}

T = TypeVar("T", bound=Tool)


def select_tools(tools: Iterable[T], toolsets: Iterable[str]) -> list[T]:
    """The tools of ``toolsets``, in the stated order; a tool in no toolset is a programming error."""
    chosen = set(toolsets)
    tools = list(tools)
    orphans = [tool.name for tool in tools if tool.name not in TOOLSET_OF]
    if orphans:
        raise ValueError(f"tool {', '.join(orphans)} is in no toolset: add it to TOOLS_OF in {__name__}")
    return sorted((tool for tool in tools if TOOLSET_OF[tool.name] in chosen), key=lambda tool: ORDER[tool.name])
