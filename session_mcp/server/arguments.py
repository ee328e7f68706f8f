"""The tools' shared argument types: declared once, used by every tool that takes them.

They follow the tool-argument conventions (docs/tools.md), so every model provider takes the schemas unchanged:

- An optional argument that is ``null``, ``""``, ``[]`` or ``{}`` is not given: ``StrictTool``
  drops it before validation, so the tool sees its default, and the advertised schema adds
  ``null`` to every optional argument (``schema.input_schema``). A tool never tests for "empty".
- Text is plain ``str`` with ``""`` for none: the SDK JSON-decodes a string argument whose type
  is anything else, which would turn ``search="null"`` into no filter and ``'["x"]'`` into a list.
- No free-form objects: key-value pairs are ``"key=value"`` strings (``Tags``); a value with no
  fixed shape is a JSON object written as a string (``JsonObject``). The server still accepts a
  real object for either; the schema does not advertise it.
- Bounds are in the schema for the model and enforced here on every call.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from session_mcp.companion.client import MAX_FILTER_LENGTH, SessionFilters
from session_mcp.render.batch import MAX_CALL_IDS, MAX_DIGEST_IDS
from session_mcp.sessions.criteria import Criteria
from session_mcp.sessions.tags import parse_tag_pairs
from session_mcp.sessions.window_words import MAX_ZONE_NAME, WINDOW_FORMS

MAX_TURNS_PER_CALL = 1_000
MAX_BATCH = MAX_CALL_IDS
MAX_DIGESTS = MAX_DIGEST_IDS  # sessions one get_session_transcripts call takes as digest lines
DEFAULT_BATCH = 20
MAX_STATS = 2_000
MAX_TAGS = 20
MAX_JSON_CHARS = 20_000
TAG_EXAMPLE = "['channel=web', 'environment=production']"


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is required, not true/false")  # JSON true would otherwise read as 1
    return value


NO_BOOL = BeforeValidator(_no_bool)  # after the Field, so the bounds stay in the JSON schema


def _tags(value: Any) -> Any:
    """A list of ``"key=value"`` strings as a mapping; a mapping (still accepted) as it is."""
    if isinstance(value, str):
        raise ValueError(f"tags is a list of 'key=value' strings, e.g. {TAG_EXAMPLE}, not one string")
    if isinstance(value, list | tuple):
        if len(value) > MAX_TAGS:
            raise ValueError(f"at most {MAX_TAGS} tags")
        try:
            return parse_tag_pairs(value)
        except ValueError as exc:
            raise ValueError(f"{exc}; write tags like {TAG_EXAMPLE}") from None
    if isinstance(value, dict) and len(value) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return value


def _json_object(value: Any) -> Any:
    """A JSON object given as text (as advertised) or as an object, bounded in size."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise ValueError('not valid JSON: write a JSON object, e.g. \'{"instructions": "Be brief."}\'') from None
    if not isinstance(value, dict):
        raise ValueError('a JSON object is required, e.g. \'{"instructions": "Be brief."}\'')
    try:
        size = len(json.dumps(value, ensure_ascii=False))
    except (ValueError, TypeError, RecursionError):
        raise ValueError("not representable as JSON") from None
    if size > MAX_JSON_CHARS:
        raise ValueError(f"{size:,} characters as JSON; at most {MAX_JSON_CHARS:,}")
    return value


def _filter(description: str) -> Any:
    return Field(max_length=MAX_FILTER_LENGTH, description=description)


# The list filters, shared by every tool that reads sessions; "" is no filter.
CompanionId = Annotated[str, _filter("Only this companion's sessions; list_companions gives the ids.")]
ExternalClientId = Annotated[str, _filter("Only sessions of this external user/client id, e.g. 'user_12345'.")]
Search = Annotated[str, _filter("Free-text search, by the API.")]
Tags = Annotated[
    dict[str, str] | None,
    BeforeValidator(_tags),
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "pattern": "^[^=]+="}, "maxItems": MAX_TAGS},
        mode="validation",
    ),
    Field(description="All these tags, e.g. ['channel=web']."),
]
SessionId = Annotated[str, Field(description="A session id, as list_sessions shows it.")]
SessionIds = Annotated[
    list[str] | None,
    Field(
        max_length=MAX_DIGESTS,
        description=f"These sessions in order, instead of filters ({MAX_BATCH} at most in full).",
    ),
]
# A value with no fixed shape (provider settings, a client profile): advertised as text.
JsonObject = Annotated[
    dict[str, Any] | None,
    BeforeValidator(_json_object),
    WithJsonSchema({"type": "string", "maxLength": MAX_JSON_CHARS}, mode="validation"),
]


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


# -- time windows, client-side filters, batch detail (sessions/window.py, criteria.py) -------

MAX_WINDOW_TEXT = 64


def _one_or_more(value: Any) -> Any:
    """A list of values; one value as text (``"failed"``, or ``"failed,closed"``) is taken as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _values(description: str, *, most: int = 20) -> Any:
    return Field(max_length=most, description=description)


# A time window, parsed by window.parse_window in the call's time zone; "" leaves that side open.
# The forms are listed here once, for every tool: the tools' own descriptions only say "since/until".
Since = Annotated[
    str,
    Field(
        max_length=MAX_WINDOW_TEXT,
        description=f"Started at or after, e.g. {WINDOW_FORMS}. Alone, a span is taken whole.",
    ),
]
Until = Annotated[
    str,
    Field(max_length=MAX_WINDOW_TEXT, description="Started before (exclusive), like since."),
]
Timezone = Annotated[
    str,
    Field(
        max_length=MAX_ZONE_NAME,
        description="IANA zone of since/until and of times shown, e.g. America/New_York.",
    ),
]
StatusValue = Literal["pending", "started", "closed", "failed"]
# The states of a companion (a persona), as list_companions filters them: "pending,completed" works too.
CompanionStatus = Annotated[
    list[str] | None, BeforeValidator(_one_or_more), Field(max_length=10, description="e.g. ['readyToUse'].")
]
Status = Annotated[
    list[StatusValue] | None,
    BeforeValidator(_one_or_more),
    _values("Any of these (started: open; pending: never started).", most=4),
]
Value = Annotated[str, Field(max_length=100)]
CloseReason = Annotated[
    list[Value] | None,
    BeforeValidator(_one_or_more),
    _values("Any of these close reasons, e.g. idle_timeout."),
]
SessionType = Annotated[
    list[Value] | None,
    BeforeValidator(_one_or_more),
    _values("Any of: webrtc, websocket, voip, sip, kiosk."),
]
Modality = Annotated[
    list[Value] | None,
    BeforeValidator(_one_or_more),
    _values("Any of: audio, text, video."),
]
Detail = Annotated[
    Literal["full", "digest"],
    Field(
        description=f"full: whole sessions while they fit, then digest lines (at most {MAX_BATCH}); digest: a "
        f"line each, up to {MAX_DIGESTS}."
    ),
]
Cursor = Annotated[
    str,
    Field(
        max_length=400,
        description="next_cursor of the last answer (same filters).",
    ),
]


def session_criteria(
    status: list[StatusValue] | None,
    close_reason: list[str] | None,
    session_type: list[str] | None,
    modality: list[str] | None,
) -> Criteria:
    """The tools' client-side filter arguments as ``Criteria``; empty ones do not filter."""
    return Criteria.of(status=status, close_reason=close_reason, session_type=session_type, modality=modality)
