"""session-mcp: an MCP server and async client for Napster Companion API sessions.

The client is imported on first use (PEP 562), so importing a pure part of the package (render,
stats, the QA checks) does not load the HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from session_mcp.errors import (
    AuthenticationError,
    BadRequestError,
    CompanionError,
    ConflictError,
    InvalidInputError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    UpstreamUnavailableError,
)

if TYPE_CHECKING:
    from session_mcp.companion.client import CompanionClient
    from session_mcp.companion.http import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CompanionClient",
    "CompanionError",
    "ConflictError",
    "InvalidInputError",
    "InvalidResponseError",
    "NotFoundError",
    "RateLimitedError",
    "RetryPolicy",
    "UpstreamUnavailableError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "CompanionClient":
        from session_mcp.companion.client import CompanionClient

        return CompanionClient
    if name == "RetryPolicy":
        from session_mcp.companion.http import RetryPolicy

        return RetryPolicy
    raise AttributeError(f"module 'session_mcp' has no attribute {name!r}")
