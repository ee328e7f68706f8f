"""MCP Apps wiring: the views as ``ui://`` resources, and the ``_meta`` that points a tool to one.

The SDK's ``@apps.tool`` registers plain tools; ours are ``StrictTool``s, so they carry the
``_meta.ui`` entry themselves (``ui_meta``) and the ``Apps`` extension only serves the pages and
advertises the capability. Build it before ``MCPServer(extensions=[...])``: the SDK ignores
anything added to it afterwards.

The views call read-only tools back through the host (the next turns of a transcript, the QA
half of the dashboard). Each page carries the argument names and numeric maxima of those tools,
taken from their schemas here, so a view passes on only what the tool it calls accepts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mcp.server.apps import Apps
from mcp.server.mcpserver.tools import Tool

from session_mcp.views import VIEWS, View, view_html


def ui_meta(view: View) -> dict[str, Any]:
    """A tool's ``_meta`` pointing at ``view``."""
    return {"ui": {"resourceUri": view.uri}}


def callable_tools(tools: Sequence[Tool]) -> str:
    """The read-only tools a view may call, as JSON: for each, its arguments and their maxima."""
    shapes = {
        tool.name: {name: maximum(schema) for name, schema in tool.parameters.get("properties", {}).items()}
        for tool in tools
        if tool.annotations is not None and tool.annotations.read_only_hint
    }
    return json.dumps(shapes, sort_keys=True)


def maximum(schema: dict[str, Any]) -> float | None:
    """An argument's upper bound, also where an optional one keeps it: inside ``anyOf [X, null]``."""
    for option in (schema, *schema.get("anyOf", ())):
        if isinstance(option.get("maximum"), int | float):
            return float(option["maximum"])
    return None


def apps_extension(tools: Sequence[Tool]) -> Apps:
    """The Apps extension serving every view over ``tools``, ready for ``MCPServer(extensions=[...])``."""
    apps = Apps()
    config = callable_tools(tools)
    for view in VIEWS:
        apps.add_html_resource(
            view.uri,
            view_html(view, config),
            name=f"{view.name}-view",
            title=view.title,
            description=view.description,
            prefers_border=True,
        )
    return apps
