"""Every reviewed session's rows of a review, on disk, so memory stays flat however many are reviewed.

``ReportBuilder`` hands each session's rows here as JSON (its ``ReviewedSession`` and, when it has
findings, its ``FlaggedSession``) and drops them. The spool appends them to an unnamed temporary
file (gone when closed or when the process ends) and keeps, per flagged session, one integer: its
rank packed with where its row starts and its length. Writers read the rows back in the order
reviewed, or the flagged ones worst first, as often as they need (``os.pread``: two readers never
share a position). The file is never mapped: a mapped page counts in the process's RSS until
unmapped, and reading rows worst first touches pages all over the file (the kernel maps the pages
around each one read, 64 KB or more): even mapped 256 rows at a time, 18 MB of the peak RSS at 10,000
sessions and 50 MB at 50,000, all of its growth with the sessions reviewed. A ``pread`` a row also
costs less CPU than a map's page faults (1.9 against 4.5 us a row of a few KB).
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterator, Sequence

FIELD_BITS = 48  # each part of a rank key, shifted to be non-negative: timestamps and counts fit with room
OFFSET_BITS = 48  # where a row starts in the file: up to 256 TB
LENGTH_BITS = 40  # a flagged row's length: up to 1 TB (a row is a few KB)
READ_SIZE = 256 * 1024  # a block of the rows read in order
WRITE_BUFFER = 1024 * 1024  # rows are a few KB: written a megabyte at a time, not a call per row
_REVIEWED, _FLAGGED = b"R", b"F"


def packed(key: Sequence[int], offset: int, length: int) -> int:
    """``key``, ``offset`` then ``length`` as one integer that sorts as the tuple ``(*key, offset)`` does
    (no two rows start at one offset)."""
    value = 0
    for part in key:
        value = (value << FIELD_BITS) | (part + (1 << (FIELD_BITS - 1)))
    return (((value << OFFSET_BITS) | offset) << LENGTH_BITS) | length


class Spool:
    """Rows of reviewed sessions in the order added; the flagged ones also in rank order."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(buffering=WRITE_BUFFER)  # noqa: SIM115 - open as long as the report
        self.close = weakref.finalize(self, self._file.close)  # closed (and so gone) with the spool, or before
        self._size = 0
        self._ranks: list[int] = []  # packed (rank key, offset, length) of each flagged row
        self._sorted = True

    @property
    def flagged(self) -> int:
        """How many sessions have a flagged row."""
        return len(self._ranks)

    def add(self, reviewed: bytes | None, flagged: bytes | None = None, key: Sequence[int] = ()) -> None:
        """A session's rows (JSON, one line each; no reviewed row where none is read back: ``rows`` then
        has none); ``key``, its rank among the flagged (the lowest first)."""
        if reviewed is not None:
            self._append(_REVIEWED + reviewed + b"\n")
        if flagged is not None:  # an equal key: the earlier row first, as a stable sort
            self._ranks.append(packed(key, self._size + 1, len(flagged)))  # the row without its mark and newline
            self._sorted = False
            self._append(_FLAGGED + flagged + b"\n")

    def _append(self, line: bytes) -> None:
        self._file.write(line)
        self._size += len(line)

    def rows(self) -> Iterator[tuple[bytes, bytes | None]]:
        """Each session's rows in the order added: its reviewed row, and its flagged row or None."""
        reviewed: bytes | None = None
        for line in self._lines(0):
            if line[:1] == _FLAGGED:  # after its reviewed row; alone where no reviewed rows were added
                if reviewed is not None:
                    yield reviewed, line[1:]
                reviewed = None
                continue
            if reviewed is not None:
                yield reviewed, None
            reviewed = line[1:]
        if reviewed is not None:
            yield reviewed, None

    def ranked(self, limit: int | None = None, start: int = 0) -> Iterator[bytes]:
        """The flagged rows, the lowest rank key first, from the ``start``-th (at most ``limit`` in all)."""
        if not self._sorted:
            self._ranks.sort()
            self._sorted = True
        ranks = self._ranks[start:limit]
        if not ranks:
            return
        self._file.flush()
        descriptor, offsets, lengths = self._file.fileno(), (1 << OFFSET_BITS) - 1, (1 << LENGTH_BITS) - 1
        for rank in ranks:
            yield _read(descriptor, rank & lengths, (rank >> LENGTH_BITS) & offsets)

    def _lines(self, start: int) -> Iterator[bytes]:
        """The lines of the file from ``start``, without their newline."""
        self._file.flush()
        descriptor, position, rest = self._file.fileno(), start, b""
        while position < self._size:
            block = os.pread(descriptor, min(READ_SIZE, self._size - position), position)
            position += len(block)
            *lines, rest = (rest + block).split(b"\n")
            yield from lines
        if rest:
            yield rest


def _read(descriptor: int, length: int, offset: int) -> bytes:
    """``length`` bytes at ``offset``: one ``pread`` unless the system returns fewer (over 2 GB on Linux)."""
    data = os.pread(descriptor, length, offset)
    while len(data) < length:
        more = os.pread(descriptor, length - len(data), offset + len(data))
        if not more:
            raise OSError(f"the QA report's spool ended {length - len(data)} bytes short of a row")
        data += more
    return data
