"""What the API claims about a list page, checked against the page's own rows (pure: no client).

An answer that repeats a count its rows contradict ("Sessions 1-60 of 3") misleads; the checks
here name each contradiction so the list answers, the scan and the resources say it instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from session_mcp.companion.models import SessionPage, SessionSummary
from session_mcp.companion.sanitize import shorten

InconsistencyKind = Literal["rows_over_count", "duplicate_ids", "page_index_ignored", "counts_disagree", "list_changed"]


@dataclass(frozen=True)
class Inconsistency:
    """A claim of the API that its own answer contradicts: answers say it rather than repeat it."""

    # rows_over_count: more rows than the API's count leaves for the page; duplicate_ids: an id twice
    # on one page (shown once); page_index_ignored: another page answered, or one page's rows again;
    # counts_disagree: filteredCount over totalCount; list_changed: a scan read the whole list and
    # found fewer sessions than the API counts (the list changed meanwhile, or paging skips some).

    kind: InconsistencyKind
    detail: str


def page_inconsistencies(
    page: SessionPage, page_index: int, page_size: int, *, rows_before: int | None = None
) -> list[Inconsistency]:
    """What page ``page_index`` (asked with ``page_size``) claims that its rows contradict.

    Its count must leave room for its rows after ``rows_before`` (by default the full pages before
    it, as a list page numbers its rows; a scan gives 0, as an API may serve fewer rows a page than
    asked without saying so).
    """
    found: list[Inconsistency] = []
    filtered, total = page.filtered_count, page.total_count
    if filtered is not None and total is not None and filtered > total:
        found.append(
            Inconsistency("counts_disagree", f"the API counts {filtered} matching sessions but {total} sessions in all")
        )
    count, name = (filtered, "filteredCount") if filtered is not None else (total, "totalCount")
    sent = len(page.items) + page.items_left_out
    size = page.page_size or page_size
    before = page_index * size if rows_before is None else rows_before
    room = None if count is None else max(0, count - before)
    if room is not None and sent > room:
        where = f", which leaves {room} for page {page_index} at {size} a page," if before else ""
        rows = "1 row" if sent == 1 else f"{sent} rows"
        found.append(
            Inconsistency("rows_over_count", f"the API counts {count} sessions ({name}){where} but sent {rows}")
        )
    ids = [item.id for item in page.items]
    repeated = len(ids) - len(set(ids))
    if repeated:
        first = next(i for n, i in enumerate(ids) if i in ids[:n])
        found.append(
            Inconsistency(
                "duplicate_ids",
                f"rows repeating an id the page already listed: {repeated} (e.g. {shorten(first, 60)!r}); each "
                "session is shown once",
            )
        )
    if page.page_index is not None and page.page_index != page_index:
        found.append(
            Inconsistency("page_index_ignored", f"asked for page {page_index}, the API answered page {page.page_index}")
        )
    elif page.same_rows_as is not None:
        found.append(
            Inconsistency(
                "page_index_ignored",
                f"page {page_index} holds the very rows of page {page.same_rows_as}: the API ignores the page index",
            )
        )
    return found


def distinct(items: Iterable[SessionSummary]) -> list[SessionSummary]:
    """``items`` with each id once, the first time it comes."""
    kept: dict[str, SessionSummary] = {}
    for item in items:
        kept.setdefault(item.id, item)
    return list(kept.values())
