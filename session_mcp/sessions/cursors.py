"""Opaque, stateless, signed cursors for paging over sessions filtered client-side.

A cursor carries everything the next call needs: where the scan stopped, what it knew of the
list's order, the window fixed by the first call (``since='24h'`` must not move between pages)
and a digest of the arguments (filters, and ``since``/``until`` as given), so a cursor cannot
silently serve other arguments. It is sealed with HMAC-SHA256 under a secret of this server
(``CursorSigner``): text that merely looks like a cursor, such as one planted in a transcript,
or a real one with a field changed, cannot widen the window, renumber rows or skip sessions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from session_mcp.companion.client import CompanionClient, SessionFilters
from session_mcp.errors import InvalidInputError
from session_mcp.sessions.criteria import Criteria, Scan, ScanPosition
from session_mcp.sessions.scan import MAX_SCAN, scan_sessions
from session_mcp.sessions.window import Window

CURSOR_PREFIX = "w2."  # w1 cursors were unsigned: refused like any other text
MAX_CURSOR_LENGTH = 400
MAC_BYTES = 16  # HMAC-SHA256 cut to 128 bits: unguessable, and 22 characters in the cursor
# The secret of this process when none is configured: cursors of another process (another
# replica, or this server before a restart) are refused, and say how to start over.
_PROCESS_SECRET = secrets.token_bytes(32)
START_OVER = "call again without cursor to start from the newest session."


class CursorSigner:
    """Seals cursor payloads with HMAC-SHA256 and opens only those it sealed, for the same tenant.

    The secret is ``SESSION_MCP_CURSOR_SECRET`` when set (HTTP replicas behind one address share
    it), else random per process. The MAC also covers the tenant (the fingerprint of the API key
    the call runs with), so one tenant's cursor does not open for another.
    """

    def __init__(self, secret: bytes) -> None:
        self._key = secret

    @classmethod
    def of(cls, configured: SecretStr | None) -> CursorSigner:
        """The signer of a server: the configured secret, else this process's random one."""
        return cls(configured.get_secret_value().encode() if configured is not None else _PROCESS_SECRET)

    def __repr__(self) -> str:
        return "CursorSigner(secret=**********)"

    def seal(self, prefix: str, payload: bytes, tenant: str) -> str:
        """``prefix`` + the payload (base64url) + ``.`` + its MAC."""
        body = _b64(payload)
        return f"{prefix}{body}.{_b64(self._mac(prefix + body, tenant))}"

    def open(self, prefix: str, cursor: str, tenant: str) -> bytes | None:
        """The payload of a cursor this signer sealed for ``tenant``; ``None`` for anything else."""
        if not cursor.startswith(prefix) or len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
            return None
        body, _, mac = cursor[len(prefix) :].rpartition(".")
        # The MAC covers the text as sent and is compared as text: no other spelling of it opens.
        if not hmac.compare_digest(mac, _b64(self._mac(prefix + body, tenant))):
            return None
        try:
            return _unb64(body)
        except (ValueError, binascii.Error):
            return None

    def _mac(self, message: str, tenant: str) -> bytes:
        signed = f"{message}\0{tenant}".encode()
        return hmac.new(self._key, signed, hashlib.sha256).digest()[:MAC_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    """Strict base64url without padding: one spelling per payload (no other alphabet, no junk)."""
    if not text or set(text) - _B64_ALPHABET:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def filters_fingerprint(filters: SessionFilters, criteria: Criteria, window_words: tuple[str, str] = ("", "")) -> str:
    """A short digest of every filter of a call, ``since`` and ``until`` as given included: a cursor
    serves only the arguments it was made for (a wider window is other arguments)."""
    tags = filters.get("tags") or {}
    canonical = {
        "upstream": {k: v for k, v in filters.items() if k != "tags" and v},
        "tags": dict(sorted(tags.items())),
        "criteria": {k: sorted(v) for k, v in vars(criteria).items()},
        "window": [word.strip() for word in window_words],
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:12]


def encode_cursor(position: ScanPosition, window: Window, fingerprint: str, signer: CursorSigner, tenant: str) -> str:
    """An opaque, signed cursor: where to resume, the window (fixed by the first call) and the arguments."""
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
    return signer.seal(CURSOR_PREFIX, raw, tenant)


def decode_cursor(cursor: str, fingerprint: str, signer: CursorSigner, tenant: str) -> tuple[ScanPosition, Window]:
    """The position and window of a cursor ``encode_cursor`` made with this signer for the same arguments."""
    bad = InvalidInputError(
        "This cursor was not made by this server for this API key (or was changed): pass next_cursor exactly as "
        f"the previous answer showed it, or {START_OVER}"
    )
    raw = signer.open(CURSOR_PREFIX, cursor, tenant)
    if raw is None:
        raise bad
    try:
        fields = json.loads(raw)
        page_index, offset, last_time, last_id, in_order, scanned, matched, ranked, start, end, made_for = fields
    except (ValueError, TypeError):
        raise bad from None
    counts = (page_index, offset, scanned, matched, ranked)
    if not all(_is_count(n) for n in counts) or in_order not in (0, 1) or not isinstance(made_for, str):
        raise bad
    if not all(_is_time(t) for t in (last_time, start, end)) or not (last_id is None or isinstance(last_id, str)):
        raise bad
    if made_for != fingerprint:
        raise InvalidInputError(
            "This cursor was made for other filters: repeat the filters of the call that returned it (since and "
            f"until as they were; the window stays the one it fixed), or {START_OVER}"
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
    signer: CursorSigner,
    window_words: tuple[str, str] = ("", ""),
    max_scan: int = MAX_SCAN,
) -> ScannedPage:
    """The page of matches ``cursor`` points at (the first one without it); its window is the cursor's.

    ``window_words`` are ``since`` and ``until`` as the call gave them: a cursor is refused unless
    they are those of the call that made it.
    """
    fingerprint = filters_fingerprint(filters, criteria, window_words)
    tenant = client.fingerprint
    start, window = decode_cursor(cursor, fingerprint, signer, tenant) if cursor else (None, window)
    scan = await scan_sessions(
        client, filters, window, criteria=criteria, limit=page_size, max_scan=max_scan, start=start
    )
    next_cursor = encode_cursor(scan.resume, window, fingerprint, signer, tenant) if scan.resume else None
    return ScannedPage(scan, start.matched if start else 0, next_cursor)
