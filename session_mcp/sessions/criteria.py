"""What selects sessions beyond the upstream filters, and where a scan stands (pure: no client).

``Criteria`` holds the filters the vendor says to apply client-side (status, close reason,
session type, modality); ``ScanPosition`` and ``Scan`` say how far a newest-first scan got. The
scan (``session_mcp.sessions.scan``) and the result models of the answers (``render``, ``stats``)
both use them, so they live apart from the client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from session_mcp.companion.models import SessionSummary
from session_mcp.companion.sanitize import shorten
from session_mcp.errors import InvalidInputError
from session_mcp.sessions.claims import Inconsistency
from session_mcp.sessions.window import Window

STATUSES = ("pending", "started", "closed", "failed")


# -- client-side filters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Criteria:
    """The filters upstream cannot apply: a session matches when it has one of the values of each
    filter given (values compared without regard to case). Empty filters match everything."""

    status: frozenset[str] = frozenset()
    close_reason: frozenset[str] = frozenset()
    session_type: frozenset[str] = frozenset()
    modality: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        status: Iterable[str] | None = None,
        close_reason: Iterable[str] | None = None,
        session_type: Iterable[str] | None = None,
        modality: Iterable[str] | None = None,
    ) -> Criteria:
        """Criteria from argument values; raises ``InvalidInputError`` for a status that does not exist."""
        statuses = _values(status)
        unknown = sorted(statuses - set(STATUSES))
        if unknown:
            raise InvalidInputError(
                f"status {shorten(unknown[0], 40)!r} does not exist: give one or more of {', '.join(STATUSES)} "
                "(an open session is 'started', one that never started is 'pending')."
            )
        return cls(statuses, _values(close_reason), _values(session_type), _values(modality))

    def __bool__(self) -> bool:
        return bool(self.status or self.close_reason or self.session_type or self.modality)

    def matches(self, session: SessionSummary) -> bool:
        return all(
            not wanted or (value or "").casefold() in wanted
            for wanted, value in (
                (self.status, session.state),
                (self.close_reason, session.close_reason),
                (self.session_type, session.session_type),
                (self.modality, session.modality),
            )
        )

    def describe(self) -> str:
        """``status failed|closed · modality audio``: the filters given, for answers."""
        parts = [
            f"{name.replace('_', ' ')} {'|'.join(sorted(values))}"
            for name, values in (
                ("status", self.status),
                ("close_reason", self.close_reason),
                ("session_type", self.session_type),
                ("modality", self.modality),
            )
            if values
        ]
        return " · ".join(parts)


def _values(given: Iterable[str] | None) -> frozenset[str]:
    """The values given, each value also splitting at commas (``"failed,closed"``), without case."""
    parts = (part.strip().casefold() for value in given or () for part in (value or "").split(","))
    return frozenset(part for part in parts if part)


# -- where a scan stands --------------------------------------------------------------------


@dataclass(frozen=True)
class ScanPosition:
    """Where a scan resumes: the list page and the item in it, and what the scan knew up to there."""

    page_index: int = 0
    offset: int = 0
    last_time: float | None = None  # list time of the last item read: the order is checked against it
    last_id: str | None = None
    in_order: bool = True
    scanned: int = 0  # sessions read before this position, over every call of a paging chain
    matched: int = 0  # matching sessions before this position
    # Once the order is seen broken, a scan reads on from here to the end, sorts what matches newest
    # first and serves it a limit at a time: this many of that sorted set were served already.
    ranked: int = 0


@dataclass
class Scan:
    """What a scan found and how far it got."""

    sessions: list[SessionSummary]
    window: Window
    scanned: int = 0  # sessions read, from the first call of a paging chain on
    scanned_here: int = 0  # ... of which by this call
    upstream_count: int | None = None  # sessions matching the upstream filters (before the client-side ones)
    reached_end: bool = False  # nothing after the sessions scanned can match
    stopped_early: bool = False  # ... because a whole page was older than the window (pages newest first)
    bound_hit: bool = False  # the scan bound stopped it: older sessions were not read
    in_order: bool = True  # every item read came newest first
    resume: ScanPosition | None = None  # where the next call continues; None at the end
    sorted_here: bool = False  # the order was broken: every match read was sorted by start time, newest first
    inconsistencies: list[Inconsistency] = field(default_factory=list)  # what the pages read contradicted

    @property
    def complete(self) -> bool:
        """No session beyond those scanned can match: the end was reached and the list held still."""
        return self.reached_end and not any(i.kind == "list_changed" for i in self.inconsistencies)

    @property
    def more_match(self) -> bool:
        """True when at least one more session is known to match (the scan stopped at the limit)."""
        return self.resume is not None and not self.bound_hit
