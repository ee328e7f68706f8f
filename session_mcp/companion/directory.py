"""Wire models of the project's directory: ``GET /public/companions`` and ``GET /public/agents``.

The vendor documents both lists (paged like sessions: ``pageIndex``, ``pageSize``; companions
filtered by ``statuses``, ``search`` and ``tags``) but not the shape of their rows. So every
field is optional and read leniently: an odd ``name`` or ``channels`` is unknown, never a reason
to drop the page, and whatever else a row carries is kept (``extra="allow"``). A companion's
name is its ``name``, else its ``firstName`` and ``lastName`` (the fields it is created with); an
agent's companion is its ``companionId``, else the id of a ``companion`` object; its channels
are whatever ``channels`` lists (types as text, or objects naming a ``channelType``/``type``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from session_mcp.companion.models import MAX_COUNT, Count, OptionalText, WireModel
from session_mcp.companion.sanitize import shorten, single_line

MAX_NAME_CHARS = 120
MAX_CHANNELS = 20  # channel types one agent shows: there are four today
CHANNEL_KEYS = ("channelType", "type", "channel", "name")


def _list_or_empty(value: Any) -> Any:
    """The entries that are objects; an empty list for anything but a list (``null`` included)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A plain JSON string or number as one short line; anything else is unknown."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = shorten(single_line(str(value)), MAX_NAME_CHARS).strip()
    return text or None


def _channel_name(channel: dict[str, Any]) -> Any:
    """The channel type an object names, under the first of ``CHANNEL_KEYS`` it has."""
    return next((channel[k] for k in CHANNEL_KEYS if channel.get(k) is not None), None)


class DirectoryEntry(WireModel):
    """What companions and agents share: an id, a name, tags, a status, each possibly missing."""

    id: OptionalText = None
    name: OptionalText = None
    status: OptionalText = None
    tags: Annotated[dict[str, Any] | None, BeforeValidator(lambda v: v if isinstance(v, dict) else None)] = None

    @property
    def label(self) -> str | None:
        """The name to show: ``name`` (for a companion, else first and last name), one line."""
        return _text(self.name)


class CompanionEntry(DirectoryEntry):
    """A row of ``GET /public/companions`` (a persona, in the vendor's prose)."""

    first_name: OptionalText = None
    last_name: OptionalText = None
    headline: OptionalText = None

    @property
    def label(self) -> str | None:
        named = _text(self.name)
        if named:
            return named
        return _text(" ".join(part for part in (self.first_name, self.last_name) if part)) or _text(self.headline)


class AgentEntry(DirectoryEntry):
    """A row of ``GET /public/agents``: a deployable agent built on a companion."""

    companion_id: OptionalText = None
    companion: Annotated[dict[str, Any] | None, BeforeValidator(lambda v: v if isinstance(v, dict) else None)] = None
    channels: Any = None
    voice_id: OptionalText = None
    language: OptionalText = None

    @property
    def companion_ref(self) -> str | None:
        """The id of the agent's companion: ``companionId``, else ``companion.id``."""
        return _text(self.companion_id) or _text((self.companion or {}).get("id"))

    @property
    def channel_types(self) -> list[str]:
        """The agent's channel types as listed (``webrtc``, ``sip``...), each once, in order."""
        raw = self.channels
        if isinstance(raw, dict):  # keyed by channel type
            raw = list(raw)
        if not isinstance(raw, list):
            return []
        found: list[str] = []
        for item in raw:
            text = _text(_channel_name(item) if isinstance(item, dict) else item)
            if text and text not in found:
                found.append(text)
        return found[:MAX_CHANNELS]


class DirectoryPage(WireModel):
    """One page of a directory list; ``items`` is replaced by each list's own row type."""

    filtered_count: Count = None
    total_count: Count = None
    page_index: Count = None
    page_size: Count = None

    def count(self) -> int | None:
        """How many rows match in all, as the API says: ``filteredCount``, else ``totalCount``."""
        known = self.filtered_count if self.filtered_count is not None else self.total_count
        return known if known is not None and known <= MAX_COUNT else None

    def more_after(self, read: int, page_size: int, rows: int) -> bool:
        """Whether rows remain after ``read`` rows, this page holding ``rows`` (as ``SessionPage.more_after``)."""
        if not rows:
            return False
        expected = self.count()
        if expected is not None:
            return read < expected
        return rows >= (self.page_size or page_size)


class CompanionPage(DirectoryPage):
    """One page of ``GET /public/companions``."""

    items: Annotated[list[CompanionEntry], BeforeValidator(_list_or_empty)] = Field(default_factory=list)


class AgentPage(DirectoryPage):
    """One page of ``GET /public/agents``."""

    items: Annotated[list[AgentEntry], BeforeValidator(_list_or_empty)] = Field(default_factory=list)
