"""Aggregate figures over a set of sessions: pure functions, no I/O.

Bounded whatever the data: each count keeps its ``TOP_VALUES`` most common values and sums the
rest under ``OTHERS`` (a tag holding an order id has as many values as sessions), at most
``TOP_TAG_KEYS`` tag keys are counted (the most used), values are cut to a length, and figures
that are not finite numbers are left out. One session whose fields cannot be counted is listed
among the unread, never the end of the statistics.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from session_mcp.lines import FIELD_CHARS, ID_CHARS, shorten_text
from session_mcp.models import SessionDetail, SessionSummary
from session_mcp.results import Distribution, Failure, HourCount, StatsResult

NO_USER_TURN_IDS = 20
BUSIEST_HOURS = 5
TOP_VALUES = 10
TOP_TAG_KEYS = 20
MAX_UNREAD = 20
OTHERS = "(others)"

logger = logging.getLogger(__name__)


def distribution(values: Sequence[float]) -> Distribution:
    """Median, p90 (nearest rank), max and mean of the finite ``values``."""
    ordered = sorted(v for v in values if math.isfinite(v))
    if not ordered:
        return Distribution(count=0)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    try:
        mean: float | None = round(statistics.fmean(ordered), 1)
    except OverflowError:  # finite values whose sum is not
        mean = None
    return Distribution(count=len(ordered), median=statistics.median(ordered), p90=p90, max=ordered[-1], mean=mean)


@dataclass(frozen=True)
class _Figures:
    """What one session adds to the statistics, read once."""

    companion: str
    status: str
    close_reason: str | None
    tags: dict[str, str]
    duration: float | None
    moment: datetime | None


def _figures(session: SessionSummary) -> _Figures:
    tags = {
        shorten_text(str(k), FIELD_CHARS): shorten_text(str(v), FIELD_CHARS) for k, v in (session.tags or {}).items()
    }
    duration = session.duration_seconds
    return _Figures(
        companion=shorten_text(session.companion_id or "(none)", FIELD_CHARS),
        status=shorten_text(session.state, FIELD_CHARS),
        close_reason=shorten_text(session.close_reason, FIELD_CHARS) if session.close_reason else None,
        tags=tags,
        duration=float(duration) if duration is not None else None,
        moment=session.started or session.created,
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
    figures: list[_Figures] = []
    not_counted: list[Failure] = []
    for session in summaries:
        try:
            figures.append(_figures(session))
        except Exception as exc:  # one poisoned session must not sink the rest
            logger.warning("session %.80r could not be counted: %s", session.id, type(exc).__name__)
            not_counted.append(
                Failure(
                    session_id=shorten_text(session.id, ID_CHARS),
                    reason=f"its fields could not be counted ({type(exc).__name__})",
                )
            )
    tags: dict[str, Counter[str]] = {}
    for figure in figures:
        for key, value in figure.tags.items():
            tags.setdefault(key, Counter())[value] += 1
    counted_keys = sorted(
        key for key, _ in Counter({k: sum(c.values()) for k, c in tags.items()}).most_common(TOP_TAG_KEYS)
    )
    hours = Counter(f.moment.hour for f in figures if f.moment is not None)
    silent = [d.id for d in details if not any(t.role == "user" for t in d.turns)]
    cut: dict[str, int] = {}
    failures = [*not_counted, *unread]
    return StatsResult(
        examined=len(summaries),
        matched=matched,
        limit=limit,
        limit_hit=matched is not None and matched > len(summaries),
        by_companion=_top(Counter(f.companion for f in figures), "companion", cut),
        by_status=_top(Counter(f.status for f in figures), "status", cut),
        by_close_reason=_top(Counter(f.close_reason for f in figures if f.close_reason), "close_reason", cut),
        by_tag={key: _top(tags[key], f"tag {key}", cut) for key in counted_keys},
        tag_keys_left_out=len(tags) - len(counted_keys) or None,
        values_cut=cut or None,
        duration_seconds=distribution([f.duration for f in figures if f.duration is not None]),
        turns=distribution([len(d.turns) for d in details]),
        no_user_turn=len(silent),
        no_user_turn_ids=[shorten_text(i, ID_CHARS) for i in silent[:NO_USER_TURN_IDS]],
        busiest_hours=[HourCount(hour_utc=h, sessions=n) for h, n in hours.most_common(BUSIEST_HOURS)],
        unread=failures[:MAX_UNREAD],
        unread_count=len(failures),
    )


def _top(counter: Counter[str], name: str, cut: dict[str, int]) -> dict[str, int]:
    """The ``TOP_VALUES`` most common values, the rest summed under ``OTHERS``; a cut noted in ``cut``."""
    if len(counter) <= TOP_VALUES:
        return dict(counter.most_common())
    cut[name] = len(counter)
    top = dict(counter.most_common(TOP_VALUES))
    top[OTHERS] = counter.total() - sum(top.values())
    return top
