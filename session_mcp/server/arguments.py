"""The tools' shared argument types: described once, used by every tool that takes them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from session_mcp.client import SessionFilters

MAX_TURNS_PER_CALL = 1_000
MAX_BATCH = 100
DEFAULT_BATCH = 20
MAX_STATS = 2_000


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
