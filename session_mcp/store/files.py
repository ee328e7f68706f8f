"""The store's files: where the store lives by default, how it is kept private, the sync's lock.

Apart from the engine so that a second engine (PostgreSQL) needs none of it, and the SQLite one
keeps to its tables and queries.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from session_mcp.store.base import StoreError

NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)

logger = logging.getLogger(__name__)


def private_folder(directory: Path, *, instead: str = "pass another --store, or --no-store") -> None:
    """Make ``directory`` (``0700``), or check the one there: this user's own folder, closed to others.

    A link, a non-folder or another user's folder is refused (``StoreError``: it may be how someone
    else reads the transcripts); a folder of ours open to the group or others is closed, and says so.
    """
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
        return
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot make the store folder {directory}: {exc.strerror or exc} ({instead})") from None
    info = directory.lstat()
    refused = (
        "is a symbolic link" if stat.S_ISLNK(info.st_mode)
        else "is not a folder" if not stat.S_ISDIR(info.st_mode)
        else f"belongs to another user (uid {info.st_uid})" if sys.platform != "win32" and info.st_uid != os.geteuid()
        else None
    )  # fmt: skip
    if refused:
        raise StoreError(f"the store folder {directory} {refused}, so it is not used for transcripts ({instead})")
    if sys.platform != "win32" and stat.S_IMODE(info.st_mode) & 0o077:
        directory.chmod(0o700)
        logger.warning(
            "the store folder %s was open to other users (mode %04o); it is now 0700, as it holds transcripts",
            directory,
            stat.S_IMODE(info.st_mode),
        )


def private_file(path: Path) -> None:
    """Create ``path`` ``0600`` (or check the one there: a regular file of ours).

    Its folder is made ``0700`` when this creates it, and kept so when it is session-mcp's own data
    folder; a folder that exists and that the user named (``--store ~/s.sqlite3``: the home folder)
    is theirs and left as it is: the file's own mode keeps others out.
    """
    if not path.parent.exists() or path.parent == default_path(os.environ).parent:
        private_folder(path.parent)
    old = os.umask(0o077)
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR | NO_FOLLOW, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open the store {path}: {exc.strerror or exc}") from None
    finally:
        os.umask(old)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StoreError(f"the store {path} is not a regular file: pass another --store, or --no-store")
        if sys.platform != "win32" and info.st_uid != os.geteuid():
            raise StoreError(
                f"the store {path} belongs to another user (uid {info.st_uid}): pass another --store, or --no-store"
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot make the store {path} private: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def default_path(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Path:
    """The platform's data folder, plus ``session-mcp/store.sqlite3``.

    ``$XDG_DATA_HOME`` wins everywhere; else ``%LOCALAPPDATA%`` on Windows, ``~/Library/Application
    Support`` on macOS and ``~/.local/share`` elsewhere: data, not cache, as a store is not rebuilt for free.
    """
    base = env.get("XDG_DATA_HOME", "").strip()
    if not base and platform == "win32":
        base = env.get("LOCALAPPDATA", "").strip() or str(Path.home() / "AppData" / "Local")
    if not base and platform == "darwin":
        base = str(Path.home() / "Library" / "Application Support")
    return (Path(base) if base else Path.home() / ".local" / "share") / "session-mcp" / "store.sqlite3"


def lock_file(fd: int) -> None:
    """Take an exclusive lock on ``fd`` without waiting; ``OSError`` when another holds it."""
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
