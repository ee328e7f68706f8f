"""The report's per-companion rows and week-over-week trend, from the rows of every reviewed session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from session_mcp.qa.breakdown import ReviewedSession, companions, trend

NOW = datetime(2026, 9, 21, 12, tzinfo=UTC)


def row(days_ago: float, companion: str = "comp_a", checks: tuple[str, ...] = (), **fields: object) -> ReviewedSession:
    return ReviewedSession(
        session_id=f"sess_{days_ago}_{companion}_{len(checks)}",
        companion_id=companion,
        started_at=NOW - timedelta(days=days_ago),
        status="closed",
        checks=list(checks),
        **fields,  # type: ignore[arg-type]
    )


def test_one_week_is_not_enough_history() -> None:
    found = trend([row(0), row(3), row(6.4)], ["slow_response"])
    assert not found.enough_history and found.note.startswith("Not enough history")
    assert found.this_week_sessions == 3 and found.rows == []


def test_this_week_against_the_week_before_per_check_and_outcome() -> None:
    rows = [
        row(0, checks=("slow_response",), outcome="resolved"),
        row(2, checks=("slow_response", "pii_exposed"), outcome="unresolved"),
        row(8, checks=("pii_exposed",), outcome="unresolved"),
        row(13, outcome="unresolved"),
        row(20, checks=("slow_response",)),  # older than two weeks: in neither
    ]
    found = trend(rows, ["slow_response", "pii_exposed", "long_silence"])
    assert found.enough_history and (found.this_week_sessions, found.last_week_sessions) == (2, 2)
    table = {(r.kind, r.name): (r.this_week, r.last_week) for r in found.rows}
    assert table == {
        ("check", "slow_response"): (2, 0),
        ("check", "pii_exposed"): (1, 1),
        ("check", "long_silence"): (0, 0),
        ("outcome", "resolved"): (1, 0),
        ("outcome", "unresolved"): (1, 2),
    }


def test_per_companion_counts_outcomes_verdicts_and_the_mean_score() -> None:
    rows = [
        row(0, "comp_a", ("x",), outcome="resolved", score=100, verdict="pass"),
        row(1, "comp_a", outcome="abandoned", score=50, verdict="fail"),
        row(1, "comp_b", outcome="resolved"),
    ]
    a, b = companions(rows)
    assert (a.companion_id, a.sessions, a.flagged, a.mean_score) == ("comp_a", 2, 1, 75.0)
    assert a.outcomes["resolved"] == a.outcomes["abandoned"] == 1 and a.verdicts == {"pass": 1, "coach": 0, "fail": 1}
    assert (b.companion_id, b.sessions, b.mean_score) == ("comp_b", 1, None)
