"""What every tool shares: strict arguments, results with structured content, readable errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, ValidationError

from session_mcp.batch import ProgressCallback
from session_mcp.errors import (
    AuthenticationError,
    CompanionError,
    InvalidInputError,
    NotFoundError,
    UpstreamUnavailableError,
)
from session_mcp.render import shorten_text
from session_mcp.schema import compact_schema, input_schema

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


def structured(result: BaseModel, text: str) -> CallToolResult:
    """A tool result with the model as ``structuredContent`` (no nulls) and ``text`` for the model."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=result.model_dump(mode="json", exclude_none=True),
    )


def progress_reporter(ctx: Context) -> ProgressCallback:
    """Progress notifications for the caller (a no-op unless it asked for progress)."""

    async def report(done: int, total: int, message: str) -> None:
        await ctx.report_progress(done, total, message)

    return report


def advice(exc: CompanionError) -> str:
    """The client's message plus what the model should do next."""
    if isinstance(exc, NotFoundError):
        return f"{exc} Call list_sessions to find valid session ids."
    if isinstance(exc, AuthenticationError):
        return f"{exc} The model cannot fix this: tell the user to check the server's API key."
    if isinstance(exc, UpstreamUnavailableError):
        return f"{exc} Retry once; if it fails again, tell the user the Companion API is unavailable."
    return str(exc)


def protocol_error(exc: CompanionError) -> MCPError:
    """A JSON-RPC error for resources and prompts: the caller's fault (-32602) or upstream's (-32603)."""
    code = INVALID_PARAMS if isinstance(exc, NotFoundError | InvalidInputError) else INTERNAL_ERROR
    return MCPError(code=code, message=advice(exc))


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn client errors into ``ToolError`` results the model can read and act on."""
    try:
        yield
    except CompanionError as exc:
        raise ToolError(advice(exc)) from None


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

    @classmethod
    def strict(cls, fn: Callable[..., Any], **options: Any) -> StrictTool:
        # The docstring as one paragraph: its source indentation would otherwise reach the model.
        options.setdefault("description", " ".join((fn.__doc__ or "").split()))
        tool = cast(StrictTool, cls.from_function(fn, **options))  # from_function builds with cls(...)
        base = tool.fn_metadata.arg_model
        strict_model: type[ArgModelBase] = type(
            base.__name__, (base,), {"model_config": ConfigDict(extra="forbid"), "__module__": __name__}
        )
        tool.fn_metadata.arg_model = strict_model
        tool.parameters = input_schema(strict_model.model_json_schema(by_alias=True))
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = compact_schema(tool.fn_metadata.output_schema)
        return tool

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        # Decoded as the SDK will decode them, so '[]' or 'null' sent as text is empty too.
        decoded = self.fn_metadata.pre_parse_json(arguments)
        optional = set(self.parameters.get("properties", {})) - set(self.parameters.get("required", []))
        given = {name: value for name, value in decoded.items() if name not in optional or not is_empty(value)}
        try:
            return await super().run(given, context, convert_result)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            raise ToolError(self._describe(exc.__cause__)) from None

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
