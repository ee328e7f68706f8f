"""The one tool that writes: start a new live session."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from session_mcp.companion.client import EXTERNAL_CLIENT_ID, MAX_SESSION_ID_LENGTH
from session_mcp.companion.models import ChannelType, ConnectionResponse
from session_mcp.errors import NotFoundError
from session_mcp.server.arguments import JsonObject, Tags
from session_mcp.server.backend import Backend, is_session_id
from session_mcp.server.directory import known_agents_note
from session_mcp.server.toolkit import structured, tool_errors

EITHER_WAY = "Give agent_id (the preferred way), or companion_id and voice_id."
MAX_ID = MAX_SESSION_ID_LENGTH  # any id: agent, companion, voice, knowledge base
MAX_IDS = 50  # function or FAQ collection ids in one call
MAX_SPEECH = 2_000
MAX_TOKEN_CHARS = 16_384  # far above any real JWT; a longer one is upstream garbage


class ConnectionResult(BaseModel):
    session_id: str
    token: str = Field(description="Short-lived credential for the realtime connection. Treat it as a secret.")


class ConnectionTools(Backend):
    """Tools that create sessions (left out in read-only mode)."""

    async def create_connection(
        self,
        ctx: Context,
        agent_id: Annotated[
            str, Field(max_length=MAX_ID, description="The agent to talk to, e.g. 'agent_abc123' (the preferred way).")
        ] = "",
        channel_type: Annotated[
            ChannelType | None, Field(description="With agent_id: 'webrtc' (the default) or 'websocket'.")
        ] = None,
        companion_id: Annotated[
            str,
            Field(max_length=MAX_ID, description="Instead of agent_id: the companion to talk to, e.g. 'comp_abc123'."),
        ] = "",
        voice_id: Annotated[
            str, Field(max_length=MAX_ID, description="With companion_id: the voice, e.g. 'alloy'.")
        ] = "",
        settings: Annotated[
            JsonObject,
            Field(description='With companion_id: provider settings, a JSON object, e.g. \'{"instructions": "Hi"}\'.'),
        ] = None,
        external_client_id: Annotated[
            str, Field(pattern=EXTERNAL_CLIENT_ID, description="Your id for the end user: 1-32 of A-Z a-z 0-9 _ -.")
        ] = "",
        external_client_profile: Annotated[
            JsonObject,
            Field(description='What the agent may know of the user, a JSON object, e.g. \'{"plan": "pro"}\'.'),
        ] = None,
        tags: Annotated[Tags, Field(description="Tags for the session, each 'key=value', e.g. ['channel=web'].")] = (
            None
        ),
        initial_speech: Annotated[
            str, Field(max_length=MAX_SPEECH, description="An instruction for the opening line.")
        ] = "",
        language: Annotated[
            str, Field(max_length=35, description="With companion_id: conversation language, e.g. 'en'.")
        ] = "",
        knowledge_base_id: Annotated[
            str, Field(max_length=MAX_ID, description="With companion_id: knowledge base to use.")
        ] = "",
        functions: Annotated[
            list[str] | None,
            Field(max_length=MAX_IDS, description="With companion_id: function ids the companion may call."),
        ] = None,
        faq_collections: Annotated[
            list[str] | None, Field(max_length=MAX_IDS, description="With companion_id: FAQ collection ids.")
        ] = None,
        disable_idle_timeout: Annotated[
            bool, Field(description="With companion_id: keep the session open when idle.")
        ] = False,
    ) -> Annotated[CallToolResult, ConnectionResult]:
        """Start a new live session (a realtime connection). Only when the user asks to start one: it
        creates a real session and may cost credits. Either give agent_id (the preferred way; channel_type
        webrtc or websocket), or companion_id and voice_id (with optional provider settings). Returns the
        new session id and a short-lived token for the realtime connection. The API allows one call every
        5 seconds."""
        shared = {
            "external_client_id": external_client_id,
            "external_client_profile": external_client_profile,
            "tags": tags,
            "initial_speech": initial_speech,
        }
        companion_only = {
            "settings": settings,
            "language": language,
            "knowledge_base_id": knowledge_base_id,
            "functions": functions,
            "faq_collections": faq_collections,
            "disable_idle_timeout": disable_idle_timeout or None,
        }
        with tool_errors():
            client = self.client_for(ctx)
            if agent_id:
                refuse_mixed(given({"companion_id": companion_id, "voice_id": voice_id, **companion_only}))
                try:
                    response = await client.create_agent_connection(agent_id, channel_type or "webrtc", **given(shared))
                except NotFoundError as exc:
                    known = await known_agents_note(self.client, client)
                    raise ToolError(
                        f"{exc} Check agent_id: it must be an agent of this API key's project.{known} {EITHER_WAY}"
                    ) from None
            else:
                check_companion_way(companion_id, voice_id, channel_type)
                response = await client.create_connection(companion_id, voice_id, **given(shared | companion_only))
        return connection_answer(response)


def given(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments that were given (the tool's defaults are all empty)."""
    return {name: value for name, value in arguments.items() if value not in (None, "")}


def refuse_mixed(companion_arguments: dict[str, Any]) -> None:
    if companion_arguments:
        raise ToolError(
            f"{', '.join(companion_arguments)} cannot go with agent_id: an agent brings its own companion, voice "
            f"and settings. {EITHER_WAY}"
        )


def check_companion_way(companion_id: str, voice_id: str, channel_type: str | None) -> None:
    """Refuse a call that is neither way, or half of the companion-and-voice way."""
    missing = [name for name, value in (("companion_id", companion_id), ("voice_id", voice_id)) if not value]
    if len(missing) == 2:
        raise ToolError(f"No session to start: {EITHER_WAY}")
    if missing:
        raise ToolError(f"{missing[0]} is missing: companion_id and voice_id go together. {EITHER_WAY}")
    if channel_type:
        raise ToolError(f"channel_type goes with agent_id only. {EITHER_WAY}")


def connection_answer(response: ConnectionResponse) -> CallToolResult:
    if len(response.token) > MAX_TOKEN_CHARS or not is_session_id(response.connection.id):
        raise ToolError(
            f"The Companion API answered with a token of {len(response.token):,} characters and a session id "
            f"of {len(response.connection.id):,}: not a usable connection. A session may have been created: "
            "look for it with list_sessions before trying again."
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
