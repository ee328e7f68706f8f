"""Pydantic v2 models of the Companion API wire format.

The wire format lives here only: camelCase aliases on the wire, snake_case in Python. Every
model accepts unknown fields and keeps them (``extra="allow"``), because the upstream API grows
fields and a new one must never break a user. Fields the reference does not guarantee are
optional with a default.

Upstream bodies reach these models through ``session_mcp.companion.ingest``, which makes their text valid
Unicode without control characters and their numbers finite. The field types here add what
depends on the field: single-line text where a line break could forge a line of output,
timestamps that are plausible or unknown, counts and costs within bounds or unknown.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

from session_mcp.companion.sanitize import shorten, single_line

MAX_PAGE_SIZE = 100  # the most rows one list page may hold

EARLIEST_TIME = 946_684_800  # 2000-01-01T00:00:00Z
LATEST_TIME = 4_102_444_800  # 2100-01-01T00:00:00Z
MAX_COUNT = 10**12
MAX_COST = 1e9  # USD, either sign
MAX_CODE_CHARS = 80
MAX_DESCRIPTION_CHARS = 300
_NUMERIC = re.compile(r"[-+]?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:[eE][-+]?[0-9]{1,3})?")


def _finite_number(value: Any) -> int | float | None:
    """A finite JSON number, or a string that is cleanly one (``" 1710000000 "``); else ``None``."""
    if isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        text = value.strip()
        value = int(text) if text.lstrip("+-").isdigit() else float(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _within(low: float, high: float, *, integral: bool = False) -> BeforeValidator:
    """A validator reading anything but a number in ``[low, high]`` as unknown (``None``).

    One implausible value (a timestamp in milliseconds, ``1e308``, a count of ``-1``, a cost
    given as ``"n/a"``) must not make a whole session unreadable, nor overflow what adds it up.
    """

    def check(value: Any) -> int | float | None:
        if type(value) is int and low <= value <= high:  # the usual case, without the general checks
            return value
        number = _finite_number(value)
        if number is None or not low <= number <= high:
            return None
        if integral:
            return int(number) if float(number).is_integer() else None
        return number

    return BeforeValidator(check)


def _bounded_text(limit: int) -> Callable[[Any], str | None]:
    """Any JSON value as one line of at most ``limit`` characters (``None`` stays ``None``)."""
    return lambda value: None if value is None else shorten(single_line(str(value)), limit)


def _error_type(value: Any) -> str | int | None:
    """The error ``type``: kept as a number when it is one, else one short line."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return _bounded_text(40)(value)


# Unix seconds between 2000 and 2100, else unknown. ``int | float`` keeps integers integers, so
# a session round-trips unchanged.
Timestamp = Annotated[int | float | None, _within(EARLIEST_TIME, LATEST_TIME)]
Count = Annotated[int | None, _within(0, MAX_COUNT, integral=True)]
Cost = Annotated[float | None, _within(-MAX_COST, MAX_COST)]
# Ids, names, codes, tags: shown inside one line of a table or header, so no line break.
SingleLine = Annotated[str, AfterValidator(single_line)]


def _single_line_tags(tags: dict[str, Any] | None) -> dict[str, Any] | None:
    """Tag keys and values on one line each, strings nested in a value too: tags fill table cells."""
    return None if tags is None else _single_line_deep(tags)


def _single_line_deep(value: Any) -> Any:
    if isinstance(value, str):
        return single_line(value)
    if isinstance(value, dict):
        return {single_line(k): _single_line_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_single_line_deep(item) for item in value]
    return value


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

    role: Annotated[SingleLine, _none_as("unknown")] = Field("unknown", description="`agent` or `user`, else as sent.")
    text: Annotated[str, _none_as("")] = ""  # many lines: newlines and tabs are the only controls kept
    timestamp: Timestamp = None

    @property
    def at(self) -> datetime | None:
        return from_unix(self.timestamp)


class Conversation(WireModel):
    items: Annotated[list[ConversationItem], _none_as([])] = Field(default_factory=list)


# -- newer session fields: companion and agent objects, tool connection metrics ------------------


def _object_or_none(value: Any) -> Any:
    """``None`` for anything but an object: an odd ``companion`` or ``agent`` must not fail a session."""
    return value if isinstance(value, dict) else None


def from_iso(text: str | None) -> datetime | None:
    """The UTC ``datetime`` of an ISO 8601 string (UTC when it has no offset); ``None`` when it is none
    or no plausible time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment if EARLIEST_TIME <= moment.timestamp() <= LATEST_TIME else None  # plausible, as Timestamp


# Names, states, codes and messages of the newer fields: one line, bounded, any JSON value as text.
OptionalText = Annotated[str | None, BeforeValidator(_bounded_text(MAX_DESCRIPTION_CHARS))]


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

    id: SingleLine
    companion_id: SingleLine | None = None
    functions: list[SingleLine] | None = None
    knowledge_base_id: SingleLine | None = None
    faq_ids: list[SingleLine] | None = None
    external_client_id: SingleLine | None = None
    tags: Annotated[dict[str, Any] | None, AfterValidator(_single_line_tags)] = None
    created_at: Timestamp = None
    started_at: Timestamp = None
    closed_at: Timestamp = None
    # Published elsewhere by the vendor, optional and possibly null.
    status: SingleLine | None = None
    close_reason: SingleLine | None = None
    session_type: SingleLine | None = None
    modality: SingleLine | None = None
    mode: SingleLine | None = None
    cost: Cost = None
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
    def list_time(self) -> float | None:
        """The time the list is (presumably) sorted by: creation, else start."""
        return self.created_at if self.created_at is not None else self.started_at

    @property
    def start_time(self) -> float | None:
        """The time that puts the session in a window: its start, else its creation (it never started)."""
        return self.started_at if self.started_at is not None else self.created_at

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
    def turn_origin(self) -> float | None:
        """The instant turn offsets (``[mm:ss]``) count from: the start, else creation, else the first turn."""
        if self.started_at is not None:
            return self.started_at
        if self.created_at is not None:
            return self.created_at
        turns = self.turns
        return turns[0].timestamp if turns else None

    @property
    def tools(self) -> list[FunctionMetric]:
        """The tool connection metrics, under whichever name the API sent them."""
        return self.function_metrics or self.function_states or []


class SessionPage(WireModel):
    """One page of ``GET /public/sessions``."""

    items: Annotated[list[SessionSummary], _none_as([])] = Field(default_factory=list)
    filtered_count: Count = None
    total_count: Count = None
    page_index: Count = None
    page_size: Count = None
    # Items the API sent past the page size asked for, dropped unread by ``ingest``: never a wire field.
    _items_left_out: int = PrivateAttr(0)
    # Another page of the same list, read lately, that held these very rows and counts: the API
    # ignored pageIndex. Set by ``CompanionClient.list_sessions``; never a wire field.
    _same_rows_as: int | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _count_left_out(self, info: ValidationInfo) -> SessionPage:
        self._items_left_out = int((info.context or {}).get("items_left_out", 0))
        return self

    @property
    def items_left_out(self) -> int:
        """How many items the API sent past the page size asked for, dropped before validation."""
        return self._items_left_out

    @property
    def same_rows_as(self) -> int | None:
        """The index of another page of this list that held these very rows (and counts), if any."""
        return self._same_rows_as

    def mark_same_rows_as(self, page_index: int | None) -> None:
        self._same_rows_as = page_index

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
    id: SingleLine


class ConnectionResponse(WireModel):
    """Answer of ``POST /public/connections``: ``connection.id`` is the new session id."""

    token: SingleLine = Field(repr=False)
    connection: ConnectionInfo


class ErrorBody(WireModel):
    """The upstream error body; ``type`` is a string in one example and a number in another.

    Every field is read leniently (a field of the wrong type is unknown, never a reason to drop
    the body), and ``code`` and ``description`` are one short line: they are quoted in errors.
    """

    code: Annotated[str | None, BeforeValidator(_bounded_text(MAX_CODE_CHARS))] = None
    description: Annotated[str | None, BeforeValidator(_bounded_text(MAX_DESCRIPTION_CHARS))] = None
    type: Annotated[str | int | None, BeforeValidator(_error_type)] = None
    numeric_type: Count = None


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
