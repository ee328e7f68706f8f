"""Unit tests of the pure rendering helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_mcp.render import (
    SESSION_COLUMNS,
    fit_lines,
    format_duration,
    format_offset,
    format_time,
    session_line,
    shorten_text,
)
from session_mcp.results import SessionRow

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "-"),
        (0, "0s"),
        (0.4, "0s"),
        (12, "12s"),
        (59.4, "59s"),
        (59.6, "1m 00s"),
        (60, "1m 00s"),
        (295, "4m 55s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (3720, "1h 02m"),
        (6602, "1h 50m"),
        (90_000, "25h 00m"),
    ],
)
def test_format_duration(seconds: float | None, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "--:--"),
        (0, "00:00"),
        (1.9, "00:01"),  # truncated, never rounded up past the moment
        (59.999, "00:59"),
        (61, "01:01"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3661, "1:01:01"),
        (36_000, "10:00:00"),
    ],
)
def test_format_offset(seconds: float | None, expected: str) -> None:
    assert format_offset(seconds) == expected


@given(st.floats(min_value=0, max_value=10 * 3600, allow_nan=False))
def test_format_offset_is_monotonic_in_whole_seconds(seconds: float) -> None:
    shown = format_offset(seconds)
    parts = [int(p) for p in shown.split(":")]
    total = parts[-1] + 60 * parts[-2] + (3600 * parts[0] if len(parts) == 3 else 0)
    assert total == int(seconds)
    assert all(0 <= p < 60 for p in parts[1:])


MOMENT = datetime(2026, 9, 21, 12, 53, 20, tzinfo=UTC)


def test_format_time() -> None:
    assert format_time(None) == "-"
    assert format_time(MOMENT) == "2026-09-21T12:53Z"
    assert format_time(MOMENT, seconds=True) == "2026-09-21T12:53:20Z"
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), seconds=True) == "2026-01-02T03:04:05Z"


def test_format_time_converts_to_utc() -> None:
    paris = MOMENT.astimezone(timezone(timedelta(hours=2)))
    assert format_time(paris, seconds=True) == "2026-09-21T12:53:20Z"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("", 5, ""),
        ("short", 5, "short"),
        ("short", 100, "short"),
        ("hello world", 5, "hello… [+6 chars]"),
        ("hello world", 6, "hello… [+6 chars]"),  # trailing space dropped before the mark
        ("abcdef", 0, "… [+6 chars]"),
        ("abcdef", -3, "… [+6 chars]"),
    ],
)
def test_shorten_text(text: str, limit: int, expected: str) -> None:
    assert shorten_text(text, limit) == expected


@given(st.text(max_size=300), st.integers(min_value=0, max_value=200))
def test_shorten_text_keeps_a_prefix_and_counts_what_it_dropped(text: str, limit: int) -> None:
    shown = shorten_text(text, limit)
    if len(text) <= limit:
        assert shown == text
        return
    kept, _, mark = shown.rpartition("… [+")
    assert text.startswith(kept)
    assert len(kept) <= limit
    assert mark == f"{len(text) - len(kept)} chars]"


@pytest.mark.parametrize(
    ("lines", "budget", "expected"),
    [
        ([], 100, 0),
        (["aaa", "bbb"], 8, 2),  # 4 + 4 characters, newlines counted
        (["aaa", "bbb"], 7, 1),
        (["aaa", "bbb", "c"], 100, 3),
        (["x" * 500, "y"], 10, 1),  # the first line always fits, however long
        (["a", "x" * 500, "b"], 10, 1),  # stops at the first line that does not fit
        (["", "", ""], 2, 2),
    ],
)
def test_fit_lines(lines: list[str], budget: int, expected: int) -> None:
    assert fit_lines(lines, budget) == expected


@given(st.lists(st.text(max_size=50), max_size=30), st.integers(min_value=1, max_value=2_000))
def test_fit_lines_respects_the_budget(lines: list[str], budget: int) -> None:
    count = fit_lines(lines, budget)
    assert 0 <= count <= len(lines)
    if lines:
        assert count >= 1
    if count > 1:
        assert sum(len(line) + 1 for line in lines[:count]) <= budget
    if count < len(lines):
        assert sum(len(line) + 1 for line in lines[: count + 1]) > budget


def test_fit_lines_consumes_a_generator_lazily() -> None:
    produced: list[int] = []

    def lines() -> object:
        for n in range(1_000):
            produced.append(n)
            yield "x" * 9

    assert fit_lines(lines(), 35) == 3  # type: ignore[arg-type]
    assert len(produced) == 4


def row(**fields: object) -> SessionRow:
    base: dict[str, object] = {"id": "sess_1", "status": "closed"}
    return SessionRow.model_validate({**base, **fields})


def test_session_line_full_row() -> None:
    line = session_line(
        row(
            companion_id="comp_support",
            external_client_id="user_1",
            created_at=MOMENT - timedelta(seconds=5),
            started_at=MOMENT,
            closed_at=MOMENT + timedelta(seconds=295),
            duration_seconds=295,
            close_reason="idle_timeout",
            turns=7,
            tags={"environment": "production", "channel": "web"},
        )
    )
    assert line == (
        "sess_1 | comp_support | user_1 | 2026-09-21T12:53Z | 4m 55s | 7 | closed/idle_timeout | "
        "channel=web,environment=production"
    )
    assert len(line.split(" | ")) == len(SESSION_COLUMNS.split(" | "))


def test_session_line_unknowns_are_dashes() -> None:
    line = session_line(row(status="pending", created_at=MOMENT))
    assert line == "sess_1 | - | - | (2026-09-21T12:53Z created) | - | - | pending | -"
    assert "None" not in line


def test_session_line_open_session_has_no_duration() -> None:
    line = session_line(row(status="started", companion_id="c", created_at=MOMENT, started_at=MOMENT, turns=0))
    cells = line.split(" | ")
    assert cells[3] == "2026-09-21T12:53Z"
    assert cells[4] == "-"
    assert cells[5] == "0"
    assert cells[6] == "started"
