"""A persistent cache of closed sessions on disk, so a daily QA run fetches only what is new.

A closed (or failed) session never changes, so once read it can be kept. Stdlib ``sqlite3``, one
database file per fingerprint of an API key and a base URL (``cache.key_fingerprint``: one key's
sessions are never served to another, nor one backend's as another's), under the user's cache
directory (``$XDG_CACHE_HOME/session-mcp``, else ``~/.cache/session-mcp``) unless one is given.

- **What is stored**: the session as validated on its way in (``SessionDetail.to_wire()``), and
  read back through the same boundary (``ingest``); an entry that no longer passes is dropped.
- **Bounded** in entries and bytes; past either bound the oldest entries go first.
- **Safe under concurrent processes**: WAL journal (readers never block the writer), a busy
  timeout instead of "database is locked" errors, and every write in one ``BEGIN IMMEDIATE``
  transaction with its eviction. A cache still busy after the timeout is skipped with a warning
  (the review goes on reading from the API): a cache is never a reason for a run to fail.
- **Private**: transcripts hold personal data, so the directory is created ``0700`` and the
  file ``0600`` (SQLite gives its WAL files the same mode). A directory that is there already must
  be a real one (not a link) of this user: group or other access is taken away (with a warning),
  anything else is refused (``DiskCacheError``: the caller goes on without the cache).
- **Damage**: a file that is not a database, or one found damaged at open or by a query, is moved
  aside once (``*.broken``, then ``*.2.broken``...: never over an earlier one) and the cache starts
  empty; a locked one is left alone.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from session_mcp.companion.ingest import ingest
from session_mcp.companion.models import SessionDetail
from session_mcp.errors import InvalidResponseError

logger = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 50_000
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
BUSY_TIMEOUT_SECONDS = 10.0
QUERY_CHUNK = 500  # ids per SELECT: under SQLite's limit on bound parameters
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # a link fails, a FIFO never blocks
DAMAGED = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})  # the errors that mean "not a usable file"

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    stored_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_age ON sessions (stored_at);
"""


class DiskCacheError(OSError):
    """The cache directory or file cannot be used; the message says which and what to do."""


class DiskCacheBusyError(DiskCacheError):
    """The cache file is fine but another process holds it past the busy timeout: go on without it."""


def default_cache_dir(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Path:
    """The user's cache folder of each platform, plus ``session-mcp``.

    ``$XDG_CACHE_HOME`` wins everywhere; else ``%LOCALAPPDATA%`` on Windows, ``~/Library/Caches``
    on macOS and ``~/.cache`` elsewhere (where Claude Desktop's users and their backups expect it).
    """
    base = env.get("XDG_CACHE_HOME", "").strip()
    if not base and platform == "win32":
        base = env.get("LOCALAPPDATA", "").strip() or str(Path.home() / "AppData" / "Local")
    if not base and platform == "darwin":
        base = str(Path.home() / "Library" / "Caches")
    return (Path(base) if base else Path.home() / ".cache") / "session-mcp"


def private_folder(
    directory: Path, *, what: str = "cache", instead: str = "pass another --cache-dir, or --no-cache"
) -> None:
    """Make ``directory`` (``0700``), or check the one there: this user's own folder, closed to others.

    A link, a non-folder or another user's folder is refused (it may be how someone else reads the
    transcripts); a folder of ours open to the group or others is closed, and says so.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir(mode=0o700)
        return
    except FileExistsError:
        pass
    info = directory.lstat()
    refused = (
        "is a symbolic link" if stat.S_ISLNK(info.st_mode)
        else "is not a folder" if not stat.S_ISDIR(info.st_mode)
        else f"belongs to another user (uid {info.st_uid})" if sys.platform != "win32" and info.st_uid != os.geteuid()
        else None
    )  # fmt: skip
    if refused:
        raise DiskCacheError(f"the {what} folder {directory} {refused}, so it is not used for transcripts ({instead})")
    if sys.platform != "win32" and stat.S_IMODE(info.st_mode) & 0o077:
        directory.chmod(0o700)
        logger.warning(
            "the %s folder %s was open to other users (mode %04o); it is now 0700, as it holds transcripts",
            what,
            directory,
            stat.S_IMODE(info.st_mode),
        )


class DiskCache:
    """Closed sessions of one API key and base URL (by fingerprint) in a SQLite file; usable from any thread."""

    def __init__(
        self,
        directory: Path,
        fingerprint: str,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> None:
        self.max_entries = max_entries
        self.busy_timeout = busy_timeout
        self.max_bytes = max_bytes
        self.path = directory / f"sessions-{fingerprint}.sqlite3"
        self._lock = threading.Lock()
        try:
            private_folder(directory)
            self._create()
            self._db = self._open()
        except sqlite3.Error as exc:
            raise DiskCacheBusyError(f"the cache file {self.path} cannot be opened now: {exc}") from None
        except DiskCacheError:
            raise
        except OSError as exc:
            raise DiskCacheError(
                f"cannot use the cache directory {directory}: {exc.strerror or exc} (pass another --cache-dir, "
                "or --no-cache)"
            ) from None

    def _create(self) -> None:
        """The cache file, made ``0600`` if missing; a link or anything but a regular file is refused."""
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT | NO_FOLLOW, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(handle).st_mode):
                raise DiskCacheError(f"the cache file {self.path} is not a regular file (pass another --cache-dir)")
        finally:
            os.close(handle)

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if exc.sqlite_errorname not in DAMAGED:  # busy or locked: the file is fine, leave it be
                raise
            return self._start_over(exc)

    def _start_over(self, exc: sqlite3.Error) -> sqlite3.Connection:
        """Move the damaged file aside, never over one moved aside before, and start an empty one."""
        broken = next(
            aside
            for n in itertools.count(1)
            if not os.path.lexists(aside := self.path.with_suffix(".broken" if n == 1 else f".{n}.broken"))
        )
        logger.warning("cache file %s is not usable (%s); moved aside to %s", self.path, exc, broken)
        self.path.replace(broken)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self._create()
        return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> DiskCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_many(self, session_ids: Sequence[str]) -> dict[str, SessionDetail]:
        """The cached sessions among ``session_ids``, by id; none when the file is busy."""
        try:
            return self._get_many(session_ids)
        except sqlite3.Error as exc:
            self._skipped("read", exc)
            return {}

    def _get_many(self, session_ids: Sequence[str]) -> dict[str, SessionDetail]:
        found: dict[str, SessionDetail] = {}
        spoiled: list[str] = []
        with self._lock:
            for start in range(0, len(session_ids), QUERY_CHUNK):
                chunk = list(session_ids[start : start + QUERY_CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT id, body FROM sessions WHERE id IN ({marks})", chunk).fetchall()
                for session_id, body in rows:
                    try:  # through the ingestion boundary: the file may predate it, or be damaged
                        found[session_id] = ingest(body, SessionDetail, what="the disk cache")
                    except InvalidResponseError:
                        spoiled.append(session_id)
            if spoiled:  # written by another version, or damaged: read it again from the API
                self._db.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in spoiled])
        return found

    def put_many(self, sessions: Iterable[SessionDetail]) -> int:
        """Keep the closed ones among ``sessions``; how many were stored."""
        now = time.time()
        rows = []
        for session in sessions:
            if session.is_closed:
                body = json.dumps(session.to_wire(), ensure_ascii=False, separators=(",", ":")).encode()
                if len(body) <= self.max_bytes:
                    rows.append((session.id, body, len(body), now))
        if not rows:
            return 0
        try:
            self._store(rows)
        except sqlite3.Error as exc:
            self._skipped("write", exc)
            return 0
        return len(rows)

    def _store(self, rows: list[tuple[str, bytes, int, float]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO sessions (id, body, size, stored_at) VALUES (?, ?, ?, ?)", rows
                )
                self._evict()
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _skipped(self, what: str, exc: sqlite3.Error) -> None:
        """Say on stderr that the cache was not used this time, and why; the caller goes on without it.

        Damage a query found is dealt with once: the file is moved aside and an empty one takes its
        place, so the next run neither warns again nor reads the damaged file.
        """
        if isinstance(exc, sqlite3.DatabaseError) and exc.sqlite_errorname in DAMAGED:
            with self._lock:
                self._db.close()
                try:
                    self._db = self._start_over(exc)
                    return
                except (sqlite3.Error, OSError) as failed:  # closed: every later call is skipped too
                    exc = sqlite3.Error(f"{exc}; moving it aside failed: {failed}")
        logger.warning("the disk cache %s could not %s (%s); going on without it", self.path, what, exc)

    def _evict(self) -> None:
        """Delete the oldest entries until both bounds hold (inside the caller's transaction)."""
        entries, size = self._db.execute("SELECT count(*), coalesce(sum(size), 0) FROM sessions").fetchone()
        if entries <= self.max_entries and size <= self.max_bytes:
            return
        doomed = []
        oldest_first = self._db.execute("SELECT id, size FROM sessions ORDER BY stored_at, id").fetchall()
        for session_id, entry_size in oldest_first:
            if entries <= self.max_entries and size <= self.max_bytes:
                break
            doomed.append((session_id,))
            entries -= 1
            size -= entry_size
        self._db.executemany("DELETE FROM sessions WHERE id = ?", doomed)

    def stats(self) -> tuple[int, int]:
        """(entries, bytes) stored."""
        with self._lock:
            entries, size = self._db.execute("SELECT count(*), coalesce(sum(size), 0) FROM sessions").fetchone()
        return int(entries), int(size)
