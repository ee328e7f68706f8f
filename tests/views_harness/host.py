"""The Python side of the test host: it holds the MCP client, serves the host page and the
sandbox proxy on two loopback origins, hands the page real tool results, and forwards the tool
calls the view makes (recording them, and refusing what the MCP Apps visibility rules refuse).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, MCPError
from mcp.types import CallToolResult, TextResourceContents, Tool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from session_mcp.simulator import bind_loopback, make_server
from tests.views_harness.kit import chromium_path

HERE = Path(__file__).parent
# The restrictive default the specification prescribes for a view that declares no domains.
SANDBOX_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' data:; connect-src 'none'"
)
DRIVER_TIMEOUT = 180
MAX_HEIGHT = 1400  # the tallest the host lets a view grow (containerDimensions.maxHeight)


def wire(result: CallToolResult) -> dict[str, Any]:
    """A tool result as it travels in JSON-RPC (camelCase, no nulls)."""
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass
class Scenario:
    """A tool the model called, its real result, and the view the tool points to."""

    tool: Tool
    arguments: dict[str, Any]
    result: CallToolResult
    view_html: str
    view_meta: dict[str, Any]
    mcp: Client  # the server the view's own calls go to

    def page_data(self) -> dict[str, Any]:
        ui = self.view_meta.get("ui") or {}
        return {
            "tool": {
                "definition": self.tool.model_dump(mode="json", by_alias=True, exclude_none=True),
                "arguments": self.arguments,
            },
            "result": wire(self.result),
            "view": {"html": self.view_html, "csp": ui.get("csp") or {}},
        }


@dataclass
class ViewHost:
    """A web host for the views, over an MCP client connected with the UI extension."""

    mcp: Client
    kit: Path
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (params, answer)

    async def add_scenario(
        self, name: str, tool_name: str, arguments: dict[str, Any], mcp: Client | None = None
    ) -> Scenario:
        """Call ``tool_name`` for real and read the view it points to, as a host does (on ``mcp``,
        another server than the host's own, when given: one with other settings)."""
        server = mcp or self.mcp
        tool = {tool.name: tool for tool in (await server.list_tools()).tools}[tool_name]
        uri = (tool.meta or {})["ui"]["resourceUri"]
        result = await server.call_tool(tool_name, arguments)
        contents = (await server.read_resource(uri)).contents[0]
        assert isinstance(contents, TextResourceContents)
        scenario = Scenario(tool, arguments, result, contents.text, contents.meta or {}, server)
        self.scenarios[name] = scenario
        return scenario

    async def _scenario(self, request: Request) -> Response:
        return JSONResponse(self.scenarios[request.path_params["name"]].page_data())

    async def _call(self, request: Request) -> Response:
        params = json.loads(await request.body())
        answer = await self._forward(self.scenarios[request.path_params["name"]].mcp, params)
        self.calls.append((params, answer))
        return JSONResponse(answer)

    async def _forward(self, mcp: Client, params: dict[str, Any]) -> dict[str, Any]:
        tool = {tool.name: tool for tool in (await mcp.list_tools()).tools}.get(params.get("name", ""))
        visibility = ((tool.meta or {}).get("ui") or {}).get("visibility") if tool else None
        if tool is None or (visibility is not None and "app" not in visibility):
            return {"error": f"tool {params.get('name')!r} is not available to views"}
        try:
            result = await mcp.call_tool(tool.name, params.get("arguments") or {})
        except MCPError as exc:
            return {"error": str(exc)}
        return {"result": wire(result)}

    def app(self) -> Starlette:
        def page(name: str, headers: dict[str, str] | None = None) -> Route:
            return Route(f"/{name}", lambda _: FileResponse(HERE / name, headers=headers))

        return Starlette(
            routes=[
                page("host.html"),
                page("sandbox.html", {"Content-Security-Policy": SANDBOX_CSP}),
                Route("/bridge.js", lambda _: FileResponse(self.kit / "bridge.js", media_type="text/javascript")),
                Route("/scenario/{name}", self._scenario),
                Route("/call/{name}", self._call, methods=["POST"]),
            ]
        )

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[tuple[str, str]]:
        """(host origin, sandbox origin): one app on two loopback ports, so two origins."""
        host_socket, sandbox_socket = bind_loopback(), bind_loopback()
        server = make_server(self.app())
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [host_socket, sandbox_socket])
            try:
                yield tuple(f"http://127.0.0.1:{s.getsockname()[1]}" for s in (host_socket, sandbox_socket))  # type: ignore[misc]
            finally:
                server.should_exit = True

    async def drive(self, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """Run the plan in headless Chromium; the report of what each run's DOM showed."""
        async with self.serving() as (host, sandbox):
            plan = {
                "host": host,
                "sandbox": sandbox,
                "chromium": chromium_path(),
                "maxHeight": MAX_HEIGHT,
                "runs": runs,
            }
            with anyio.fail_after(DRIVER_TIMEOUT):
                done = await anyio.run_process(
                    ["node", str(HERE / "drive.mjs")],
                    input=json.dumps(plan).encode(),
                    env={**os.environ, "VIEWS_KIT": str(self.kit)},
                    check=False,
                )
        assert done.returncode == 0, f"the Chromium driver failed: {done.stderr.decode(errors='replace')[-3000:]}"
        report: dict[str, Any] = json.loads(done.stdout)
        return report
