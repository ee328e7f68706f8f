"""Client-side filters and the newest-first scan that applies them with a time window.

The Companion API filters its list by companion, external client, search and tags only: it has
no time filter and no status filter. Everything else is applied here, on the list items, by one
scan every tool and command shares:

- ``Criteria`` (``session_mcp.sessions.criteria``) holds the filters the vendor says to apply
  client-side (status, close reason, session type, modality);
- ``scan_sessions`` pages newest first and stops once whole pages are older than the window's
  start (``session_mcp.sessions.window``; two pages in a row), but only while every item read so far
  really came newest first; otherwise it reads on, up to a bound, and says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import timedelta

from session_mcp.companion.client import CompanionClient, SessionFilters
from session_mcp.companion.models import MAX_PAGE_SIZE, SessionPage, SessionSummary
from session_mcp.sessions.claims import Inconsistency, page_inconsistencies
from session_mcp.sessions.criteria import Criteria, Scan, ScanPosition
from session_mcp.sessions.window import Window

MAX_SCAN = 5_000  # sessions one answer may scan: 50 pages of 100
# A session is in a window by its start time, but the list is (presumably) sorted by creation:
# the early stop waits until a page was created this long before ``since``.
START_GRACE = timedelta(hours=1)
# Whole pages older than the window, in a row and in order, that end the scan: one page alone may
# be a page served out of its place (it looks sorted by itself); the next one shows it.
STOP_AFTER_PAGES = 2


# -- the scan --------------------------------------------------------------------------------


async def scan_sessions(
    client: CompanionClient,
    filters: SessionFilters,
    window: Window,
    *,
    criteria: Criteria | None = None,
    limit: int | None = None,
    max_scan: int | None = MAX_SCAN,
    start: ScanPosition | None = None,
    page_size: int = MAX_PAGE_SIZE,
) -> Scan:
    """The newest ``limit`` sessions matching the upstream ``filters``, the ``window`` and ``criteria``.

    Reads list pages newest first from ``start``, at most ``max_scan`` sessions (``None``: no
    bound). When it stops at the limit, ``resume`` points at the next matching session, so
    ``more_match`` is known exactly. Once the list is seen out of order, the first ``limit`` read
    are not the newest: it reads on to the end (or the bound), sorts the matches by start time,
    newest first, and keeps ``limit`` of them; ``resume`` then serves the rest of that order.
    """
    origin = start or ScanPosition()
    scanner = WindowScanner(client, filters, window, criteria, max_scan=max_scan, start=start, page_size=page_size)
    found: list[SessionSummary] = []
    stop: ScanPosition | None = None  # where the limit stops the scan, if the order holds
    async for position, session in scanner.matches():
        if stop is None and limit is not None and len(found) >= limit and position.in_order:
            stop = position
            # One page more checks the order: a page served out of place looks sorted by itself.
            scanner.verify_through = position.page_index + 1
        found.append(session)
    if scanner.position.in_order:
        if stop is not None:
            scanner.stop_at(stop)
        return scanner.result(found[:limit] if limit is not None else found)
    if scanner.verify_through is not None and not scanner.reached_end and not scanner.bound_hit:
        scanner.verify_through = None  # the order broke while checked: read on, to sort
        found += [session async for _, session in scanner.matches()]
    skip = 0 if origin.in_order else origin.ranked  # served by the calls before, from the same sorted stretch
    newest = sorted(found, key=start_time, reverse=True)[skip:]
    kept = newest[:limit] if limit is not None else newest
    if len(kept) < len(newest):  # the rest of the sorted set: the next call reads the same stretch again
        served = skip + len(kept)
        matched = origin.matched - skip + served
        scanner.resume = replace(origin, in_order=False, ranked=served, matched=matched)
        scanner.reached_end = False
    elif scanner.resume is not None:  # the bound cut the stretch: the next call sorts the next one
        scanner.resume = replace(scanner.resume, in_order=False, ranked=0)
    scan = scanner.result(kept)
    scan.sorted_here = True
    return scan


def start_time(session: SessionSummary) -> float:
    """A session's start time (its creation time if it never started) for sorting; unknown is oldest."""
    moment = session.start_time
    return moment if moment is not None else float("-inf")


class WindowScanner:
    """One newest-first scan; ``matches()`` streams the matching sessions, memory staying flat.

    The early stop trusts the order only as far as it was seen: each item must be no newer than
    the one before it, across pages and calls, and ``STOP_AFTER_PAGES`` whole pages in a row must
    be older than the window. A list served in another order is read on, up to ``max_scan``
    sessions. (Whole sorted pages served out of place that happen to look sorted up to the stop
    cannot be told from a sorted list without reading every page.)
    """

    def __init__(
        self,
        client: CompanionClient,
        filters: SessionFilters,
        window: Window,
        criteria: Criteria | None = None,
        *,
        max_scan: int | None = MAX_SCAN,
        start: ScanPosition | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        self.client = client
        self.filters = filters
        self.window = window
        self.criteria = criteria or Criteria()
        self.max_scan = max_scan
        self.page_size = page_size
        self.position = start or ScanPosition()
        self.first_scanned = self.position.scanned
        self.upstream_count: int | None = None
        self.expected: int | None = None  # sessions the list holds by the API's own count
        self.passed_over = 0  # items this call passed over as read before (the list shifted by as many)
        self.inconsistencies: list[Inconsistency] = []
        self.reached_end = self.stopped_early = self.bound_hit = False
        self.resume: ScanPosition | None = None
        self.verify_through: int | None = None  # the last list page to read (checking the order past a limit)

    async def matches(self) -> AsyncIterator[tuple[ScanPosition, SessionSummary]]:
        """Each matching session with the position just before it, in list order, until a stop."""
        position = self.position
        page_index, offset = position.page_index, position.offset
        # Sessions created since the previous call shift older ones down: what comes back newer
        # than the last item read was read then, and is passed over once.
        resuming = position.last_time is not None and position.in_order
        seen: set[str] = set()
        older_pages = 0  # whole pages in a row created before the window, in order
        while True:
            page = await self.client.list_sessions(page_index=page_index, page_size=self.page_size, **self.filters)
            self.upstream_count = page.filtered_count if page.filtered_count is not None else page.total_count
            # totalCount counts the list only when no upstream filter narrows it.
            filtered = any(self.filters.values())
            self.expected = page.filtered_count if page.filtered_count is not None or filtered else page.total_count
            self._note(page_inconsistencies(page, page_index, self.page_size, rows_before=0))
            read = passed_over = False
            older = True  # every item read on this page was created well before the window
            for index in range(min(offset, len(page.items)), len(page.items)):
                item = page.items[index]
                moment = item.list_time
                if resuming and _read_before(item.id, moment, position):
                    passed_over = True
                    self.passed_over += 1
                    continue
                resuming = False
                if item.id in seen:
                    continue  # the list shifted while it was read: an id is counted once
                in_order = position.in_order and (
                    moment is None or position.last_time is None or moment <= position.last_time
                )
                # Resuming here must not take this item for one read before when it breaks the order.
                at = replace(position, page_index=page_index, offset=index, in_order=in_order)
                if self.max_scan is not None and position.scanned - self.first_scanned >= self.max_scan:
                    self.bound_hit = True
                    self.resume = self.position = at
                    return
                seen.add(item.id)
                read = True
                older = older and moment is not None and self._before_window(moment)
                matches = self.window.contains(item) and self.criteria.matches(item)
                position = ScanPosition(
                    page_index,
                    index + 1,
                    moment if moment is not None else position.last_time,
                    item.id,
                    in_order,
                    position.scanned + 1,
                    position.matched + matches,
                )
                self.position = position
                if matches:
                    yield at, item
            older_pages = older_pages + 1 if read and older and position.in_order else 0
            if older_pages >= STOP_AFTER_PAGES and self.window.start is not None:
                self._end(stopped_early=True)
                return
            # A page with nothing new means the API ignores pageIndex (or the list stands still).
            if (not read and not passed_over) or not self._more_after(page, page_index):
                self._end(stopped_early=False)
                return
            page_index, offset = page_index + 1, 0
            if self.verify_through is not None and page_index > self.verify_through:
                self.position = replace(position, page_index=page_index, offset=0)
                return

    def _more_after(self, page: SessionPage, page_index: int) -> bool:
        """Whether the list goes on after ``page``, by the rows the pages held so far or, when fewer,
        the sessions read (an API may serve fewer rows a page than asked, without saying so)."""
        positional = page_index * (page.page_size or self.page_size) + len(page.items)
        return page.more_after(min(positional, self.position.scanned + self.passed_over), self.page_size)

    def _before_window(self, moment: float) -> bool:
        start = self.window.start
        return start is not None and moment < (start - START_GRACE).timestamp()

    def _end(self, *, stopped_early: bool) -> None:
        self.reached_end = True
        self.stopped_early = stopped_early
        self.resume = None
        read = self.position.scanned + self.passed_over
        if not stopped_early and self.expected is not None and read < self.expected:
            self._note(
                [
                    Inconsistency(
                        "list_changed",
                        f"the scan read the list to its end and found {read} of the {self.expected} sessions the "
                        "API counts: the list changed while it was read, or the API's paging skips sessions",
                    )
                ]
            )

    def _note(self, found: Iterable[Inconsistency]) -> None:
        """Keep the first of each kind: one line each in the answer, however many pages repeat it."""
        for inconsistency in found:
            if all(kept.kind != inconsistency.kind for kept in self.inconsistencies):
                self.inconsistencies.append(inconsistency)

    def stop_at(self, position: ScanPosition) -> None:
        """Stop before the matching session at ``position``: the next call starts with it."""
        self.resume = self.position = position
        self.reached_end = self.stopped_early = self.bound_hit = False  # what was read past it only checked the order
        self.inconsistencies = [i for i in self.inconsistencies if i.kind != "list_changed"]  # no longer the end

    def result(self, sessions: list[SessionSummary]) -> Scan:
        return Scan(
            sessions=sessions,
            window=self.window,
            scanned=self.position.scanned,
            scanned_here=self.position.scanned - self.first_scanned,
            upstream_count=self.upstream_count,
            reached_end=self.reached_end,
            stopped_early=self.stopped_early,
            bound_hit=self.bound_hit,
            in_order=self.position.in_order,
            resume=self.resume,
            inconsistencies=list(self.inconsistencies),
        )


def _read_before(session_id: str, moment: float | None, position: ScanPosition) -> bool:
    """Whether a call before this one read the item already: it is the last one read, or newer."""
    last = position.last_time
    return session_id == position.last_id or (moment is not None and last is not None and moment > last)
