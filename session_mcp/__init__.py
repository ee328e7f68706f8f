"""session-mcp: an MCP server and async client for Napster Companion API sessions."""

from session_mcp.client import CompanionClient, RetryPolicy
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
