"""MCP Apps wiring: the views as ``ui://`` resources, and the ``_meta`` that points a tool to one.

The SDK's ``@apps.tool`` registers plain tools; ours are ``StrictTool``s, so they carry the
``_meta.ui`` entry themselves (``ui_meta``) and the ``Apps`` extension only serves the pages and
advertises the capability. Build it before ``MCPServer(extensions=[...])``: the SDK ignores
anything added to it afterwards.
"""

from __future__ import annotations

from typing import Any

from mcp.server.apps import Apps

from session_mcp.views import VIEWS, View, view_html


def ui_meta(view: View, *, app_only: bool = False) -> dict[str, Any]:
    """A tool's ``_meta`` pointing at ``view``; ``app_only`` hides the tool from the model."""
    ui: dict[str, Any] = {"resourceUri": view.uri}
    if app_only:
        ui["visibility"] = ["app"]
    return {"ui": ui}


def apps_extension() -> Apps:
    """The Apps extension serving every view, ready for ``MCPServer(extensions=[...])``."""
    apps = Apps()
    for view in VIEWS:
        apps.add_html_resource(
            view.uri,
            view_html(view),
            name=f"{view.name}-view",
            title=view.title,
            description=view.description,
            prefers_border=True,
        )
    return apps
