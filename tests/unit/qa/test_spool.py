"""The review's spool: rows read back in the order added, flagged rows in rank order (ties in the order
added, as a stable sort), whatever their length, as often as asked."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.qa.spool import MAPPED_ROWS, READ_SIZE, Spool, packed

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


def test_flagged_rows_read_through_several_maps_come_back_by_rank() -> None:
    """Worst first is read a map of ``MAPPED_ROWS`` rows at a time (the RSS stays flat): no row is lost
    or repeated where one map ends and the next begins."""
    count = 3 * MAPPED_ROWS + 5
    spool = Spool()
    for index in range(count):
        spool.add(b"r%d" % index, b"f%d" % index, ((index * 7919) % count,))
    expected = [b"f%d" % index for index in sorted(range(count), key=lambda i: (i * 7919) % count)]
    assert list(spool.ranked()) == expected
    assert list(spool.ranked(start=MAPPED_ROWS - 1)) == expected[MAPPED_ROWS - 1 :]
    spool.close()


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
    values = [packed(k, offset) for offset, k in enumerate(keys)]
    assert sorted(values) == [packed(k, offset) for offset, k in sorted(enumerate(keys), key=lambda p: (p[1], p[0]))]
