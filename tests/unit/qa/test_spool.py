"""The review's spool: rows read back in the order added, flagged rows in rank order (ties in the order
added, as a stable sort), whatever their length, as often as asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.qa.spool import READ_SIZE, Spool, packed

row = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))  # JSON text holds no newline
key = st.tuples(st.integers(0, 1), st.integers(-2, 0), st.integers(-(2**40), 2**40))
session = st.tuples(row, st.one_of(st.none(), row), key)


@settings(max_examples=60, deadline=None)
@given(st.lists(session, max_size=30))
def test_rows_come_back_in_order_and_the_flagged_by_rank(
    sessions: list[tuple[bytes, bytes | None, tuple[int, ...]]],
) -> None:
    spool = Spool()
    for reviewed, flagged, rank in sessions:
        spool.add(reviewed, flagged, rank)
    assert list(spool.rows()) == [(reviewed, flagged) for reviewed, flagged, _ in sessions]
    flagged_ones = [(rank, flagged) for _, flagged, rank in sessions if flagged is not None]
    expected = [flagged for _, flagged in sorted(flagged_ones, key=lambda pair: pair[0])]  # stable: ties in order
    assert list(spool.ranked()) == expected and list(spool.ranked(2)) == expected[:2]
    assert list(spool.ranked(start=1)) == expected[1:] and list(spool.ranked(3, start=1)) == expected[1:3]
    assert spool.flagged == len(expected)
    assert list(spool.rows()) == [(reviewed, flagged) for reviewed, flagged, _ in sessions]  # read again, same
    spool.close()


def test_many_flagged_rows_come_back_by_rank() -> None:
    """No row is lost or repeated, from the first or from any start (once read 256 rows to a map)."""
    count = 3 * 256 + 5
    spool = Spool()
    for index in range(count):
        spool.add(b"r%d" % index, b"f%d" % index, ((index * 7919) % count,))
    expected = [b"f%d" % index for index in sorted(range(count), key=lambda i: (i * 7919) % count)]
    assert list(spool.ranked()) == expected
    assert list(spool.ranked(start=255)) == expected[255:]
    spool.close()


def _mapped_file_kb() -> int:
    """The process's resident pages of mapped files (``RssFile``), in kB."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("RssFile:"))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_reading_the_flagged_rows_worst_first_maps_none_of_the_file() -> None:
    """Rows read worst first are all over the file; a map of it put the pages around each one read in the
    RSS (18 MB at 10,000 sessions, 50 MB at 50,000): read, they add no mapped page at all."""
    count, size = 2_048, 16 * 1024  # a 32 MB spool, rows of four pages
    spool = Spool()
    for index in range(count):
        spool.add(b"r", b"%05d" % index + b"x" * size, ((index * 7919) % count,))
    before = most = _mapped_file_kb()
    for read, row in enumerate(spool.ranked()):
        assert len(row) == size + 5
        if read % 16 == 0:
            most = max(most, _mapped_file_kb())
    spool.close()
    assert most - before < 1024, f"{most - before} kB of the file mapped while its rows were read"


def test_rows_longer_than_a_read_come_back_whole() -> None:
    long = b"x" * (READ_SIZE * 2 + 7)
    longer = b"y" * (READ_SIZE + 3)
    spool = Spool()
    spool.add(b"a", long, (1,))
    spool.add(longer, None)
    spool.add(b"b", b"short", (0,))
    assert list(spool.rows()) == [(b"a", long), (longer, None), (b"b", b"short")]
    assert list(spool.ranked()) == [b"short", long]
    spool.add(b"c", b"later", (0,))  # a row added after a read is read too
    assert list(spool.ranked()) == [b"short", b"later", long]


def test_a_packed_key_sorts_as_its_tuple_then_its_offset() -> None:
    keys = [(0, -2, -1, 5), (0, -2, -1, -5), (1, 0, 0, 0), (0, -1, 0, 2**39), (0, -2, -3, 0)]
    values = [packed(k, offset, 9 - offset) for offset, k in enumerate(keys)]
    in_order = sorted(enumerate(keys), key=lambda p: (p[1], p[0]))
    assert sorted(values) == [packed(k, offset, 9 - offset) for offset, k in in_order]
