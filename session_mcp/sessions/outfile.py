"""Writing a file the project writes (a report, an export): to what the path names, never replacing it.

A path can name more than a regular file. This process's own output (``/dev/stdout``, or the file
the shell redirected it to) is written through that descriptor; a device, a FIFO or a socket is
written as a stream, in place; a regular file is replaced atomically, so a reader never sees half a
report, and keeps its permissions, while a new one gets the mode a shell redirection gives it
(``0666`` less the umask). A symbolic link is written through: its target is replaced and the
link kept. Nothing is ever renamed over anything but a regular file, and nothing takes a
device's mode.
"""

from __future__ import annotations

import errno
import io
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

COPY_CHUNK = 1024 * 1024  # bytes a rewrite copies at a time
OWN_OUTPUTS = (1, 2)  # stdout and stderr: written through the descriptor, whatever they are


def write_file(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write ``data`` (or its parts, in turn) to what ``path`` names: in place when it is not a regular file,
    else atomically."""
    parts = (data,) if isinstance(data, bytes) else data
    with open_in_place(path) if writes_in_place(path) else replacing(path) as file:
        for part in parts:
            file.write(part)


def writes_in_place(path: Path) -> bool:
    """True when ``path`` names this process's own output or something other than a file or folder.

    A device, a FIFO, a socket, ``/dev/stdout``: written as a stream, never replaced. A missing
    path (or a link to one) is a new file, replaced like a regular one.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return False
    return _own_output(info) is not None or not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode))


def replaced_path(path: Path) -> Path:
    """The file a replacement of ``path`` goes to: its real target, through every symbolic link."""
    return Path(os.path.realpath(path))


def is_stream(path: Path, mode: int) -> bool:
    """A pipe, a socket or a terminal: written to as a stream, never read back (nothing to resume)."""
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return True
    if not stat.S_ISCHR(mode):
        return False
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return os.isatty(descriptor)
    finally:
        os.close(descriptor)


def same_file(path: Path, stream: TextIO) -> bool:
    """True when ``path`` names the file behind ``stream`` (``--out /dev/stdout``)."""
    try:
        return os.path.samestat(path.stat(), os.fstat(stream.fileno()))
    except (OSError, ValueError, io.UnsupportedOperation):  # no file behind the stream (a test's capture)
        return False


@contextmanager
def open_in_place(path: Path) -> Iterator[BinaryIO]:
    """``path`` opened as a stream: our own output through its descriptor, a socket connected to."""
    descriptor = _own_output(path.stat())
    if descriptor is not None:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # what was printed before goes first
        with open(descriptor, "wb", closefd=False) as output:
            yield output
    elif stat.S_ISSOCK(path.stat().st_mode):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as peer:
            peer.connect(str(path))
            with peer.makefile("wb") as output:
                yield output
    else:
        # No O_CREAT: if what the path named went away since, this fails rather than making a file.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND), "wb") as output:
            yield output


@contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A file whose content replaces ``path``'s real target once the block ends without an error.

    It is made beside the target (the same file system, so the rename is atomic), gets the mode
    of the file it replaces (or a new file's), and is removed if the block fails.
    """
    target = replaced_path(path)
    mode = _mode_for(target)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
        Path(temporary).chmod(mode)
        _mode_for(target)  # still a regular file (or none): never rename over anything else
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def replace_ranges(path: Path, changes: Iterable[tuple[int, int, bytes]]) -> None:
    """Rewrite ``path`` (``replacing``) with each ``(offset, length)`` range, in order, given new bytes.

    The rest is copied a chunk at a time, so memory holds one chunk and one change.
    """
    with path.open("rb") as current, replacing(path) as rewritten:
        position = 0
        for offset, length, data in changes:
            _copy(current, rewritten, position, offset - position)
            rewritten.write(data)
            position = offset + length
        _copy(current, rewritten, position, None)


def _copy(source: BinaryIO, target: BinaryIO, start: int, size: int | None) -> None:
    """``size`` bytes of ``source`` from ``start`` (to its end when ``None``) onto ``target``."""
    source.seek(start)
    while size is None or size > 0:
        chunk = source.read(COPY_CHUNK if size is None else min(size, COPY_CHUNK))
        if not chunk:
            return
        target.write(chunk)
        if size is not None:
            size -= len(chunk)


def _mode_for(target: Path) -> int:
    """The permissions a replacement of ``target`` gets: its own, or a new file's; refuses a non-file."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask  # as a shell redirection would create it
    if not stat.S_ISREG(info.st_mode):
        raise FileExistsError(errno.EEXIST, "not a regular file, so it is not replaced", str(target))
    return stat.S_IMODE(info.st_mode) & 0o777


def _own_output(info: os.stat_result) -> int | None:
    """The descriptor of this process's stdout or stderr that is the file ``info`` describes."""
    for descriptor in OWN_OUTPUTS:
        try:
            if os.path.samestat(info, os.fstat(descriptor)):
                return descriptor
        except OSError:  # closed
            continue
    return None
