"""Which sessions an answer is about: the ids given, the newest of the plain list, or a scanned window.

The batch and statistics tools, the QA review and the export all choose sessions the same way,
here: given ids are taken as they are; otherwise the API's list, which filters by companion,
external client, search and tags only, is read newest first. A time window or a client-side
filter (``Criteria``) the API cannot apply makes it a scan (``session_mcp.sessions.scan``) that
says how far it read. Each caller keeps its own defaults and caps (how many, the scan bound).

``select`` gathers the choice in one value; ``Listing`` streams it, for an export of any size.

With a store (``select(..., store=...)``, once ``StoreGate.ready`` said it may answer), the window,
the companion / external client / tags filters and the ``Criteria`` are one store query: newest
first by start time, an exact count, no scan bound. The API's free-text ``search`` has a meaning
only the API knows, so a selection with it reads the API as without a store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from session_mcp.companion.client import CompanionClient, SessionFilters
from session_mcp.companion.models import MAX_PAGE_SIZE, SessionSummary
from session_mcp.sessions.criteria import Criteria, Scan
from session_mcp.sessions.scan import MAX_SCAN, WindowScanner, scan_sessions
from session_mcp.sessions.window import Window
from session_mcp.store.base import Figures, SessionStore, StoredQuery


def needs_scan(window: Window, criteria: Criteria) -> bool:
    """Whether choosing sessions takes a scan of the list: the API has no time or status filter."""
    return window.bounded or bool(criteria)


@dataclass(frozen=True)
class Selection:
    """Which sessions: ``session_ids``, or the newest ``limit`` (``None``: all) matching the rest.

    A scan reads at most ``max_scan`` list items (``None``: no bound). ``always_scan`` scans the
    plain list too (the QA review): the newest by start time even from a list out of order, and
    how far it read is known.
    """

    session_ids: Sequence[str] | None = None
    filters: SessionFilters = field(default_factory=SessionFilters)
    window: Window = field(default_factory=Window)
    criteria: Criteria = field(default_factory=Criteria)
    limit: int | None = None
    max_scan: int | None = MAX_SCAN
    always_scan: bool = False
    with_figures: bool = False  # from the store: the transcript figures of the closed sessions too

    def stored_query(self, after: tuple[float, str] | None = None) -> StoredQuery:
        """The store query of this selection (without ids or ``search``: see ``answerable``)."""
        window, criteria, tags = self.window, self.criteria, self.filters.get("tags") or {}
        return StoredQuery(
            since=window.start.timestamp() if window.start else None,
            until=window.end.timestamp() if window.end else None,
            companion_id=self.filters.get("companion_id") or None,
            external_client_id=self.filters.get("external_client_id") or None,
            tags=tuple((str(k), str(v)) for k, v in tags.items()),
            statuses=criteria.status,
            close_reasons=criteria.close_reason,
            session_types=criteria.session_type,
            modalities=criteria.modality,
            after=after,
            limit=self.limit,
            with_figures=self.with_figures,
        )

    @property
    def scans(self) -> bool:
        """Whether the sessions come from a scan of the list."""
        return self.session_ids is None and (self.always_scan or needs_scan(self.window, self.criteria))


@dataclass
class Selected:
    """The sessions a ``Selection`` chose, and what is known of the rest."""

    ids: list[str]  # in the order chosen (given ids as given, duplicates included)
    sessions: list[SessionSummary] = field(default_factory=list)  # the list items; none when ids were given
    scan: Scan | None = None  # how the list was scanned; None for given ids and the plain list
    matched: int | None = None  # how many sessions match in all, when known
    more_match: bool = False  # a scan stopped at the limit with more sessions matching
    stored: bool = False  # chosen from the store
    figures: dict[str, Figures] = field(default_factory=dict)  # from the store: closed sessions' transcript figures


def answerable(selection: Selection) -> bool:
    """Whether the store can choose these sessions: not given ids, not the API's free-text ``search``."""
    return selection.session_ids is None and not selection.filters.get("search")


async def select(client: CompanionClient, selection: Selection, *, store: SessionStore | None = None) -> Selected:
    """The sessions of ``selection``, from ``store`` when given and ``answerable``; ``CompanionError``
    when the list cannot be read."""
    if selection.session_ids is not None:
        return Selected(ids=list(selection.session_ids))
    if store is not None and answerable(selection):
        page = await store.query(selection.stored_query())
        sessions = [row.summary for row in page.rows]
        figures = {row.summary.id: row.figures for row in page.rows if row.figures is not None}
        return Selected([s.id for s in sessions], sessions, None, page.total, page.total > len(sessions), True, figures)
    listing = Listing(client, selection)
    sessions = [session async for session in listing]
    scan = listing.scan
    if scan is None:
        return Selected([s.id for s in sessions], sessions, matched=listing.matched)
    scan.sessions = sessions  # the same list, or the matches a scan without a limit streamed
    matched = len(sessions) if scan.complete else None
    return Selected([s.id for s in sessions], sessions, scan, matched, scan.more_match)


class Listing:
    """The sessions of a ``Selection`` without ids as they are listed, memory staying flat without a limit.

    A scan with a limit reads until it knows the newest ``limit`` (sorted by start time when the
    list is out of order) before the first comes; without one, matches stream in list order.
    ``scan`` is set once the scan is done (without a limit: at the end); ``matched``, the API's
    count of the plain list's matches, as the pages come.
    """

    def __init__(self, client: CompanionClient, selection: Selection) -> None:
        if selection.session_ids is not None:
            raise ValueError("sessions given by id are not listed: use select()")
        self.client = client
        self.selection = selection
        self.scan: Scan | None = None
        self.matched: int | None = None

    @property
    def expected(self) -> int | None:
        """How many sessions the plain list will yield, by the API's count (a progress total)."""
        limit = self.selection.limit
        if self.selection.scans:
            return None
        if self.matched is None:
            return limit
        return self.matched if limit is None else min(limit, self.matched)

    async def __aiter__(self) -> AsyncIterator[SessionSummary]:
        chosen = self.selection
        if not chosen.scans:
            size = MAX_PAGE_SIZE if chosen.limit is None else min(chosen.limit, MAX_PAGE_SIZE)
            async for page in self.client.iter_pages(page_size=size, limit=chosen.limit, **chosen.filters):
                self.matched = page.filtered_count if page.filtered_count is not None else page.total_count
                for session in page.items:
                    yield session
        elif chosen.limit is None:
            scanner = WindowScanner(
                self.client, chosen.filters, chosen.window, chosen.criteria, max_scan=chosen.max_scan
            )
            async for _, session in scanner.matches():
                yield session
            self.scan = scanner.result([])  # the matches were streamed, not kept
        else:
            self.scan = await scan_sessions(
                self.client,
                chosen.filters,
                chosen.window,
                criteria=chosen.criteria,
                limit=chosen.limit,
                max_scan=chosen.max_scan,
            )
            for session in self.scan.sessions:
                yield session
