"""The one tool that writes: start a new live session."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from session_mcp.results import ConnectionResult
from session_mcp.server.arguments import JsonObject, Tags
from session_mcp.server.backend import Backend, is_session_id
from session_mcp.server.toolkit import structured, tool_errors

MAX_TOKEN_CHARS = 16_384  # far above any real JWT; a longer one is upstream garbage


class ConnectionTools(Backend):
    """Tools that create sessions (left out in read-only mode)."""

    async def create_connection(
        self,
        ctx: Context,
        companion_id: Annotated[str, Field(min_length=1, description="The companion to talk to, e.g. 'comp_abc123'.")],
        voice_id: Annotated[str, Field(min_length=1, description="Voice of the companion, e.g. 'alloy'.")],
        settings: Annotated[
            JsonObject,
            Field(description='Provider settings as a JSON object, e.g. \'{"instructions": "Be brief."}\'.'),
        ] = None,
        external_client_id: Annotated[
            str, Field(description="Your id for the end user: 1-32 of A-Z a-z 0-9 _ -.")
        ] = "",
        tags: Annotated[Tags, Field(description="Tags for the session, each 'key=value', e.g. ['channel=web'].")] = (
            None
        ),
        language: Annotated[str, Field(description="Conversation language, e.g. 'en'.")] = "",
        knowledge_base_id: Annotated[str, Field(description="Knowledge base to use.")] = "",
        functions: Annotated[list[str] | None, Field(description="Function ids the companion may call.")] = None,
        faq_collections: Annotated[list[str] | None, Field(description="FAQ collection ids.")] = None,
        initial_speech: Annotated[str, Field(description="What the companion says first.")] = "",
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
                **{k: v for k, v in optional.items() if v is not None and v != ""},
            )
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
