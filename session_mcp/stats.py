"""Aggregate figures over a set of sessions: pure functions, no I/O."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from session_mcp.models import SessionDetail, SessionSummary
from session_mcp.results import Distribution, Failure, HourCount, StatsResult

NO_USER_TURN_IDS = 20
BUSIEST_HOURS = 5


def distribution(values: Sequence[float]) -> Distribution:
    """Median, p90 (nearest rank), max and mean of ``values``."""
    if not values:
        return Distribution(count=0)
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return Distribution(
        count=len(ordered),
        median=statistics.median(ordered),
        p90=p90,
        max=ordered[-1],
        mean=round(statistics.fmean(ordered), 1),
    )


def session_stats(
    summaries: Sequence[SessionSummary],
    details: Sequence[SessionDetail],
    *,
    matched: int | None,
    limit: int,
    unread: Sequence[Failure] = (),
) -> StatsResult:
    """Figures over ``summaries``; the transcript figures over ``details`` (those that were read)."""
    tags: dict[str, Counter[str]] = {}
    for session in summaries:
        for key, value in (session.tags or {}).items():
            tags.setdefault(key, Counter())[str(value)] += 1
    hours = Counter(moment.hour for moment in (s.started or s.created for s in summaries) if moment is not None)
    silent = [d.id for d in details if not any(t.role == "user" for t in d.turns)]
    return StatsResult(
        examined=len(summaries),
        matched=matched,
        limit=limit,
        limit_hit=matched is not None and matched > len(summaries),
        by_companion=_counts(s.companion_id or "(none)" for s in summaries),
        by_status=_counts(s.state for s in summaries),
        by_close_reason=_counts(s.close_reason for s in summaries if s.close_reason),
        by_tag={key: dict(counter.most_common()) for key, counter in sorted(tags.items())},
        duration_seconds=distribution([d for s in summaries if (d := s.duration_seconds) is not None]),
        turns=distribution([len(d.turns) for d in details]),
        no_user_turn=len(silent),
        no_user_turn_ids=silent[:NO_USER_TURN_IDS],
        busiest_hours=[HourCount(hour_utc=h, sessions=n) for h, n in hours.most_common(BUSIEST_HOURS)],
        unread=list(unread),
    )


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values).most_common())
