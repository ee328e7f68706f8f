"""Aggregate figures over a set of sessions: pure functions, no I/O.

Bounded whatever the data: each count keeps its ``TOP_VALUES`` most common values and sums the
rest under ``OTHERS`` (a tag holding an order id has as many values as sessions), at most
``TOP_TAG_KEYS`` tag keys are counted (the most used), the per-companion, per-client, per-day
and per-tool figures keep their top entries and say how many were left out, values are cut to a
length, and figures that are not finite numbers are left out. One session whose fields cannot be
counted is listed among the unread, never the end of the statistics.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from session_mcp.companion.models import SessionSummary
from session_mcp.render.lines import FIELD_CHARS, ID_CHARS, shorten_text
from session_mcp.render.scan_info import ScanInfo
from session_mcp.sessions.fetch import Failure
from session_mcp.sessions.window import Window
from session_mcp.sessions.window_words import zone_name
from session_mcp.stats.result import (
    Amount,
    CompanionFigures,
    CostFigures,
    DayCount,
    Distribution,
    HourCount,
    StatsResult,
    ToolFailures,
)
from session_mcp.store.base import Figures, ToolOutcome

NO_USER_TURN_IDS = 20
BUSIEST_HOURS = 5
TOP_VALUES = 10
TOP_TAG_KEYS = 20
MAX_UNREAD = 20
OTHERS = "(others)"
TOP_COMPANIONS = 10
TOP_CLIENTS = 5
TOP_TOOLS = 10
TOP_ERRORS = 3
MAX_DAYS = 62
NO_COMPANION = "(none)"

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
    session_type: str | None
    modality: str | None
    client: str | None
    cost: float | None


def _figures(session: SessionSummary) -> _Figures:
    tags = {
        shorten_text(str(k), FIELD_CHARS): shorten_text(str(v), FIELD_CHARS) for k, v in (session.tags or {}).items()
    }
    duration = session.duration_seconds
    return _Figures(
        companion=shorten_text(session.companion_id or NO_COMPANION, FIELD_CHARS),
        status=shorten_text(session.state, FIELD_CHARS),
        close_reason=shorten_text(session.close_reason, FIELD_CHARS) if session.close_reason else None,
        tags=tags,
        duration=float(duration) if duration is not None else None,
        moment=session.started or session.created,
        session_type=_field(session.session_type),
        modality=_field(session.modality),
        client=_field(session.external_client_id),
        cost=float(session.cost) if session.cost is not None and math.isfinite(session.cost) else None,
    )


def _field(value: str | None) -> str | None:
    return shorten_text(value, FIELD_CHARS) if value else None


def session_stats(
    summaries: Sequence[SessionSummary],
    transcripts: Mapping[str, Figures],
    *,
    matched: int | None,
    limit: int,
    unread: Sequence[Failure] = (),
    window: Window | None = None,
    scan: ScanInfo | None = None,
    more_matching: bool = False,
    zone: tzinfo = UTC,
) -> StatsResult:
    """Figures over ``summaries``; the transcript figures over ``transcripts`` (by session id: those read);
    days and hours of the day in ``zone``.

    The same whether the transcripts were fetched (``figures_of`` each) or their figures read from the
    store, where they were computed once when the session was stored.
    """
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
    hours = Counter(f.moment.astimezone(zone).hour for f in figures if f.moment is not None)
    silent = [session_id for session_id, f in transcripts.items() if f.user_turns == 0]
    cut: dict[str, int] = {}
    failures = [*not_counted, *unread]
    companions = companion_figures(figures)
    by_status = _top(Counter(f.status for f in figures), "status", cut)
    days, earlier_days, earlier_sessions = per_day(
        figures, window or Window(), statuses=set(by_status) - {OTHERS}, zone=zone
    )
    tools = tool_failures(transcripts.values())
    return StatsResult(
        examined=len(summaries),
        matched=matched,
        limit=limit,
        limit_hit=more_matching or (matched is not None and matched > len(summaries)),
        by_companion=_top(Counter(f.companion for f in figures), "companion", cut),
        by_status=by_status,
        by_close_reason=_top(Counter(f.close_reason for f in figures if f.close_reason), "close_reason", cut),
        by_tag={key: _top(tags[key], f"tag {key}", cut) for key in counted_keys},
        tag_keys_left_out=len(tags) - len(counted_keys) or None,
        values_cut=cut or None,
        duration_seconds=distribution([f.duration for f in figures if f.duration is not None]),
        turns=distribution([f.turns for f in transcripts.values()]),
        no_user_turn=len(silent),
        no_user_turn_ids=[shorten_text(i, ID_CHARS) for i in silent[:NO_USER_TURN_IDS]],
        busiest_hours=[HourCount(hour_utc=h, sessions=n) for h, n in hours.most_common(BUSIEST_HOURS)],
        timezone=zone_name(zone),
        unread=failures[:MAX_UNREAD],
        unread_count=len(failures),
        failed_reasons=_top(
            Counter(f.close_reason or "(none given)" for f in figures if f.status == "failed"), "failed", cut
        ),
        by_session_type=_top(Counter(f.session_type for f in figures if f.session_type), "session_type", cut),
        by_modality=_top(Counter(f.modality for f in figures if f.modality), "modality", cut),
        companions=companions[:TOP_COMPANIONS],
        other_companions=max(0, len(companions) - TOP_COMPANIONS),
        cost=cost_figures(figures),
        per_day=days,
        earlier_days=earlier_days,
        earlier_sessions=earlier_sessions,
        tools=tools[:TOP_TOOLS],
        other_tools=max(0, len(tools) - TOP_TOOLS),
        scan=scan,
    )


def _top(counter: Counter[str], name: str, cut: dict[str, int]) -> dict[str, int]:
    """The ``TOP_VALUES`` most common values, the rest summed under ``OTHERS``; a cut noted in ``cut``."""
    if len(counter) <= TOP_VALUES:
        return dict(counter.most_common())
    cut[name] = len(counter)
    top = dict(counter.most_common(TOP_VALUES))
    top[OTHERS] = counter.total() - sum(top.values())
    return top


def companion_figures(figures: Iterable[_Figures]) -> list[CompanionFigures]:
    """Sessions, failures, spend and durations per companion, the busiest first."""
    groups: dict[str, list[_Figures]] = defaultdict(list)
    for figure in figures:
        groups[figure.companion].append(figure)
    per_companion = [
        CompanionFigures(
            companion_id=companion,
            sessions=len(group),
            failed=sum(1 for f in group if f.status == "failed"),
            cost=_money(f.cost for f in group),
            duration_seconds=distribution([f.duration for f in group if f.duration is not None]),
        )
        for companion, group in groups.items()
    ]
    return sorted(per_companion, key=lambda f: (-f.sessions, f.companion_id))


def cost_figures(figures: Sequence[_Figures]) -> CostFigures:
    """Total and mean spend, by companion and by the external clients that cost most."""
    costed = [f for f in figures if f.cost is not None]
    total = _money(f.cost for f in costed)
    by_companion = _amounts(costed, lambda f: f.companion)
    clients = _amounts([f for f in costed if f.client], lambda f: f.client or "")
    others = clients[TOP_CLIENTS:]
    return CostFigures(
        total=total,
        mean=round(total / len(costed), 4) if costed else None,
        with_cost=len(costed),
        without_cost=len(figures) - len(costed),
        by_companion=by_companion[:TOP_COMPANIONS],
        top_clients=clients[:TOP_CLIENTS],
        other_clients=len(others),
        other_clients_cost=_money(a.cost for a in others),
    )


def _amounts(figures: Iterable[_Figures], key_of: Callable[[_Figures], str]) -> list[Amount]:
    groups: dict[str, list[float]] = defaultdict(list)
    for figure in figures:
        groups[key_of(figure)].append(figure.cost or 0.0)
    amounts = [Amount(key=key, cost=_money(costs), sessions=len(costs)) for key, costs in groups.items()]
    return sorted(amounts, key=lambda a: (-a.cost, a.key))


def _money(values: Iterable[float | None]) -> float:
    """A sum of USD amounts, rounded where float noise starts."""
    return round(math.fsum(v for v in values if v is not None), 6)


def per_day(
    figures: Iterable[_Figures], window: Window, *, statuses: AbstractSet[str] = frozenset(), zone: tzinfo = UTC
) -> tuple[list[DayCount], int, int]:
    """Sessions per day in ``zone``, days without sessions included, over the window (or the sessions' span),
    each split by status: ``statuses`` by name, any other under ``OTHERS``.

    Returns the latest ``MAX_DAYS`` days, and how many days (and sessions) came before them.
    """
    by_status: dict[date, Counter[str]] = defaultdict(Counter)
    for f in figures:
        if f.moment is not None:
            by_status[f.moment.astimezone(zone).date()][f.status if f.status in statuses else OTHERS] += 1
    counts = Counter({day: day_statuses.total() for day, day_statuses in by_status.items()})
    if not counts:
        return [], 0, 0
    first = window.start.astimezone(zone).date() if window.start else min(counts)
    last = (window.end - timedelta(microseconds=1)).astimezone(zone).date() if window.end else max(counts)
    days = _days(first, last)
    shown = days[-MAX_DAYS:]
    hidden = days[: len(days) - len(shown)]
    return (
        [DayCount(day=day.isoformat(), sessions=counts[day], by_status=dict(by_status[day])) for day in shown],
        len(hidden),
        sum(counts[day] for day in hidden),
    )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def tool_failures(transcripts: Iterable[Figures]) -> list[ToolFailures]:
    """Connections of each WebSocket tool by outcome, the most failed first, with their error codes."""
    states: dict[str, Counter[str]] = defaultdict(Counter)
    errors: dict[str, Counter[str]] = defaultdict(Counter)
    latest: dict[str, tuple[float, str]] = {}
    for transcript in transcripts:
        for tool in transcript.tools:
            name = shorten_text(tool.name or "(unnamed)", FIELD_CHARS)
            states[name][shorten_text(tool.state or "unknown", FIELD_CHARS)] += 1
            if tool.state == "failed":
                errors[name][shorten_text(tool.code or "(no code)", FIELD_CHARS)] += 1
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


def _note_latest(latest: dict[str, tuple[float, str]], name: str, tool: ToolOutcome) -> None:
    if not tool.message:
        return
    at = tool.at if tool.at is not None else -math.inf
    if name not in latest or at > latest[name][0]:
        latest[name] = (at, shorten_text(" ".join(tool.message.split()), FIELD_CHARS))
