"""Signed keyset cursors for lists read from the session store.

A store-backed list is ordered newest first by (start time, id), a total order, so the next page
starts after the last row served: the cursor carries that position, how many rows came before
(to number the rows), the window fixed by the first call (``since='24h'`` must not move between
pages) and a digest of the other arguments. It is sealed by the server's ``CursorSigner`` for
one tenant, like the scan's cursors: a forged one, or another tenant's, does not open. Reading
page 500 costs what page 1 costs: the store seeks to the position.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from session_mcp.errors import InvalidInputError
from session_mcp.sessions.cursors import START_OVER, CursorSigner

KEYSET_PREFIX = "k1."


@dataclass(frozen=True)
class Keyset:
    """Where a store-backed list goes on."""

    after: tuple[float, str]  # (start time, id) of the last row served
    served: int  # rows served before the next page
    since: float | None  # the window of the first call
    until: float | None


def arguments_digest(*arguments: Any) -> str:
    """A short digest of the arguments a cursor belongs to (filters as given)."""
    return hashlib.sha256(json.dumps(arguments, sort_keys=True, default=str).encode()).hexdigest()[:16]


def seal_keyset(signer: CursorSigner, keyset: Keyset, digest: str, tenant: str) -> str:
    payload = {"a": list(keyset.after), "n": keyset.served, "s": keyset.since, "u": keyset.until, "d": digest}
    return signer.seal(KEYSET_PREFIX, json.dumps(payload, separators=(",", ":")).encode(), tenant)


def is_keyset(cursor: str) -> bool:
    return cursor.startswith(KEYSET_PREFIX)


def open_keyset(signer: CursorSigner, cursor: str, digest: str, tenant: str) -> Keyset:
    """The position a cursor of this list holds; ``InvalidInputError`` for any other text."""
    payload = signer.open(KEYSET_PREFIX, cursor, tenant)
    try:
        data: Any = json.loads(payload) if payload is not None else None
        start, last_id = data["a"]
        keyset = Keyset((float(start), str(last_id)), int(data["n"]), _time(data["s"]), _time(data["u"]))
    except (ValueError, TypeError, KeyError):
        raise InvalidInputError(
            "This cursor was not made by this server for this API key (or was changed): pass next_cursor exactly as "
            f"the previous answer showed it, or {START_OVER}"
        ) from None
    if data.get("d") != digest:
        raise InvalidInputError(
            "This cursor was made for other filters: repeat the filters of the call that returned it (since and "
            f"until as they were; the window stays the one it fixed), or {START_OVER}"
        )
    return keyset


def _time(value: Any) -> float | None:
    return None if value is None else float(value)
