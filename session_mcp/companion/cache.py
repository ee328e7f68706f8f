"""A bounded LRU cache of closed sessions, partitioned by API key; a memory of list pages read.

A closed session never changes, so a re-read can skip the network. The cache is bounded both in
entries and in bytes, the bytes being an estimate of the memory each session holds in Python (a
transcript takes several times the size of its JSON), and every entry is filed under a
fingerprint of the key that read it and the base URL it read from: one key's data is never served
to another.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from session_mcp.companion.models import SessionDetail, SessionPage

# Measured with tracemalloc on CPython 3.11-3.13 (tests/test_cache.py checks it): what one turn
# holds besides its role and text strings (the model, its __dict__, fields-set and extras, the
# timestamp), and what a session holds besides its turns.
TURN_BYTES = 600
SESSION_BYTES = 2_500
_CONTAINER_ENTRY_BYTES = 100  # a dict or list slot with its share of the table and a small value


def key_fingerprint(api_key: str, base_url: str) -> str:
    """A stable, non-reversible name for an API key at one base URL, safe to keep as a dict key or file name.

    The base URL is part of it: the same key against staging and production (or a simulator)
    reads two different sets of sessions, and neither may be served as the other.
    """
    return hashlib.sha256(json.dumps([api_key, base_url]).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    hits: int
    misses: int


def resident_size(session: SessionDetail) -> int:
    """An estimate of the bytes ``session`` keeps alive, within a factor of two of the truth."""
    size = SESSION_BYTES + _extra_size(session.model_extra)
    for turn in session.turns:
        size += TURN_BYTES + sys.getsizeof(turn.role) + sys.getsizeof(turn.text) + _extra_size(turn.model_extra)
    return size


def _extra_size(extra: dict[str, Any] | None) -> int:
    return _value_size(extra) if extra else 0


def _value_size(value: Any) -> int:
    """Bytes of a decoded JSON value: exact for strings, per-slot estimates for containers."""
    if isinstance(value, str):
        return sys.getsizeof(value)
    if isinstance(value, dict):
        return sum(_CONTAINER_ENTRY_BYTES + _value_size(k) + _value_size(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_CONTAINER_ENTRY_BYTES + _value_size(item) for item in value)
    return 0  # numbers, booleans and None: inside the slot estimate


class SessionCache:
    """LRU of ``SessionDetail`` by (key fingerprint, session id), bounded in entries and bytes.

    ``sizer`` estimates an entry's bytes (``resident_size`` unless a test gives another).
    Cached sessions are shared, not copied: callers treat them as read-only.
    """

    def __init__(
        self,
        max_entries: int = 512,
        max_bytes: int = 64 * 1024 * 1024,
        sizer: Callable[[SessionDetail], int] = resident_size,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.sizer = sizer
        self._entries: OrderedDict[tuple[str, str], tuple[SessionDetail, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, fingerprint: str, session_id: str) -> SessionDetail | None:
        with self._lock:
            entry = self._entries.get((fingerprint, session_id))
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end((fingerprint, session_id))
            self._hits += 1
            return entry[0]

    def peek(self, fingerprint: str, session_id: str) -> SessionDetail | None:
        """The cached session, if any, without counting a hit or refreshing its place."""
        with self._lock:
            entry = self._entries.get((fingerprint, session_id))
            return entry[0] if entry is not None else None

    def put(self, fingerprint: str, session: SessionDetail) -> None:
        """Keep ``session`` if it is closed and its estimated size fits the byte bound."""
        if not session.is_closed or self.max_entries <= 0:
            return
        size = self.sizer(session)
        if size > self.max_bytes:
            return
        key = (fingerprint, session.id)
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (session, size)
            self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, evicted_size) = self._entries.popitem(last=False)
                self._bytes -= evicted_size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._entries), self._bytes, self._hits, self._misses)


class PageMemory:
    """The rows of the list pages read lately, to notice an API serving one page's rows for another
    ``pageIndex``. Bounded; a list is keyed by the key's fingerprint and every parameter but the
    page index; rows by a digest of their ids and the counts (new sessions change the counts, so
    a list that merely shifted by a page is not taken for a repeat)."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._pages: OrderedDict[tuple[str, str], int] = OrderedDict()

    def same_rows(self, tenant: str, params: Mapping[str, str | int], page: SessionPage) -> int | None:
        """The index of another page of this list read with the rows of ``page``; records ``page``."""
        asked = int(params["pageIndex"])
        if not page.items:
            return None
        listing = json.dumps([tenant, sorted((k, str(v)) for k, v in params.items() if k != "pageIndex")])
        rows = json.dumps([[item.id for item in page.items], page.filtered_count, page.total_count])
        key = (hashlib.sha256(listing.encode()).hexdigest(), hashlib.sha256(rows.encode()).hexdigest())
        before = self._pages.pop(key, None)
        self._pages[key] = asked
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)
        return before if before is not None and before != asked else None
