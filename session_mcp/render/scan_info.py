"""What an answer says of a scan: the window applied, how far it read, whether it is whole.

``ScanInfo`` is part of every answer that filters client-side or by time (a list page, a batch,
the statistics); ``render_scan`` says it in one line, cuts and contradictions included.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from session_mcp.render.common import format_time, plural, zone_label
from session_mcp.render.lines import one_line
from session_mcp.sessions.claims import Inconsistency
from session_mcp.sessions.criteria import Criteria, Scan

INCONSISTENCIES = "What the API claimed that its own answer contradicts; absent when nothing did."


class ScanInfo(BaseModel):
    """How a time window or a client-side filter was applied: the upstream list has neither."""

    window_start: datetime | None = Field(None, description="Sessions started at or after this time (UTC).")
    window_end: datetime | None = Field(None, description="... and before this one.")
    filters: str | None = Field(None, description="The filters applied client-side (status, close reason, ...).")
    scanned: int = Field(description="List items read to apply them (over every page of a cursor chain).")
    complete: bool = Field(description="True when no session beyond those scanned can match.")
    stopped_early: bool = Field(description="The scan stopped at a page older than the window, the list newest first.")
    in_order: bool = Field(description="Every item read came newest first (else the scan could not stop early).")
    bound_hit: bool = Field(description="The scan bound stopped the scan: older sessions were not read.")
    max_scan: int | None = Field(None, description="The scan bound: most list items one answer reads.")
    upstream_matching: int | None = Field(None, description="Sessions the upstream filters alone match.")
    upstream_inconsistencies: list[Inconsistency] | None = Field(None, description=INCONSISTENCIES)


def counts_hold(found: list[Inconsistency]) -> bool:
    """Whether the API's counts stand: no row and no other count contradicts them."""
    return all(i.kind not in ("rows_over_count", "counts_disagree") for i in found)


def scan_info(scan: Scan, criteria: Criteria, max_scan: int | None) -> ScanInfo:
    """What the answer says of a scan: the window as applied, how far it read, whether it is whole."""
    return ScanInfo(
        window_start=scan.window.start,
        window_end=scan.window.end,
        filters=criteria.describe() or None,
        scanned=scan.scanned,
        complete=scan.complete,
        stopped_early=scan.stopped_early,
        in_order=scan.in_order,
        bound_hit=scan.bound_hit,
        max_scan=max_scan,
        upstream_matching=scan.upstream_count if counts_hold(scan.inconsistencies) else None,
        upstream_inconsistencies=scan.inconsistencies or None,
    )


def render_scan(scan: ScanInfo) -> str:
    """One line: the window applied (in the call's time zone), the filters, how many sessions were scanned, and whether
    the answer is complete or the scan bound cut it."""
    parts = [window_words(scan.window_start, scan.window_end)]
    if scan.filters:
        parts.append(f"filters: {scan.filters}")
    parts.append(f"scanned {plural(scan.scanned, 'session')}")
    found = scan.upstream_inconsistencies or []
    changed = next((i for i in found if i.kind == "list_changed"), None)
    if scan.bound_hit:
        parts.append(
            f"INCOMPLETE: the scan bound ({scan.max_scan or 0:,} sessions per answer) stopped it before the window's "
            "start, so older matching sessions were not read; narrow the window or the upstream filters"
        )
    elif changed is not None:
        parts.append(f"NOT complete: {changed.detail}, so sessions may be missing from this answer")
    elif not scan.in_order and not scan.complete:
        parts.append(
            "the list did not come newest first, so the scan read every session, sorted the matches by start time "
            "and kept the newest: more sessions match"
        )
    elif not scan.in_order:
        parts.append("the list did not come newest first, so the scan could not stop early and read every session")
    elif scan.stopped_early:
        parts.append("complete (the list came newest first; the scan stopped at the window's start)")
    elif scan.complete:
        parts.append("complete (read to the end of the list)")
    else:
        parts.append("stopped at the limit: more sessions match")
    parts += [upstream_note(i) for i in found if i is not changed]
    return " · ".join(parts) + "."


def window_words(start: datetime | None, end: datetime | None) -> str:
    """``Window (Zone): <start> to <end>``, in the call's time zone."""
    if start and end:
        window = f"{format_time(start, seconds=True)} to {format_time(end, seconds=True)}"
    elif start:
        window = f"since {format_time(start, seconds=True)}"
    elif end:
        window = f"before {format_time(end, seconds=True)}"
    else:
        window = "all time"
    return f"Window ({zone_label()}): {window}"


def upstream_note(inconsistency: Inconsistency) -> str:
    """One claim of the API that its own answer contradicts, said as such."""
    return f"upstream inconsistent ({inconsistency.kind}): {one_line(inconsistency.detail, 300)}"
