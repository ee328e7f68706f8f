"""A minimal hello-world MCP server over stdio: the floor the benchmarks compare session-mcp with."""

from __future__ import annotations

from mcp.server import MCPServer

mcp = MCPServer("hello")


@mcp.tool()
async def hello(name: str = "world") -> str:
    """Say hello (async, like the session-mcp tools: no worker-thread hop)."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    mcp.run()
