"""Statistics as text a model reads well: one line per kind of figure, tables named once.

Pure, like ``render``: every single-line field goes through ``one_line`` (a companion id, a tag
value or an error message cannot forge a line), a cell of a ``|`` table through ``cell`` and the
tools' latest error message through ``quoted``; every list is already bounded by ``stats.figures``.
"""

from __future__ import annotations

from session_mcp.render.common import format_duration, plural, show_id
from session_mcp.render.lines import cell, one_line, quoted
from session_mcp.render.scan_info import render_scan
from session_mcp.stats.result import Distribution, StatsResult


def format_distribution(dist: Distribution, unit: str = "") -> str:
    if not dist.count:
        return "no data"
    show = format_duration if unit == "duration" else (lambda v: f"{v:g}")
    return f"median {show(dist.median)} · p90 {show(dist.p90)} · max {show(dist.max)} (n={dist.count})"


def format_counts(counts: dict[str, int]) -> str:
    return " · ".join(f"{one_line(key, 80)} {count}" for key, count in counts.items()) or "-"


def render_stats(result: StatsResult) -> str:
    scope = f"Statistics over {plural(result.examined, 'session')}"
    if result.matched is not None:
        scope += f" of {result.matched} matching"
    if result.limit_hit:
        scope += f" (limit {result.limit} reached: raise limit to cover all)"
    cut = result.values_cut or {}

    def counts(label: str, name: str, values: dict[str, int]) -> str:
        distinct = f" ({plural(cut[name], 'value')}, top 10)" if name in cut else ""
        return f"{label}{distinct}: {format_counts(values)}"

    lines = [scope + "."]
    if result.scan is not None:
        lines.append(render_scan(result.scan))
    lines += [
        counts("status", "status", result.by_status),
        counts("companion", "companion", result.by_companion),
    ]
    if result.failed_reasons:
        lines.append(counts("failed, by close reason", "failed", result.failed_reasons))
    if result.by_close_reason:
        lines.append(counts("close reason", "close_reason", result.by_close_reason))
    lines.extend(counts(f"tag {one_line(key, 80)}", f"tag {key}", values) for key, values in result.by_tag.items())
    if result.tag_keys_left_out:
        lines.append(f"(and {plural(result.tag_keys_left_out, 'other tag key')}, less used)")
    for label, name, values in (
        ("session type", "session_type", result.by_session_type),
        ("modality", "modality", result.by_modality),
    ):
        if values:
            lines.append(counts(label, name, values))
    lines.append(f"duration: {format_distribution(result.duration_seconds, 'duration')}")
    lines.append(f"turns: {format_distribution(result.turns)}")
    silent = ", ".join(show_id(i) for i in result.no_user_turn_ids)
    lines.append(f"no user turn: {result.no_user_turn}" + (f" ({silent})" if silent else ""))
    lines += _companion_lines(result)
    lines += _cost_lines(result)
    if result.per_day:
        earlier = (
            f" (and {plural(result.earlier_days, 'earlier day')}: {result.earlier_sessions})"
            if result.earlier_days
            else ""
        )
        lines.append(
            f"sessions per day ({result.timezone}): "
            + " · ".join(f"{d.day} {d.sessions}" for d in result.per_day)
            + earlier
        )
    if result.busiest_hours:
        lines.append(
            f"busiest hours ({result.timezone}): "
            + " · ".join(f"{h.hour_utc:02d}h {h.sessions}" for h in result.busiest_hours)
        )
    lines += _tool_lines(result)
    if result.unread_count:
        lines.append(
            f"not read or not counted: {result.unread_count} ("
            + ", ".join(show_id(f.session_id) for f in result.unread[:10])
            + (", …" if result.unread_count > 10 else "")
            + ")"
        )
    return "\n".join(lines)


def format_money(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}".rstrip("0").rstrip(".")


def _companion_lines(result: StatsResult) -> list[str]:
    if not result.companions:
        return []
    lines = ["per companion (companion | sessions | failed | cost | duration median | p90):"]
    for figures in result.companions:
        duration = figures.duration_seconds
        cells = [cell(figures.companion_id), str(figures.sessions), str(figures.failed), format_money(figures.cost)]
        cells += [format_duration(duration.median), format_duration(duration.p90)]
        lines.append(" | ".join(cells))
    if result.other_companions:
        lines.append(f"({plural(result.other_companions, 'other companion')} left out)")
    return lines


def _cost_lines(result: StatsResult) -> list[str]:
    cost = result.cost
    if not cost.with_cost:
        return [f"cost: none sent yet ({plural(cost.without_cost, 'session')} without one)"]
    line = f"cost: {format_money(cost.total)} over {plural(cost.with_cost, 'session')}"
    line += f" (mean {format_money(cost.mean or 0)})"
    if cost.without_cost:
        line += f"; {cost.without_cost} without a cost yet (the API sets it once a session closes)"
    lines = [line]
    if len(cost.by_companion) > 1:
        lines.append(
            "cost by companion: " + " · ".join(f"{one_line(a.key)} {format_money(a.cost)}" for a in cost.by_companion)
        )
    if cost.top_clients:
        clients = " · ".join(f"{one_line(a.key)} {format_money(a.cost)} ({a.sessions})" for a in cost.top_clients)
        if cost.other_clients:
            clients += f" · {plural(cost.other_clients, 'other')} {format_money(cost.other_clients_cost)}"
        lines.append(f"top external clients by cost (sessions): {clients}")
    return lines


def _tool_lines(result: StatsResult) -> list[str]:
    if result.turns.count == 0 and result.examined:
        return ["tool connections: not counted (they come with the transcripts: read_transcripts=true)"]
    failing = [t for t in result.tools if t.failed or t.canceled]
    if not result.tools:
        return ["tool connections: none reported (functionMetrics)"]
    if not failing:
        return [f"tool connections: all connected ({', '.join(one_line(t.name, 60) for t in result.tools)})"]
    lines = ["tool connection failures (tool | connected | failed | canceled | errors | latest message):"]
    for tool in failing:
        errors = ", ".join(f"{cell(code, 60)} {n}" for code, n in tool.errors.items()) or "-"
        example = quoted(tool.example, 120) if tool.example else "-"
        name = cell(tool.name, 60)
        lines.append(f"{name} | {tool.connected} | {tool.failed} | {tool.canceled} | {errors} | {example}")
    if result.other_tools:
        lines.append(f"({plural(result.other_tools, 'other tool')} left out)")
    return lines
