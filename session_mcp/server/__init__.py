"""The MCP server: tools, transcript resources, prompts and completions over a ``CompanionClient``.

Thin on purpose: each surface lives in its own module (``tools``, ``review``, ``connection``,
``resources``, ``prompts``, ``completions``, ``views``; shared argument types in ``arguments``,
tool plumbing in ``toolkit``, the shared state in ``backend``) and hands the work to the answers
one tier down (``render``, ``stats``, ``qa``). Client errors become tool results whose text tells
the model what to do next. ``transport`` runs the server; ``schema`` compacts its schemas.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from mcp.server import CacheHint, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.types import CompleteRequestParams, PaginatedRequestParams, ToolAnnotations
from mcp_types.methods import CacheableMethod

from session_mcp import __version__
from session_mcp.companion.client import CompanionClient
from session_mcp.config import TOOLSETS, Settings
from session_mcp.server.annotate import WRITES_LOCALLY, AnnotateTools
from session_mcp.server.backend import utc_now
from session_mcp.server.completions import Completions
from session_mcp.server.connection import ConnectionTools
from session_mcp.server.directory import DirectoryTools
from session_mcp.server.health import add_health_routes
from session_mcp.server.icons import icon
from session_mcp.server.prompts import Prompts, guard_prompt_arguments
from session_mcp.server.reports import REPORT_URI
from session_mcp.server.resources import SESSION_URI, TRANSCRIPT_URI, Resources
from session_mcp.server.review import ReviewTools
from session_mcp.server.search import SearchTools
from session_mcp.server.storage import ServerStore
from session_mcp.server.tasks import TASK_TOOLS, Runner, TasksExtension
from session_mcp.server.tasks import lifespan as tasks_lifespan
from session_mcp.server.toolkit import READ, StrictTool
from session_mcp.server.tools import ReadTools
from session_mcp.server.toolsets import TOOLSET_OF, select_tools
from session_mcp.server.views import apps_extension, ui_meta
from session_mcp.views import DASHBOARD, TRANSCRIPT

__all__ = ["build_server"]

INSTRUCTIONS = """\
Read and review the sessions (conversations between users and companions) of a Napster Companion \
API project. Start with list_sessions to find sessions and their ids (filters: companion, external \
client, free-text search, tags, a time window since/until such as since='yesterday', status, close \
reason, session type, modality); read one conversation with get_session_transcript. For many \
sessions at once (summaries, QA review) use get_session_transcripts: one call, not one per session; \
detail='digest' covers hundreds of sessions in one line each. For counts, outcomes, failures and \
cost use session_stats with the same filters; to find the sessions worth a QA look among many, \
review_sessions. Windows and times are in timezone (an IANA name; the server's by default)."""

# How long a 2026-07-28 client may reuse an answer. The lists of tools, prompts and templates are the
# same for every caller while the server runs ("public"); sessions are a tenant's own and open ones
# change ("private", short). Tool results carry no hint: a resource_link plus resources/read does.
FIXED = CacheHint(ttl_ms=300_000, scope="public")
CACHE_HINTS: dict[CacheableMethod, CacheHint] = {
    "tools/list": FIXED,
    "prompts/list": FIXED,
    "resources/templates/list": FIXED,
    "server/discover": FIXED,
    "resources/list": CacheHint(ttl_ms=10_000, scope="private"),
    "resources/read": CacheHint(ttl_ms=10_000, scope="private"),
}


def instructions_for(tools: list[StrictTool], settings: Settings) -> str:
    """The instructions, and when only some toolsets are served, which tools there are: the text
    names tools a model should not look for otherwise."""
    if set(settings.toolsets) == set(TOOLSETS):
        return INSTRUCTIONS
    return f"{INSTRUCTIONS} This server serves only these tools: {', '.join(tool.name for tool in tools)}."


def build_server(
    client: CompanionClient, settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> MCPServer:
    """The MCP server for ``client``; ``settings.read_only`` leaves out every tool that writes.

    Only the tools of ``settings.toolsets`` are served, in the order ``toolsets`` states.

    ``clock`` is "now" for time windows (``since='yesterday'``): UTC wall time unless given.
    """
    # One store for every surface, opened on first use, closed with the server's lifespan.
    stores = ServerStore(settings.store_path(os.environ), retain_days=settings.retain_days, clock=clock or utc_now)
    tools = ReadTools(client, settings, clock, stores=stores)
    resources = Resources(client, settings, stores=stores)
    prompts = Prompts(client, settings, clock, stores=stores)
    directory = DirectoryTools(client, settings, clock, stores=stores)
    review = ReviewTools(client, settings, clock, stores=stores)
    registered: list[StrictTool] = [
        StrictTool.strict(
            tools.list_sessions, reads_on=("page_size", "cursor", "page_index"), title="List sessions", annotations=READ
        ),
        StrictTool.strict(
            tools.get_session_transcript,
            reads_on=("offset", "limit"),
            title="Read a session and its transcript",
            annotations=READ,
            meta=ui_meta(TRANSCRIPT),
        ),
        StrictTool.strict(
            tools.get_session_transcripts,
            reads_on=("limit", "session_ids", "until", "detail"),
            title="Read many transcripts at once",
            annotations=READ,
        ),
        StrictTool.strict(
            tools.session_stats,
            reads_on=("limit", "since", "until"),
            title="Session statistics",
            annotations=READ,
            meta=ui_meta(DASHBOARD),
        ),
        StrictTool.strict(
            review.review_sessions,
            reads_on=("limit", "session_ids", "until"),
            title="Automated QA review",
            annotations=READ,
            meta=ui_meta(DASHBOARD),
        ),
        StrictTool.strict(
            directory.list_companions, reads_on=("page_size", "page_index"), title="List companions", annotations=READ
        ),
        StrictTool.strict(
            directory.list_agents, reads_on=("page_size", "page_index"), title="List agents", annotations=READ
        ),
    ]
    if stores.path is not None:
        registered.append(
            StrictTool.strict(
                SearchTools(client, settings, clock, stores=stores).search_transcripts,
                reads_on=("page_size", "cursor"),
                title="Search transcripts",
                annotations=READ,
            )
        )
    if stores.path is not None and not settings.read_only:  # it writes the local store: not in read-only mode
        registered.append(
            StrictTool.strict(
                AnnotateTools(client, settings, clock, stores=stores).annotate_session,
                title="Confirm or dispute a QA finding",
                annotations=WRITES_LOCALLY,
            )
        )
    if not settings.read_only:
        registered.append(
            StrictTool.strict(
                ConnectionTools(client, settings).create_connection,
                title="Start a new session",
                annotations=ToolAnnotations(
                    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
                ),
            )
        )
    registered = select_tools(registered, settings.toolsets)
    for tool in registered:
        tool.max_chars = settings.max_chars  # the bound of every answer's text
        tool.icons = [icon(TOOLSET_OF[tool.name])]

    @asynccontextmanager
    async def lifespan(server: object) -> AsyncIterator[Runner]:
        """The store closed when the server ends; the task group that tasks run in."""
        async with stores.lifespan(server), tasks_lifespan(server) as runner:
            yield runner

    server = MCPServer(
        "session-mcp",
        title="Napster Companion sessions",
        version=__version__,
        instructions=instructions_for(registered, settings),
        icons=[icon("server")],
        cache_hints=CACHE_HINTS,
        log_level=settings.log_level,  # type: ignore[arg-type]
        tools=list[Tool](registered),
        extensions=[apps_extension(registered), TasksExtension(TASK_TOOLS)],  # the views (see _meta above); tasks
        lifespan=lifespan,
    )
    server.resource(
        TRANSCRIPT_URI,
        name="session-transcript",
        title="Session transcript",
        description="A session's configuration, timing and transcript as Markdown (cut to the budget like the tool).",
        mime_type="text/markdown",
    )(resources.read_transcript)
    server.resource(
        SESSION_URI,
        name="session",
        title="Session (JSON)",
        description="The full validated session as the API sent it, transcript included.",
        mime_type="application/json",
    )(resources.read_session)
    server.resource(
        REPORT_URI,
        name="qa-report",
        title="QA report (HTML)",
        description="A review_sessions report as a page to read or send; only the API key that ran it reads it.",
        mime_type="text/html",
    )(review.read_report)
    server.prompt(title="Summarize recent sessions")(prompts.summarize_sessions)
    server.prompt(title="QA review of a transcript")(prompts.qa_review_transcript)
    server.prompt(title="QA triage of flagged sessions")(prompts.qa_triage)
    lowlevel = server._lowlevel_server  # the documented stop-gap for what MCPServer has no hook for
    lowlevel.add_request_handler("resources/list", PaginatedRequestParams, resources.list_resources)
    lowlevel.add_request_handler("completion/complete", CompleteRequestParams, Completions(client, settings).complete)
    guard_prompt_arguments(server)
    add_health_routes(server, client, settings)
    return server
