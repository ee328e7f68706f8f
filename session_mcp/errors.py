"""The error hierarchy of the client, and the map of every error root in the package.

Every message says what happened and what the user can do about it, names the upstream error
``code`` when there is one, and never carries an API key, a token or a traceback: the server
hands these messages to a model as they are, and the CLI prints them as one line.

The roots, what raises them, and how they reach the user:

- ``CompanionError`` (here) and its subclasses. ``companion/http.py`` maps each answer of the
  API: 400 and other 4xx ``BadRequestError``, 401/403 ``AuthenticationError``, 404
  ``NotFoundError`` (``MissingEndpointError`` when a directory list itself is missing: an older
  API; ``server/directory.py`` says so in one line and goes on without it), 409 ``ConflictError``,
  429 ``RateLimitedError`` (after its retries), 5xx, timeouts and refused connections
  ``UpstreamUnavailableError``; a body over the bound, a redirect, or a body
  ``companion/ingest.py`` cannot read is ``InvalidResponseError``.
  ``InvalidInputError`` is an argument refused before anything is sent: a session id, a window
  or a time zone (``sessions/window.py``, ``window_words.py``: its ``UnreadableTimeError`` lists
  the forms a window takes), a client-side filter (``sessions/criteria.py``), a cursor (``sessions/cursors.py``:
  changed, foreign or for other filters), an export file that is not an export, a request's own
  empty key (``server/backend.py`` raises ``AuthenticationError`` for that one).
  A tool turns them into a tool error whose text adds the next step (``server/toolkit.py``:
  ``tool_errors``, ``advice``); a resource or prompt into a JSON-RPC error (``surface_errors``:
  -32602 for ``NotFoundError`` and ``InvalidInputError``, else -32603). Reading many sessions
  (``sessions/fetch.py``), one session's error becomes its ``Failure``: listed as not read by
  the batch and statistics tools, unread in a QA report, exit status 1 for ``sessions export``.
  On the command line: one ``session-mcp: ...`` line and exit status 2.
- ``ConfigError`` (``config.py``): a setting missing or invalid, and a bad ``--qa-rules`` file
  (``cli/main.py`` loads it right after the settings). One line at start-up, exit status 2.
- ``RulesError`` (``qa/rules.py``), with ``PatternError`` (``qa/patterns.py``) inside it: a
  rules file, rule or pattern refused, naming the rule and the field. At server start it becomes
  a ``ConfigError``; ``session-mcp qa --rules`` prints it as one line, exit status 2.
- ``OSError`` from a file the CLI reads or writes (``sessions/outfile.py``, the export file):
  ``session-mcp: cannot use <file>: <reason>.``, exit status 2.
- pydantic's ``ValidationError``: arguments that fail their types (the ``ValueError`` of a
  validator in ``server/arguments.py`` included) are ``Invalid arguments for <tool>: ...``;
  upstream data that does not fit a result model says the Companion API answered with data this
  server cannot use, naming the field (``server/toolkit.py``: ``unexpected_failure``).
- The SDK's ``ToolError`` and ``MCPError``, raised by ``server/`` itself for arguments that do
  not go together (``create_connection``'s two ways, ids with filters) and prompt arguments out
  of range; they reach the caller as they are. Anything unforeseen in a tool, resource, prompt,
  listing or completion becomes "<what> failed unexpectedly (<type>); the details are in the
  server's log", logged at ERROR with its traceback on stderr.
- ``argparse`` usage errors (``cli/``): the usage line and exit status 2. Ctrl+C at a terminal:
  the stdio server exits with status 130; ``sessions`` and ``qa`` print one line (an export
  resumes where it stopped).

The HTTP transport's refusals (401 without the bearer token, 421 for a foreign Host, 403 for a
foreign Origin, 503 when sessions or connections are full) are answers, not exceptions:
``server/transport.py``. Private exceptions (``ingest``'s nesting bound) never leave their module.
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


class MissingEndpointError(NotFoundError):
    """404 for a whole list (``/public/companions``, ``/public/agents``): an older API without it."""


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
