"""A bounded LRU cache of closed sessions, partitioned by API key.

A closed session never changes, so a re-read can skip the network. The cache is bounded both in
entries and in bytes (the size of the JSON the API sent), and every entry is filed under a
fingerprint of the key that read it: one key's data is never served to another.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

from session_mcp.models import SessionDetail


def key_fingerprint(api_key: str) -> str:
    """A stable, non-reversible name for an API key, safe to keep in memory as a dict key."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CacheStats:
    entries: int
    bytes: int
    hits: int
    misses: int


class SessionCache:
    """LRU of ``SessionDetail`` by (key fingerprint, session id), bounded in entries and bytes.

    Cached sessions are shared, not copied: callers treat them as read-only.
    """

    def __init__(self, max_entries: int = 512, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
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

    def put(self, fingerprint: str, session: SessionDetail, size: int) -> None:
        """Keep ``session`` if it is closed and fits; ``size`` is the byte size of its JSON."""
        if not session.is_closed or size > self.max_bytes or self.max_entries <= 0:
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
