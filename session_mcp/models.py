"""Pydantic v2 models of the Companion API wire format.

The wire format lives here only: camelCase aliases on the wire, snake_case in Python. Every
model accepts unknown fields and keeps them (``extra="allow"``), because the upstream API grows
fields and a new one must never break a user. Fields the reference does not guarantee are
optional with a default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Unix seconds. ``int | float`` keeps integers integers, so a session round-trips unchanged.
Timestamp = int | float


def from_unix(seconds: float | None) -> datetime | None:
    """The UTC ``datetime`` of a Unix timestamp in seconds; ``None`` when absent or not a real time.

    A NaN, an overflow or a time outside the calendar (milliseconds sent as seconds) becomes
    ``None`` rather than an exception: one odd field must not make a whole session unreadable.
    """
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _none_as(default: Any) -> BeforeValidator:
    """A validator reading JSON null as ``default``: the API may send null where we expect a value."""
    return BeforeValidator(lambda value: default if value is None else value)


class WireModel(BaseModel):
    """Base of every wire model: camelCase aliases, unknown fields kept, snake_case accepted."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        serialize_by_alias=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready wire form, unknown fields included, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class ConversationItem(WireModel):
    """One turn of a transcript."""

    role: Annotated[str, _none_as("unknown")] = Field("unknown", description="`agent` or `user`, else as sent.")
    text: Annotated[str, _none_as("")] = ""
    timestamp: Timestamp | None = None

    @property
    def at(self) -> datetime | None:
        return from_unix(self.timestamp)


class Conversation(WireModel):
    items: Annotated[list[ConversationItem], _none_as([])] = Field(default_factory=list)


# -- newer session fields: companion and agent objects, tool connection metrics ------------------


def _object_or_none(value: Any) -> Any:
    """``None`` for anything but an object: an odd ``companion`` or ``agent`` must not fail a session."""
    return value if isinstance(value, dict) else None


def _text_or_none(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def from_iso(text: str | None) -> datetime | None:
    """The UTC ``datetime`` of an ISO 8601 string (UTC when it has no offset); ``None`` when it is none."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


OptionalText = Annotated[str | None, BeforeValidator(_text_or_none)]


class NamedRef(WireModel):
    """A ``companion`` or ``agent`` object: its id and name, whatever else it carries kept."""

    id: OptionalText = None
    name: OptionalText = None


class FunctionError(WireModel):
    code: OptionalText = None
    message: OptionalText = None


class FunctionMetric(WireModel):
    """How one WebSocket tool connected in a session: ``state`` connected, failed or canceled.

    The timestamps are ISO 8601 strings on the wire (only those that happened are present);
    the properties give them as UTC ``datetime``.
    """

    name: OptionalText = None
    state: OptionalText = None
    started_at: OptionalText = None
    connected_at: OptionalText = None
    failed_at: OptionalText = None
    canceled_at: OptionalText = None
    error: Annotated[FunctionError | None, BeforeValidator(_object_or_none)] = None

    @property
    def started(self) -> datetime | None:
        return from_iso(self.started_at)

    @property
    def ended(self) -> datetime | None:
        """When it connected, failed or was canceled."""
        return from_iso(self.connected_at or self.failed_at or self.canceled_at)


def _metrics_or_none(value: Any) -> Any:
    """The entries that are objects; ``None`` for anything but a list."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else None


FunctionMetrics = Annotated[list[FunctionMetric] | None, BeforeValidator(_metrics_or_none)]


class SessionSummary(WireModel):
    """A session as it appears in a list page: configuration and timing, no transcript."""

    id: str
    companion_id: str | None = None
    functions: list[str] | None = None
    knowledge_base_id: str | None = None
    faq_ids: list[str] | None = None
    external_client_id: str | None = None
    tags: dict[str, Any] | None = None
    created_at: Timestamp | None = None
    started_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    # Published elsewhere by the vendor, optional and possibly null.
    status: str | None = None
    close_reason: str | None = None
    session_type: str | None = None
    modality: str | None = None
    mode: str | None = None
    cost: float | None = None
    companion: Annotated[NamedRef | None, BeforeValidator(_object_or_none)] = None
    agent: Annotated[NamedRef | None, BeforeValidator(_object_or_none)] = None

    @property
    def created(self) -> datetime | None:
        return from_unix(self.created_at)

    @property
    def started(self) -> datetime | None:
        return from_unix(self.started_at)

    @property
    def closed(self) -> datetime | None:
        return from_unix(self.closed_at)

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to close; ``None`` while the session is not both started and closed."""
        if self.started_at is None or self.closed_at is None:
            return None
        return max(0.0, self.closed_at - self.started_at)

    @property
    def is_closed(self) -> bool:
        """True when the session can no longer change: it has a close time or a final status."""
        return self.closed_at is not None or self.status in ("closed", "failed")

    @property
    def state(self) -> str:
        """The status the API gave, or one derived from the timestamps when it gave none."""
        if self.status:
            return self.status
        if self.closed_at is not None:
            return "closed"
        if self.started_at is not None:
            return "started"
        return "pending"

    @property
    def extra_fields(self) -> dict[str, Any]:
        """The fields the API sent that these models do not name."""
        return dict(self.model_extra or {})


class SessionDetail(SessionSummary):
    """One session with its transcript."""

    conversation: Conversation | None = None
    # One entry per WebSocket tool; earlier documents call the field functionStates.
    function_metrics: FunctionMetrics = None
    function_states: FunctionMetrics = None

    @property
    def turns(self) -> list[ConversationItem]:
        return self.conversation.items if self.conversation else []

    @property
    def tools(self) -> list[FunctionMetric]:
        """The tool connection metrics, under whichever name the API sent them."""
        return self.function_metrics or self.function_states or []


class SessionPage(WireModel):
    """One page of ``GET /public/sessions``."""

    items: Annotated[list[SessionSummary], _none_as([])] = Field(default_factory=list)
    filtered_count: int | None = None
    total_count: int | None = None
    page_index: int | None = None
    page_size: int | None = None

    def has_more(self, page_index: int, page_size: int) -> bool:
        """Whether sessions remain after this page, page number ``page_index`` asked with ``page_size``."""
        return self.more_after(page_index * (self.page_size or page_size) + len(self.items), page_size)

    def more_after(self, read: int, page_size: int) -> bool:
        """Whether sessions remain after this page, ``read`` being how many were read up to it.

        The counts decide when the API sends them (it may serve fewer per page than asked for);
        without counts, only a full page suggests more. An empty page always ends the list.
        """
        if not self.items:
            return False
        expected = self.filtered_count if self.filtered_count is not None else self.total_count
        if expected is not None:
            return read < expected
        return len(self.items) >= (self.page_size or page_size)


class ProviderConfig(WireModel):
    voice_id: str
    settings: dict[str, Any] = Field(default_factory=dict)


class SessionOptions(WireModel):
    """The per-session fields both connection calls take."""

    external_client_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    external_client_profile: Any = None
    tags: dict[str, str] | None = None
    initial_speech: str | None = None


class ConnectionRequest(SessionOptions):
    """Body of ``POST /public/connections``: a session assembled from a companion and a voice (the fallback)."""

    companion_id: str
    provider_config: ProviderConfig
    functions: list[str] | None = None
    faq_collections: list[str] | None = None
    knowledge_base_id: str | None = None
    language: str | None = None
    disable_idle_timeout: bool | None = None


ChannelType = Literal["webrtc", "websocket"]
CHANNEL_TYPES: tuple[ChannelType, ...] = ("webrtc", "websocket")


class AgentConnectionRequest(SessionOptions):
    """Body of ``POST /public/agents/{agentId}/connections``: the vendor's preferred connection call."""

    channel_type: ChannelType


class ConnectionInfo(WireModel):
    id: str


class ConnectionResponse(WireModel):
    """Answer of ``POST /public/connections``: ``connection.id`` is the new session id."""

    token: str = Field(repr=False)
    connection: ConnectionInfo


class ErrorBody(WireModel):
    """The upstream error body; ``type`` is a string in one example and a number in another."""

    code: Annotated[str | None, BeforeValidator(lambda v: v if v is None else str(v))] = None
    description: Annotated[str | None, BeforeValidator(lambda v: v if v is None else str(v))] = None
    type: str | int | None = None
    numeric_type: int | None = None


def encode_tags_query(tags: Mapping[str, str]) -> str:
    """The ``tags`` query value for a set of key-value pairs.

    Upstream documents the parameter only as "string". We send a compact JSON object
    (``{"channel":"web","environment":"production"}``): unlike ``k:v,k2:v2`` it stays
    unambiguous when a key or value holds a comma, a colon or an equals sign. This function and
    ``decode_tags_query`` are the one place to change if the real encoding turns out different.
    """
    return json.dumps(dict(sorted(tags.items())), separators=(",", ":"), ensure_ascii=False)


def decode_tags_query(raw: str) -> dict[str, str]:
    """The inverse of ``encode_tags_query``; raises ``ValueError`` on anything else."""
    value = json.loads(raw)
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("tags must be a JSON object of string values")
    return {str(k): v for k, v in value.items()}
