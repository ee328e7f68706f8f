"""Aggregate figures over a set of sessions: pure functions, no I/O.

Every figure is bounded: the top values of each kind, and how many were left out.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

from session_mcp.models import FunctionMetric, SessionDetail, SessionSummary
from session_mcp.query import Window
from session_mcp.results import (
    Amount,
    CompanionFigures,
    CostFigures,
    DayCount,
    Distribution,
    Failure,
    HourCount,
    ScanInfo,
    StatsResult,
    ToolFailures,
)

NO_USER_TURN_IDS = 20
BUSIEST_HOURS = 5
TOP_COMPANIONS = 10
TOP_CLIENTS = 5
TOP_TOOLS = 10
TOP_ERRORS = 3
MAX_DAYS = 62
NO_COMPANION = "(none)"
EXAMPLE_CHARS = 160


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
    window: Window | None = None,
    scan: ScanInfo | None = None,
    more_matching: bool = False,
) -> StatsResult:
    """Figures over ``summaries``; the transcript figures over ``details`` (those that were read)."""
    tags: dict[str, Counter[str]] = {}
    for session in summaries:
        for key, value in (session.tags or {}).items():
            tags.setdefault(key, Counter())[str(value)] += 1
    hours = Counter(moment.hour for moment in (s.started or s.created for s in summaries) if moment is not None)
    silent = [d.id for d in details if not any(t.role == "user" for t in d.turns)]
    companions = companion_figures(summaries)
    days, earlier_days, earlier_sessions = per_day(summaries, window or Window())
    tools = tool_failures(details)
    return StatsResult(
        examined=len(summaries),
        matched=matched,
        limit=limit,
        limit_hit=more_matching or (matched is not None and matched > len(summaries)),
        by_companion=_counts(s.companion_id or NO_COMPANION for s in summaries),
        by_status=_counts(s.state for s in summaries),
        by_close_reason=_counts(s.close_reason for s in summaries if s.close_reason),
        by_tag={key: dict(counter.most_common()) for key, counter in sorted(tags.items())},
        duration_seconds=distribution([d for s in summaries if (d := s.duration_seconds) is not None]),
        turns=distribution([len(d.turns) for d in details]),
        no_user_turn=len(silent),
        no_user_turn_ids=silent[:NO_USER_TURN_IDS],
        busiest_hours=[HourCount(hour_utc=h, sessions=n) for h, n in hours.most_common(BUSIEST_HOURS)],
        unread=list(unread),
        failed_reasons=_counts(s.close_reason or "(none given)" for s in summaries if s.state == "failed"),
        by_session_type=_counts(s.session_type for s in summaries if s.session_type),
        by_modality=_counts(s.modality for s in summaries if s.modality),
        companions=companions[:TOP_COMPANIONS],
        other_companions=max(0, len(companions) - TOP_COMPANIONS),
        cost=cost_figures(summaries),
        per_day=days,
        earlier_days=earlier_days,
        earlier_sessions=earlier_sessions,
        tools=tools[:TOP_TOOLS],
        other_tools=max(0, len(tools) - TOP_TOOLS),
        scan=scan,
    )


def companion_figures(summaries: Iterable[SessionSummary]) -> list[CompanionFigures]:
    """Sessions, failures, spend and durations per companion, the busiest first."""
    groups: dict[str, list[SessionSummary]] = defaultdict(list)
    for session in summaries:
        groups[session.companion_id or NO_COMPANION].append(session)
    figures = [
        CompanionFigures(
            companion_id=companion,
            sessions=len(sessions),
            failed=sum(1 for s in sessions if s.state == "failed"),
            cost=_money(s.cost for s in sessions),
            duration_seconds=distribution([d for s in sessions if (d := s.duration_seconds) is not None]),
        )
        for companion, sessions in groups.items()
    ]
    return sorted(figures, key=lambda f: (-f.sessions, f.companion_id))


def cost_figures(summaries: Sequence[SessionSummary]) -> CostFigures:
    """Total and mean spend, by companion and by the external clients that cost most."""
    costed = [s for s in summaries if s.cost is not None]
    total = _money(s.cost for s in costed)
    by_companion = _amounts(costed, lambda s: s.companion_id or NO_COMPANION)
    clients = _amounts([s for s in costed if s.external_client_id], lambda s: s.external_client_id or "")
    others = clients[TOP_CLIENTS:]
    return CostFigures(
        total=total,
        mean=round(total / len(costed), 4) if costed else None,
        with_cost=len(costed),
        without_cost=len(summaries) - len(costed),
        by_companion=by_companion[:TOP_COMPANIONS],
        top_clients=clients[:TOP_CLIENTS],
        other_clients=len(others),
        other_clients_cost=_money(a.cost for a in others),
    )


def _amounts(sessions: Iterable[SessionSummary], key_of: Callable[[SessionSummary], str]) -> list[Amount]:
    groups: dict[str, list[float]] = defaultdict(list)
    for session in sessions:
        groups[key_of(session)].append(session.cost or 0.0)
    amounts = [Amount(key=key, cost=_money(costs), sessions=len(costs)) for key, costs in groups.items()]
    return sorted(amounts, key=lambda a: (-a.cost, a.key))


def _money(values: Iterable[float | None]) -> float:
    """A sum of USD amounts, rounded where float noise starts."""
    return round(math.fsum(v for v in values if v is not None), 6)


def per_day(summaries: Iterable[SessionSummary], window: Window) -> tuple[list[DayCount], int, int]:
    """Sessions per UTC day, days without sessions included, over the window (or the sessions' span).

    Returns the latest ``MAX_DAYS`` days, and how many days (and sessions) came before them.
    """
    counts = Counter(moment.astimezone(UTC).date() for s in summaries if (moment := s.started or s.created))
    if not counts:
        return [], 0, 0
    first = window.start.date() if window.start else min(counts)
    last = (window.end - timedelta(microseconds=1)).date() if window.end else max(counts)
    days = _days(first, last)
    shown = days[-MAX_DAYS:]
    hidden = days[: len(days) - len(shown)]
    return (
        [DayCount(day=day.isoformat(), sessions=counts[day]) for day in shown],
        len(hidden),
        sum(counts[day] for day in hidden),
    )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def tool_failures(details: Iterable[SessionDetail]) -> list[ToolFailures]:
    """Connections of each WebSocket tool by outcome, the most failed first, with their error codes."""
    states: dict[str, Counter[str]] = defaultdict(Counter)
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    latest: dict[str, tuple[datetime, str]] = {}
    for session in details:
        for tool in session.tools:
            name = tool.name or "(unnamed)"
            states[name][tool.state or "unknown"] += 1
            if tool.state == "failed":
                errors[name][(tool.error.code if tool.error else None) or "(no code)"] += 1
                _note_latest(latest, name, tool)
    figures = [
        ToolFailures(
            name=name,
            connected=counter["connected"],
            failed=counter["failed"],
            canceled=counter["canceled"],
            errors=dict(errors[name].most_common(TOP_ERRORS)),
            example=latest[name][1] if name in latest else None,
        )
        for name, counter in states.items()
    ]
    return sorted(figures, key=lambda f: (-f.failed, -f.canceled, f.name))


def _note_latest(latest: dict[str, tuple[datetime, str]], name: str, tool: FunctionMetric) -> None:
    message = tool.error.message if tool.error and tool.error.message else None
    if message is None:
        return
    at = tool.ended or tool.started or datetime.min.replace(tzinfo=UTC)
    if name not in latest or at > latest[name][0]:
        latest[name] = (at, " ".join(message.split())[:EXAMPLE_CHARS])


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(Counter(values).most_common())
