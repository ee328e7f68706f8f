"""The error hierarchy of the client.

Every message says what happened and what the user can do about it, names the upstream error
``code`` when there is one, and never carries an API key, a token or a traceback: the server
hands these messages to a model as they are.
"""

from __future__ import annotations


class CompanionError(Exception):
    """Root of every error the client raises."""

    status: int | None = None
    code: str | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInputError(CompanionError, ValueError):
    """An argument was rejected before any request was sent."""


class AuthenticationError(CompanionError):
    """401 or 403: the API key is missing, wrong, expired or lacks the right."""


class NotFoundError(CompanionError):
    """404: no such session for this key (a session of another project looks the same)."""


class RateLimitedError(CompanionError):
    """429: too many requests; ``retry_after`` is the wait in seconds the API asked for."""

    status = 429

    def __init__(self, message: str, *, retry_after: float | None, code: str | None = None) -> None:
        super().__init__(message, status=429, code=code)
        self.retry_after = retry_after


class ConflictError(CompanionError):
    """409: a limit was reached, e.g. too many live sessions."""


class BadRequestError(CompanionError):
    """400 (or another 4xx): the API refused the request as sent."""

    def __init__(
        self, message: str, *, status: int = 400, code: str | None = None, description: str | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.description = description


class UpstreamUnavailableError(CompanionError):
    """5xx, a timeout or a refused connection: the API could not answer now."""


class InvalidResponseError(CompanionError):
    """The API answered with something that is not the documented shape."""
