"""The MCP server: tools, transcript resources, prompts and completions over a ``CompanionClient``.

Thin on purpose: it checks arguments, calls the client, and hands results to ``render``. Client
errors become tool results whose text tells the model what to do next.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.mcpserver import Context, UserMessage
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CallToolResult,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    GetPromptRequestParams,
    ListResourcesResult,
    PaginatedRequestParams,
    Resource,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from session_mcp import __version__
from session_mcp.batch import ProgressCallback, collect_sessions, fetch_sessions
from session_mcp.client import MAX_PAGE_SIZE, CompanionClient, SessionFilters
from session_mcp.config import Settings
from session_mcp.errors import (
    AuthenticationError,
    CompanionError,
    InvalidInputError,
    NotFoundError,
    UpstreamUnavailableError,
)
from session_mcp.models import SessionDetail, SessionSummary
from session_mcp.redact import redactor
from session_mcp.render import (
    fit_batch,
    format_time,
    render_batch,
    render_session_page,
    render_stats,
    render_transcript,
    shorten_text,
    transcript_window,
)
from session_mcp.results import (
    BatchResult,
    ConnectionResult,
    Failure,
    SessionPageResult,
    StatsResult,
    TranscriptResult,
    session_page_result,
)
from session_mcp.schema import compact_schema
from session_mcp.stats import session_stats

logger = logging.getLogger(__name__)

TRANSCRIPT_URI = "napster://sessions/{session_id}/transcript"
SESSION_URI = "napster://sessions/{session_id}"
TENANT_KEY_HEADER = "x-napster-api-key"
RESOURCE_PAGE_SIZE = 50
COMPLETION_SCAN = 100
MAX_TURNS_PER_CALL = 1_000
MAX_BATCH = 100
DEFAULT_BATCH = 20
MAX_STATS = 2_000

INSTRUCTIONS = """\
Read and review the sessions (conversations between users and companions) of a Napster Companion \
API project. Start with list_sessions to find sessions and their ids (filters: companion, external \
client, free-text search, tags); read one conversation with get_session_transcript. For many \
sessions at once (summaries, QA review) use get_session_transcripts: one call, not one per session. \
For counts, durations and outcomes use session_stats. Times are UTC."""

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

# Shared argument types: described once, used by every tool that takes them.


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is required, not true/false")  # JSON true would otherwise read as 1
    return value


NO_BOOL = BeforeValidator(_no_bool)  # after the Field, so the bounds stay in the JSON schema
# Filters are plain ``str`` with "" for none: the SDK JSON-decodes string arguments of any other
# type first, which would turn search="null" into no filter and '["refund"]' into a list.
CompanionId = Annotated[str, Field(description="Only this companion's sessions, e.g. 'comp_abc123'.")]
ExternalClientId = Annotated[
    str, Field(description="Only sessions of this external user/client id, e.g. 'user_12345'.")
]
Search = Annotated[str, Field(description="Free-text search across sessions, as the Companion API does it.")]
Tags = Annotated[
    dict[str, str] | None,
    Field(description="Only sessions having all these tag key-value pairs, e.g. {'channel': 'web'}."),
]
SessionId = Annotated[str, Field(description="The session id exactly as list_sessions shows it, e.g. 'sess_abc123'.")]


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


def session_filters(
    companion_id: str, external_client_id: str, search: str, tags: dict[str, str] | None
) -> SessionFilters:
    """The tools' filter arguments for the client: an empty one does not filter."""
    return SessionFilters(
        companion_id=companion_id or None,
        external_client_id=external_client_id or None,
        search=search or None,
        tags=tags or None,
    )


def known_turns(client: CompanionClient, session_id: str) -> int | None:
    """The number of turns of a session this key has read recently, without any request."""
    cached = client.cache.peek(client.fingerprint, session_id)
    return len(cached.turns) if cached is not None else None


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


class StrictTool(Tool):
    """A tool that rejects unknown arguments by name and reports bad ones without echoing values.

    The SDK ignores arguments a tool does not declare; a filter the model believes it applied
    but that was dropped gives silently wrong answers, so here it is an error.
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
        tool.parameters = compact_schema(strict_model.model_json_schema(by_alias=True))
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = compact_schema(tool.fn_metadata.output_schema)
        return tool

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result)
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


class SessionTools:
    """The tools, resources and prompts, bound to one client and its settings."""

    def __init__(self, client: CompanionClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.shown = redactor(settings.redact_pii)  # personal data masked when --redact-pii is on

    async def list_sessions(
        self,
        ctx: Context,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        page_index: Annotated[int, Field(ge=0, le=1_000_000, description="Zero-based page number."), NO_BOOL] = 0,
        page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE, description="Sessions per page."), NO_BOOL] = 20,
    ) -> Annotated[CallToolResult, SessionPageResult]:
        """List sessions, newest first, one compact line each: id, companion, external client, start time,
        duration, turns (when known), status/close reason, tags. Use it to find session ids and to see what
        happened when; then read a conversation with get_session_transcript. Returns the page, the counts
        (matching / total) and the next page_index when there are more."""
        with tool_errors():
            client = self.client_for(ctx)
            page = await client.list_sessions(
                page_index=page_index,
                page_size=page_size,
                **session_filters(companion_id, external_client_id, search, tags),
            )
        result = session_page_result(page, page_index, page_size, known_turns=lambda i: known_turns(client, i))
        return structured(result, render_session_page(result))

    async def get_session_transcript(
        self,
        ctx: Context,
        session_id: SessionId,
        offset: Annotated[
            int, Field(ge=0, description="First turn to return (0-based), to page through."), NO_BOOL
        ] = 0,
        limit: Annotated[
            int, Field(ge=1, le=MAX_TURNS_PER_CALL, description="Most turns to return in this call."), NO_BOOL
        ] = 400,
    ) -> Annotated[CallToolResult, TranscriptResult]:
        """Read one session in full: its configuration (companion, functions, knowledge base, FAQs,
        external client, tags, any other fields the API sent), its timing (created, started, closed,
        duration) and its transcript as '[mm:ss] Agent: ...' lines timed from the session start. Long
        transcripts are cut to fit the context; the text then says how to ask for the rest (offset)."""
        with tool_errors():
            session = await self.fetch_session(ctx, session_id)
        result = transcript_window(session, offset, limit, self.settings.max_chars)
        return structured(result, render_transcript(result))

    async def create_connection(
        self,
        ctx: Context,
        companion_id: Annotated[str, Field(min_length=1, description="The companion to talk to, e.g. 'comp_abc123'.")],
        voice_id: Annotated[str, Field(min_length=1, description="Voice of the companion, e.g. 'alloy'.")],
        settings: Annotated[
            dict[str, Any] | None,
            Field(description="Provider settings, e.g. {'instructions': '...', 'turnDetection': {...}}."),
        ] = None,
        external_client_id: Annotated[
            str | None, Field(description="Your id for the end user: 1-32 of A-Z a-z 0-9 _ -.")
        ] = None,
        tags: Annotated[dict[str, str] | None, Field(description="String key-value pairs to tag the session.")] = None,
        language: Annotated[str | None, Field(description="Conversation language, e.g. 'en'.")] = None,
        knowledge_base_id: Annotated[str | None, Field(description="Knowledge base to use.")] = None,
        functions: Annotated[list[str] | None, Field(description="Function ids the companion may call.")] = None,
        faq_collections: Annotated[list[str] | None, Field(description="FAQ collection ids.")] = None,
        initial_speech: Annotated[str | None, Field(description="What the companion says first.")] = None,
        disable_idle_timeout: Annotated[bool | None, Field(description="Keep the session open when idle.")] = None,
    ) -> Annotated[CallToolResult, ConnectionResult]:
        """Start a new live session (a realtime connection) with a companion. Only when the user asks to
        start one: it creates a real session and may cost credits. Returns the new session id and a
        short-lived token for the realtime connection. The API allows one call every 5 seconds."""
        optional = {
            "external_client_id": external_client_id,
            "tags": tags,
            "language": language,
            "knowledge_base_id": knowledge_base_id,
            "functions": functions,
            "faq_collections": faq_collections,
            "initial_speech": initial_speech,
            "disable_idle_timeout": disable_idle_timeout,
        }
        with tool_errors():
            response = await self.client_for(ctx).create_connection(
                companion_id,
                voice_id,
                settings=settings,
                **{k: v for k, v in optional.items() if v is not None},
            )
        result = ConnectionResult(session_id=response.connection.id, token=response.token)
        text = (
            f"Created session {result.session_id}.\n"
            f"Token (a short-lived credential for the realtime connection; do not share or store it): "
            f"{result.token}\n"
            f"Once the conversation has happened, read it with get_session_transcript "
            f"session_id={result.session_id!r}."
        )
        return structured(result, text)

    async def get_session_transcripts(
        self,
        ctx: Context,
        session_ids: Annotated[
            list[str] | None,
            Field(max_length=MAX_BATCH, description="These sessions, in this order (or use the filters instead)."),
        ] = None,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        limit: Annotated[
            int | None,
            Field(ge=1, le=MAX_BATCH, description="Without session_ids: the newest this many sessions (default 20)."),
            NO_BOOL,
        ] = None,
        max_message_chars: Annotated[
            int, Field(ge=50, le=20_000, description="Longer messages are shortened, with a marker."), NO_BOOL
        ] = 600,
    ) -> Annotated[CallToolResult, BatchResult]:
        """Read many sessions' transcripts in ONE call, for summaries and QA review of many sessions: either
        the given session_ids, or the newest `limit` sessions matching the filters (same filters as
        list_sessions; none = the newest sessions of the project). Each session comes as a one-line header
        and its turns; the whole answer fits a character budget, so long messages are shortened and long
        transcripts cut, each with a marker; get_session_transcript reads any one in full. Sessions that
        cannot be read are listed with the reason, and the others still come back."""
        filters = session_filters(companion_id, external_client_id, search, tags)
        if session_ids is not None and (any(filters.values()) or limit is not None):
            raise ToolError(
                "Give either session_ids, or filters (companion_id, external_client_id, search, tags) and limit."
            )
        matched = None
        with tool_errors():
            client = self.client_for(ctx)
            if session_ids is None:
                summaries, matched = await collect_sessions(client, limit=limit or DEFAULT_BATCH, **filters)
                session_ids = [s.id for s in summaries]
            sessions, failures = await fetch_sessions(
                client, session_ids, concurrency=self.settings.concurrency, on_progress=progress_reporter(ctx)
            )
        sessions = [self.shown(session) for session in sessions]
        result = fit_batch(
            sessions,
            failures,
            requested=len(session_ids),
            matched=matched,
            max_message_chars=max_message_chars,
            budget=self.settings.max_chars,
        )
        return structured(result, render_batch(result))

    async def session_stats(
        self,
        ctx: Context,
        companion_id: CompanionId = "",
        external_client_id: ExternalClientId = "",
        search: Search = "",
        tags: Tags = None,
        limit: Annotated[
            int, Field(ge=1, le=MAX_STATS, description="Most sessions to look at, newest first."), NO_BOOL
        ] = 200,
        read_transcripts: Annotated[
            bool, Field(description="Also read transcripts for turn counts and silent sessions (slower).")
        ] = True,
    ) -> Annotated[CallToolResult, StatsResult]:
        """Aggregate figures over the newest `limit` sessions matching the filters (same as list_sessions):
        counts by companion, status, close reason and tag values (e.g. channel), durations (median, p90,
        max), turns per session, sessions in which the user never spoke, and the busiest hours (UTC). Says
        how many sessions it looked at and whether the limit cut the set. Use it for 'how are we doing'
        questions before reading transcripts."""
        with tool_errors():
            client = self.client_for(ctx)
            summaries, matched = await collect_sessions(
                client, limit=limit, **session_filters(companion_id, external_client_id, search, tags)
            )
            details: list[SessionDetail] = []
            failures: list[Failure] = []
            if read_transcripts:
                details, failures = await fetch_sessions(
                    client,
                    [s.id for s in summaries],
                    concurrency=self.settings.concurrency,
                    on_progress=progress_reporter(ctx),
                    use_cache=False,  # one pass over up to 2,000 sessions would only evict what reads keep
                )
        result = session_stats(summaries, details, matched=matched, limit=limit, unread=failures)
        return structured(result, render_stats(result))

    # -- shared by the tools, resources and prompts ----------------------------------------

    async def fetch_session(self, ctx: Context, session_id: str) -> SessionDetail:
        """One session for this request's key, as the model may see it."""
        return self.shown(await self.client_for(ctx).get_session(session_id))

    def from_the_start(self, session: SessionDetail) -> TranscriptResult:
        """The transcript from its first turn, as much of it as the character budget holds."""
        return transcript_window(session, 0, len(session.turns) or 1, self.settings.max_chars)

    def client_for(self, ctx: Context | ServerRequestContext[Any]) -> CompanionClient:
        """The client for this request: its own key when an HTTP request carries one, else the server's.

        The key in the X-Napster-Api-Key header serves that request only: it shares the connection
        pool, and the cache is partitioned by key, so no key ever reads another's data.
        """
        request = ctx.request_context.request if isinstance(ctx, Context) else ctx.request
        headers = getattr(request, "headers", None)
        key = headers.get(TENANT_KEY_HEADER) if headers is not None else None
        return self.client.with_api_key(key) if key else self.client

    # -- resources -------------------------------------------------------------------------

    async def read_transcript(self, session_id: str, ctx: Context) -> str:
        session = await self._resource_session(ctx, session_id, TRANSCRIPT_URI)
        return render_transcript(self.from_the_start(session))

    async def read_session(self, session_id: str, ctx: Context) -> str:
        session = await self._resource_session(ctx, session_id, SESSION_URI)
        return json.dumps(session.to_wire(), ensure_ascii=False)

    async def _resource_session(self, ctx: Context, session_id: str, template: str) -> SessionDetail:
        uri = template.format(session_id=session_id)
        try:
            return await self.fetch_session(ctx, session_id)
        except (NotFoundError, InvalidInputError) as exc:
            raise ResourceNotFoundError(f"{exc} List the sessions (resources/list or list_sessions).") from None
        except CompanionError as exc:
            raise ResourceError(f"Could not read {shorten_text(uri, 120)}: {advice(exc)}") from None

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        """The most recent sessions as concrete transcript resources, paged with an opaque cursor."""
        page_index = decode_cursor(params.cursor if params else None)
        try:
            page = await self.client_for(ctx).list_sessions(page_index=page_index, page_size=RESOURCE_PAGE_SIZE)
        except CompanionError as exc:
            raise protocol_error(exc) from None
        resources = [
            Resource(
                uri=TRANSCRIPT_URI.format(session_id=item.id),
                name=f"transcript-{item.id}",
                title=f"Transcript of {item.id} ({item.companion_id or 'unknown companion'})",
                description=render_resource_description(item),
                mime_type="text/markdown",
            )
            for item in page.items
        ]
        more = page.has_more(page_index, RESOURCE_PAGE_SIZE)
        return ListResourcesResult(resources=resources, next_cursor=encode_cursor(page_index + 1) if more else None)

    # -- completions -----------------------------------------------------------------------

    async def complete(self, ctx: ServerRequestContext[Any], request: BaseModel) -> CompleteResult:
        """Session ids by prefix over recent sessions; companion ids seen in recent sessions.

        A low-level handler rather than ``@completion()``: that decorator hides the request, and
        over HTTP the request's own key decides whose sessions to offer.
        """
        argument = cast(CompleteRequestParams, request).argument  # validated by the runner
        nothing = CompleteResult(completion=Completion(values=[], total=0, has_more=False))
        if argument.name not in ("session_id", "companion_id"):
            return nothing
        try:
            page = await self.client_for(ctx).list_sessions(page_size=COMPLETION_SCAN)
        except CompanionError:
            return nothing
        prefix = argument.value
        if argument.name == "session_id":
            candidates = [item.id for item in page.items]
        else:
            candidates = sorted({item.companion_id for item in page.items if item.companion_id})
        hits = [value for value in dict.fromkeys(candidates) if value.startswith(prefix)]
        return CompleteResult(completion=Completion(values=hits[:100], total=len(hits), has_more=len(hits) > 100))

    # -- prompts ---------------------------------------------------------------------------

    async def summarize_sessions(
        self,
        companion_id: Annotated[str, Field(description="Only this companion's sessions (empty = all).")] = "",
        count: Annotated[str, Field(description="How many recent sessions to cover (1-100).")] = "20",
        window: Annotated[str, Field(description="Time window in words, e.g. 'yesterday', 'last 7 days'.")] = "",
    ) -> list[UserMessage]:
        """Summarize recent sessions for a support lead: themes, outcomes, problems, follow-ups."""
        number = _prompt_count(count)
        scope = f"companion {companion_id}" if companion_id else "all companions"
        when = f" from {window}" if window else ""
        arguments = f"limit={number}" + (f", companion_id={companion_id!r}" if companion_id else "")
        return [
            UserMessage(
                f"Summarize the {number} most recent sessions of {scope}{when}. Today is "
                f"{datetime.now(UTC):%Y-%m-%d} (UTC).\n\n"
                f"Steps:\n"
                f"1. Call session_stats({arguments}) for the figures: statuses, durations, silent sessions.\n"
                f"2. Call get_session_transcripts({arguments}) once: it returns every transcript, newest first. "
                f"Keep the sessions in the time window{' ' + repr(window) if window else ''} (times are UTC). If "
                f"the window reaches past them, find older ids with list_sessions (page_index) and pass them as "
                f"session_ids. Read a cut transcript in full with get_session_transcript only when it matters.\n"
                f"3. Write the summary:\n"
                f"   - Overview: how many sessions, by status (closed, failed, open, never started), typical "
                f"duration.\n"
                f"   - Themes: what users asked for, grouped, with counts.\n"
                f"   - Outcomes: which sessions solved the user's problem and which did not; for each unsolved "
                f"one give the session id, what went wrong and a quote.\n"
                f"   - Risks: complaints, escalations, personal data shared, failures, silent sessions.\n"
                f"   - Follow-ups: concrete actions for the team (knowledge gaps, prompts to change, users to "
                f"call back).\n"
                f"Cite session ids and [mm:ss] times for every claim. Do not invent sessions you did not read."
            )
        ]

    async def qa_review_transcript(
        self,
        ctx: Context,
        session_id: Annotated[str, Field(description="The session to review.")],
        rubric: Annotated[str, Field(description="Your own criteria, one per line (empty = the default).")] = "",
    ) -> list[UserMessage]:
        """A scored QA review of one session's transcript, with quoted evidence and timestamps."""
        try:
            session = await self.fetch_session(ctx, session_id)
        except CompanionError as exc:
            raise protocol_error(exc) from None
        result = self.from_the_start(session)
        transcript = render_transcript(result)
        criteria = rubric.strip() or DEFAULT_RUBRIC
        return [
            UserMessage(
                "You are a QA reviewer for a customer-facing voice/text companion. Review the session below.\n\n"
                f"Rubric (score each 1-5, 5 = excellent; 'n/a' when it does not apply):\n{criteria}\n\n"
                "For each criterion give: the score, one or two sentences of reasoning, and at least one quote "
                "from the transcript as evidence with its [mm:ss] time. Then give: an overall score (the mean, "
                "one decimal), whether the user's need was met (yes / partly / no) and why, the single most "
                "important improvement, and any compliance flag (personal data read back, promises the "
                "companion cannot keep, unsafe advice). Quote only what is in the transcript."
                + (
                    "\n\nNote: the transcript was cut to fit; review what is shown and say so."
                    if result.truncated
                    else ""
                )
                + f"\n\n<transcript>\n{transcript}\n</transcript>"
            )
        ]


DEFAULT_RUBRIC = """\
- Greeting and identification: the companion introduces itself and sets expectations.
- Understanding: it identifies the user's real need, asking clarifying questions when needed.
- Resolution: the need is met, or a concrete next step is given.
- Accuracy: statements are correct and consistent with the companion's knowledge; no invention.
- Tone and empathy: polite, patient, adapted to the user's mood.
- Efficiency: no needless turns, repetition or dead ends.
- Compliance and privacy: personal data handled carefully; no promises beyond policy."""


def render_resource_description(item: SessionSummary) -> str:
    started = f", started {format_time(item.started)}" if item.started else ""
    return f"{item.state} session of {item.companion_id or '-'}{started}"


def encode_cursor(page_index: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": page_index}).encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    """The page index of a cursor this server minted; ``MCPError`` for anything else."""
    if not cursor:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        page_index = value["p"]
        if isinstance(page_index, int) and not isinstance(page_index, bool) and 0 <= page_index <= 1_000_000:
            return page_index
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise MCPError(code=INVALID_PARAMS, message="Invalid cursor: pass back a nextCursor this server returned.")


def _prompt_count(count: str) -> int:
    try:
        number = int(count.strip() or "20")
    except ValueError:
        raise MCPError(
            code=INVALID_PARAMS, message=f"count must be a whole number from 1 to 100, not {shorten_text(count, 20)!r}."
        ) from None
    if not 1 <= number <= 100:
        raise MCPError(code=INVALID_PARAMS, message=f"count must be from 1 to 100, not {number}.")
    return number


def build_server(client: CompanionClient, settings: Settings) -> MCPServer:
    """The MCP server for ``client``; ``settings.read_only`` leaves out every tool that writes."""
    tools = SessionTools(client, settings)
    registered: list[Tool] = [
        StrictTool.strict(tools.list_sessions, title="List sessions", annotations=READ),
        StrictTool.strict(tools.get_session_transcript, title="Read a session and its transcript", annotations=READ),
        StrictTool.strict(tools.get_session_transcripts, title="Read many transcripts at once", annotations=READ),
        StrictTool.strict(tools.session_stats, title="Session statistics", annotations=READ),
    ]
    if not settings.read_only:
        registered.append(
            StrictTool.strict(
                tools.create_connection,
                title="Start a new session",
                annotations=ToolAnnotations(
                    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
                ),
            )
        )
    server = MCPServer(
        "session-mcp",
        title="Napster Companion sessions",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level=settings.log_level,  # type: ignore[arg-type]
        tools=registered,
    )
    server.resource(
        TRANSCRIPT_URI,
        name="session-transcript",
        title="Session transcript",
        description="A session's configuration, timing and transcript as Markdown (cut to the budget like the tool).",
        mime_type="text/markdown",
    )(tools.read_transcript)
    server.resource(
        SESSION_URI,
        name="session",
        title="Session (JSON)",
        description="The full validated session as the API sent it, transcript included.",
        mime_type="application/json",
    )(tools.read_session)
    server.prompt(title="Summarize recent sessions")(tools.summarize_sessions)
    server.prompt(title="QA review of a transcript")(tools.qa_review_transcript)
    lowlevel = server._lowlevel_server  # the documented stop-gap for what MCPServer has no hook for
    lowlevel.add_request_handler("resources/list", PaginatedRequestParams, tools.list_resources)
    lowlevel.add_request_handler("completion/complete", CompleteRequestParams, tools.complete)
    guard_prompt_arguments(server)
    return server


def guard_prompt_arguments(server: MCPServer) -> None:
    """Answer unknown or missing prompt arguments with -32602 naming them.

    The SDK passes prompt arguments straight to the function, so a wrong name surfaces as a bare
    -32603 "Internal server error" and a logged traceback. This wraps its prompts/get handler.
    """
    lowlevel = server._lowlevel_server
    entry = lowlevel.get_request_handler("prompts/get")
    assert entry is not None  # MCPServer always registers it

    async def checked(ctx: ServerRequestContext[Any], request: BaseModel) -> Any:
        params = cast(GetPromptRequestParams, request)  # validated against entry.params_type by the runner
        prompt = next((p for p in await server.list_prompts() if p.name == params.name), None)
        if prompt is not None:
            declared = {argument.name: argument.required for argument in prompt.arguments or []}
            given = set(params.arguments or {})
            unknown = sorted(given - set(declared))
            missing = sorted(name for name, required in declared.items() if required and name not in given)
            if unknown or missing:
                problems = [f"unknown argument {shorten_text(name, 40)!r}" for name in unknown]
                problems += [f"missing argument {name!r}" for name in missing]
                raise MCPError(
                    code=INVALID_PARAMS,
                    message=f"{'; '.join(problems)} for prompt {prompt.name}: it takes {', '.join(declared)}.",
                )
        return await entry.handler(ctx, params)

    lowlevel.add_request_handler("prompts/get", entry.params_type, checked)
