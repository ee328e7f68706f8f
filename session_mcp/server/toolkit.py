"""What every tool shares: strict arguments, results with structured content, readable errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CallToolResult,
    ResourceLink,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from session_mcp.companion.ingest import describe_validation_error
from session_mcp.config import Settings
from session_mcp.errors import (
    AuthenticationError,
    CompanionError,
    InvalidInputError,
    NotFoundError,
    UpstreamUnavailableError,
)
from session_mcp.render.common import fit_text
from session_mcp.render.lines import one_line, shorten_text
from session_mcp.server.schema import compact_schema, input_schema
from session_mcp.server.tasks import report_progress
from session_mcp.sessions.fetch import ProgressCallback
from session_mcp.store.base import StoreError

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
MAX_ERROR_CHARS = 1_000
DEFAULT_MAX_CHARS = Settings.max_chars

logger = logging.getLogger(__name__)
_TEMPLATES: dict[tuple[object, str], StrictTool] = {}  # see StrictTool.strict


def structured(result: BaseModel, text: str) -> CallToolResult:
    """A tool result with the model as ``structuredContent`` (no nulls) and ``text`` for the model."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=result.model_dump(mode="json", exclude_none=True),
    )


def resource_link(uri: str, name: str, *, title: str, description: str, mime_type: str) -> ResourceLink:
    """Content that points to a resource the host can read (``resources/read``) instead of inlining it:
    for what is better fetched than read by the model (a session's JSON, a QA report's HTML)."""
    return ResourceLink(
        type="resource_link", uri=uri, name=name, title=title, description=description, mime_type=mime_type
    )


def linked(result: CallToolResult, *links: ResourceLink) -> CallToolResult:
    """``result`` with ``links`` after its text (the text stays the first block, for every host)."""
    result.content.extend(links)
    return result


def progress_reporter(ctx: Context) -> ProgressCallback:
    """Progress for the caller: notifications (a no-op unless it asked), or its task's status."""

    async def report(done: int, total: int, message: str) -> None:
        await report_progress(ctx, done, total, message)

    return report


def error_text(text: str) -> str:
    """An error message as it may reach the model: one line, at most ``MAX_ERROR_CHARS``.

    Every error of a tool, resource or prompt passes here, so upstream text quoted in one (a
    description, an id) can neither forge lines nor flood the context.
    """
    return one_line(text, MAX_ERROR_CHARS - 24)  # room for the cut mark, "… [+12345678 chars]"


def advice(exc: CompanionError) -> str:
    """The client's message plus what the model should do next."""
    if isinstance(exc, NotFoundError):
        return error_text(f"{exc} Call list_sessions to find valid session ids.")
    if isinstance(exc, AuthenticationError):
        return error_text(f"{exc} The model cannot fix this: tell the user to check the API key.")
    if isinstance(exc, UpstreamUnavailableError):
        return error_text(f"{exc} Retry once; if it fails again, tell the user the Companion API is unavailable.")
    return error_text(str(exc))


def unexpected_failure(error: BaseException | None, what: str) -> str:
    """What the caller reads when something unforeseen failed after the arguments were accepted.

    A ``ValidationError`` there comes from upstream data that does not fit (never from the
    arguments, which were checked first): say so, and which field. Anything else is a fault
    of this server: logged with its traceback on stderr, named only by its type here.
    """
    if isinstance(error, ValidationError):
        logger.warning("%s: upstream data did not fit: %s", what, describe_validation_error(error))
        return error_text(
            f"{what} failed: the Companion API answered with data this server cannot use "
            f"({describe_validation_error(error)}). This is an upstream problem, not a problem with the "
            "arguments: try another session or page, and report it if it persists."
        )
    logger.error("%s failed unexpectedly", what, exc_info=error)
    kind = type(error).__name__ if error is not None else "unknown error"
    return error_text(
        f"{what} failed unexpectedly ({kind}); the details are in the server's log. Try again once; if it "
        "fails again, tell the user."
    )


def protocol_error(exc: CompanionError) -> MCPError:
    """A JSON-RPC error for resources and prompts: the caller's fault (-32602) or upstream's (-32603)."""
    code = INVALID_PARAMS if isinstance(exc, NotFoundError | InvalidInputError) else INTERNAL_ERROR
    return MCPError(code=code, message=advice(exc))


@contextmanager
def surface_errors(what: str) -> Iterator[None]:
    """Resources, prompts, listings and completions: every failure becomes an ``MCPError`` that says why.

    Without it the SDK answers an unforeseen exception with a bare "Internal server error" (or
    "Error reading resource"); deliberate errors pass through unchanged.
    """
    try:
        yield
    except (MCPError, ResourceError):
        raise
    except CompanionError as exc:
        raise protocol_error(exc) from None
    except Exception as exc:
        raise MCPError(code=INTERNAL_ERROR, message=unexpected_failure(exc, what)) from None


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn client errors into ``ToolError`` results the model can read and act on."""
    try:
        yield
    except CompanionError as exc:
        raise ToolError(advice(exc)) from None
    except StoreError as exc:  # its message already says what to do (busy: again; damaged: move it away)
        raise ToolError(str(exc)) from None


def is_empty(value: Any) -> bool:
    """``null``, ``""``, ``[]`` or ``{}``: how a strict-mode model says "not given"."""
    return value is None or (isinstance(value, str | list | dict) and not value)


class StrictTool(Tool):
    """A tool that rejects unknown arguments by name and reports bad ones without echoing values.

    The SDK ignores arguments a tool does not declare; a filter the model believes it applied
    but that was dropped gives silently wrong answers, so here it is an error. An optional
    argument that is empty is dropped before validation, so the tool sees its default: a model
    that fills every field (strict mode) is understood, and an empty argument never counts
    against another that excludes it.
    """

    max_chars: int = Field(DEFAULT_MAX_CHARS, exclude=True, description="The most characters of text an answer has")
    reads_on: tuple[str, ...] = Field((), exclude=True, description="The arguments that ask for less or read on")

    @classmethod
    def strict(cls, fn: Callable[..., Any], *, reads_on: tuple[str, ...] = (), **options: Any) -> StrictTool:
        """The tool for ``fn``; a method's schemas are built once and shared by every instance.

        Building them is most of what ``build_server`` costs (about 0.12 s for all the tools),
        and a method's signature is the same for every object it is bound to. ``reads_on`` names
        the arguments a cut answer's note points to; each must be one of the tool's own.
        """
        key = (getattr(fn, "__func__", fn), repr(sorted(options.items())))
        template = _TEMPLATES.get(key)
        if template is None:
            template = _TEMPLATES[key] = cls._build(fn, **options)
        unknown = set(reads_on) - set(template.parameters.get("properties", {}))
        if unknown:
            raise ValueError(f"{template.name} has no argument {', '.join(sorted(unknown))} to read on with")
        return template.model_copy(update={"fn": fn, "reads_on": reads_on})

    @classmethod
    def _build(cls, fn: Callable[..., Any], **options: Any) -> StrictTool:
        # The docstring as one paragraph: its source indentation would otherwise reach the model.
        options.setdefault("description", " ".join((fn.__doc__ or "").split()))
        tool = cast(StrictTool, cls.from_function(fn, **options))  # from_function builds with cls(...)
        base = tool.fn_metadata.arg_model
        # Its validator is built at the tool's first call, not at start-up; the advertised schema is
        # the one from_function made of the same fields (input_schema drops the root's extra setting).
        config = ConfigDict(extra="forbid", defer_build=True)
        strict_model: type[ArgModelBase] = type(
            base.__name__, (base,), {"model_config": config, "__module__": __name__}
        )
        tool.fn_metadata.arg_model = strict_model
        tool.parameters = input_schema(tool.parameters)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = compact_schema(tool.fn_metadata.output_schema)
        return tool

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        """Run the tool; every error it ends with is one bounded line that blames the right party.

        The SDK raises a plain ``ToolError`` caused by a ``ValidationError`` only for the
        arguments; a ``ValidationError`` (or anything unforeseen) inside the tool arrives as an
        ``UnexpectedToolError``, whose bare "Error executing tool X" would tell the model nothing.
        """
        # Decoded as the SDK will decode them, so '[]' or 'null' sent as text is empty too.
        decoded = self.fn_metadata.pre_parse_json(arguments)
        optional = set(self.parameters.get("properties", {})) - set(self.parameters.get("required", []))
        given = {name: value for name, value in decoded.items() if name not in optional or not is_empty(value)}
        try:
            result = await super().run(given, context, convert_result)
        except UnexpectedToolError as exc:
            reason = unexpected_failure(exc.__cause__, f"The {self.name} tool")
            raise ToolError(error_text(f"Error executing tool {self.name}: {reason}")) from None  # cut after the prefix
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(error_text(self._describe(exc.__cause__))) from None
            raise ToolError(error_text(str(exc))) from None
        if isinstance(result, CallToolResult):
            for block in result.content:
                if isinstance(block, TextContent):
                    block.text = fit_text(block.text, self.max_chars, self.ask_for_less())
        return result

    def ask_for_less(self) -> str:
        """What the note of a cut answer advises: this tool's own arguments that ask for less or read on."""
        if not self.reads_on:
            return "Ask for less."
        return f"Ask for less or read on with {self.name}'s own arguments: {', '.join(self.reads_on)}."

    def _describe(self, error: ValidationError) -> str:
        known = ", ".join(self.parameters.get("properties", {}))
        problems = []
        for item in error.errors():
            name = ".".join(str(part) for part in item["loc"])
            if item["type"] == "extra_forbidden":
                problems.append(f"unknown argument {shorten_text(name, 40)!r}")
            else:
                problems.append(f"{name}: {item['msg']}")
        return f"Invalid arguments for {self.name}: {'; '.join(problems)}. It accepts: {known}."
