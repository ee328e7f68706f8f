"""Opaque, stateless cursors for paging over sessions filtered client-side.

A cursor carries everything the next call needs: where the scan stopped, what it knew of the
list's order, the window fixed by the first call (``since='24h'`` must not move between pages)
and a digest of the filters, so a cursor cannot silently serve other filters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from session_mcp.client import CompanionClient, SessionFilters
from session_mcp.errors import InvalidInputError
from session_mcp.query import MAX_SCAN, Criteria, Scan, ScanPosition, scan_sessions
from session_mcp.windows import Window

CURSOR_PREFIX = "w1."
MAX_CURSOR_LENGTH = 400


def filters_fingerprint(filters: SessionFilters, criteria: Criteria) -> str:
    """A short digest of every filter of a call: a cursor serves only the filters it was made for."""
    tags = filters.get("tags") or {}
    canonical = {
        "upstream": {k: v for k, v in filters.items() if k != "tags" and v},
        "tags": dict(sorted(tags.items())),
        "criteria": {k: sorted(v) for k, v in vars(criteria).items()},
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:12]


def encode_cursor(position: ScanPosition, window: Window, fingerprint: str) -> str:
    """An opaque, stateless cursor: where to resume, the window (fixed by the first call) and the filters."""
    fields = [
        position.page_index,
        position.offset,
        position.last_time,
        position.last_id,
        int(position.in_order),
        position.scanned,
        position.matched,
        position.ranked,
        window.start.timestamp() if window.start else None,
        window.end.timestamp() if window.end else None,
        fingerprint,
    ]
    raw = json.dumps(fields, separators=(",", ":"), ensure_ascii=True).encode()
    return CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[ScanPosition, Window]:
    """The position and window of a cursor made by ``encode_cursor`` for the same filters."""
    bad = InvalidInputError(
        "cursor is not one this server gave: pass next_cursor exactly as the previous answer showed it, or leave "
        "cursor out to start from the newest session."
    )
    if not cursor.startswith(CURSOR_PREFIX) or len(cursor) > MAX_CURSOR_LENGTH:
        raise bad
    body = cursor[len(CURSOR_PREFIX) :]
    try:
        fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        page_index, offset, last_time, last_id, in_order, scanned, matched, ranked, start, end, made_for = fields
    except (ValueError, TypeError, binascii.Error):
        raise bad from None
    counts = (page_index, offset, scanned, matched, ranked)
    if not all(_is_count(n) for n in counts) or in_order not in (0, 1) or not isinstance(made_for, str):
        raise bad
    if not all(_is_time(t) for t in (last_time, start, end)) or not (last_id is None or isinstance(last_id, str)):
        raise bad
    if made_for != fingerprint:
        raise InvalidInputError(
            "This cursor was made for other filters: repeat the filters of the call that returned it (the window "
            "stays the one it fixed), or leave cursor out to start over with the new filters."
        )
    window = Window(_utc(start), _utc(end))
    position = ScanPosition(page_index, offset, last_time, last_id, bool(in_order), scanned, matched, ranked)
    return position, window


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100_000_000


def _is_time(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return value is None or (number and 0 <= value < 32_503_680_000)  # before the year 3000


def _utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass
class ScannedPage:
    """One page of sessions filtered client-side, and the cursor of the next one."""

    scan: Scan
    matched_before: int  # matches on the pages before this one
    next_cursor: str | None


async def scan_page(
    client: CompanionClient,
    filters: SessionFilters,
    window: Window,
    criteria: Criteria,
    *,
    page_size: int,
    cursor: str | None,
    max_scan: int = MAX_SCAN,
) -> ScannedPage:
    """The page of matches ``cursor`` points at (the first one without it); its window is the cursor's."""
    fingerprint = filters_fingerprint(filters, criteria)
    start, window = decode_cursor(cursor, fingerprint) if cursor else (None, window)
    scan = await scan_sessions(
        client, filters, window, criteria=criteria, limit=page_size, max_scan=max_scan, start=start
    )
    next_cursor = encode_cursor(scan.resume, window, fingerprint) if scan.resume else None
    return ScannedPage(scan, start.matched if start else 0, next_cursor)
