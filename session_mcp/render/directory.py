"""The project's directory as answers: ``list_companions`` and ``list_agents``, result models and text.

One line per companion or agent, under a header that names the columns once: id, name, and
the sessions and failed sessions of the last 7 days (``Activity`` says where those came from:
the store, or one bounded scan of the API's list, and whether it read the whole week). An
agent's row adds its companion and its channels. Rows that do not fit the budget are left out
with the call that shows them; every cell is one line that cannot end itself (``cell``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from session_mcp.companion.directory import AgentEntry, CompanionEntry, DirectoryPage
from session_mcp.render.common import fit_lines, format_time, plural, show_id
from session_mcp.render.lines import cell

NAME_CHARS = 60
ACTIVITY_DAYS = 7
NO_ID = "-"


class Activity(BaseModel):
    """Where the sessions and failures of the last 7 days come from, and whether they are whole."""

    window_start: datetime = Field(description="Sessions started at or after this time (UTC)...")
    window_end: datetime = Field(description="... and before this one.")
    source: Literal["store", "scan"] = Field(description="The session store, or one scan of the API's list.")
    sessions: int = Field(description="Sessions of the project counted in the window.")
    naming_agent: int = Field(description="... of which name the agent they were started with.")
    complete: bool = Field(description="False when the scan did not read the whole window: counts are at least.")


class SessionCounts(BaseModel):
    sessions_7d: int | None = Field(None, description="Sessions started in the last 7 days (see activity).")
    failed_7d: int | None = Field(None, description="... of which failed.")


class CompanionRow(SessionCounts):
    id: str | None = None
    name: str | None = None
    status: str | None = None


class AgentRow(SessionCounts):
    id: str | None = None
    name: str | None = None
    companion_id: str | None = None
    companion_name: str | None = None
    channels: list[str] = Field(default_factory=list)


class DirectoryResult(BaseModel):
    """What both lists share: paging, counts, and where the 7-day figures came from."""

    page_index: int
    page_size: int
    filtered_count: int | None = Field(None, description="Rows matching the filters, as the API counts them.")
    total_count: int | None = None
    has_more: bool
    next_page_index: int | None = None
    activity: Activity | None = Field(None, description="Absent when the 7-day figures could not be read.")
    activity_note: str | None = Field(None, description="Why the 7-day figures are missing, when they are.")


class CompanionsResult(DirectoryResult):
    companions: list[CompanionRow]


class AgentsResult(DirectoryResult):
    agents: list[AgentRow]


Counts = dict[str, tuple[int, int]]  # id -> (sessions, failed) in the activity window


def companion_rows(items: Sequence[CompanionEntry], counts: Counts | None) -> list[CompanionRow]:
    return [CompanionRow(id=item.id, name=item.label, status=item.status, **_counts(item.id, counts)) for item in items]


def agent_rows(items: Sequence[AgentEntry], counts: Counts | None, names: dict[str, str]) -> list[AgentRow]:
    """``names``: companion id -> name, for the companion column (whatever of it is known)."""
    rows = []
    for item in items:
        companion = item.companion_ref
        rows.append(
            AgentRow(
                id=item.id,
                name=item.label,
                companion_id=companion,
                companion_name=names.get(companion) if companion else None,
                channels=item.channel_types,
                **_counts(item.id, counts),
            )
        )
    return rows


def _counts(row_id: str | None, counts: Counts | None) -> dict[str, int | None]:
    if counts is None:
        return {}
    sessions, failed = counts.get(row_id or "", (0, 0))
    return {"sessions_7d": sessions, "failed_7d": failed}


def paging(page: DirectoryPage, rows: int, page_index: int, page_size: int) -> dict[str, int | bool | None]:
    """The paging fields of a result: counts as the API gave them, unless fewer than the rows up to
    here (a count its own rows contradict is left out), and whether another page follows."""
    read = page_index * page_size + rows
    more = page.more_after(read, page_size, rows)
    return {
        "page_index": page_index,
        "page_size": page_size,
        "filtered_count": page.filtered_count if (page.filtered_count or 0) >= read else None,
        "total_count": page.total_count if (page.total_count or 0) >= read else None,
        "has_more": more,
        "next_page_index": page_index + 1 if more else None,
    }


def render_companions(result: CompanionsResult, budget: int) -> str:
    lines = [
        f"{cell(show_id(r.id) if r.id else NO_ID)} | {cell(r.name or '-', NAME_CHARS)} | {cell(r.status or '-', 40)}"
        + _activity_cells(r, result.activity)
        for r in result.companions
    ]
    header = "id | name | status" + _activity_header(result.activity)
    return _render("list_companions", "Companions", "companion", result, header, lines, budget)


def render_agents(result: AgentsResult, budget: int) -> str:
    lines = []
    for r in result.agents:
        companion = cell(show_id(r.companion_id) if r.companion_id else "-")
        if r.companion_name:
            companion += f" ({cell(r.companion_name, NAME_CHARS)})"
        channels = cell(", ".join(r.channels) or "-", 80)
        lines.append(
            f"{cell(show_id(r.id) if r.id else NO_ID)} | {cell(r.name or '-', NAME_CHARS)} | {companion} | {channels}"
            + _activity_cells(r, result.activity)
        )
    header = "id | name | companion | channels" + _activity_header(result.activity)
    return _render("list_agents", "Agents", "agent", result, header, lines, budget)


def _render(
    tool: str, title: str, noun: str, result: DirectoryResult, header: str, lines: list[str], budget: int
) -> str:
    """The page's text: a title line, the activity line, the header, the rows that fit, the way on."""
    first = result.page_index * result.page_size + 1
    of = f" of {result.filtered_count}" if result.filtered_count is not None else ""
    if not lines:
        total = f" ({plural(result.total_count, noun)} in the project)" if result.total_count is not None else ""
        head = [f"No {noun}s on page {result.page_index}{total}."]
    else:
        head = [f"{title} {first}-{first + len(lines) - 1}{of} (page {result.page_index})."]
    head.append(activity_line(result.activity, result.activity_note, noun))
    if lines:
        head.append(header)
    tail = _way_on(tool, result)
    room = budget - sum(len(line) + 1 for line in [*head, tail]) - 200  # the cut note
    kept = fit_lines(lines, room, at_least=0)
    body = lines[:kept]
    if kept < len(lines):
        body.append(
            f"({len(lines) - kept} more {noun}s of this page did not fit the answer: call {tool} with "
            f"page_size={max(1, kept)} to page through fewer at a time.)"
        )
    return "\n".join([*head, *body, tail])


def _way_on(tool: str, result: DirectoryResult) -> str:
    if result.next_page_index is not None:
        return f"More: call {tool} with page_index={result.next_page_index} and the same filters."
    return "Last page."


def _activity_header(activity: Activity | None) -> str:
    return f" | sessions {ACTIVITY_DAYS}d | failed {ACTIVITY_DAYS}d" if activity is not None else ""


def _activity_cells(row: SessionCounts, activity: Activity | None) -> str:
    if activity is None:
        return ""
    at_least = "" if activity.complete else "≥"
    return f" | {at_least}{row.sessions_7d or 0} | {at_least}{row.failed_7d or 0}"


def activity_line(activity: Activity | None, note: str | None, noun: str) -> str:
    """One line: where the 7-day figures come from and whether they are whole, or why there are none."""
    if activity is None:
        return f"No {ACTIVITY_DAYS}-day figures: {note or 'they could not be read'}."
    span = f"{format_time(activity.window_start)} to {format_time(activity.window_end)}"
    source = (
        "the session store"
        if activity.source == "store"
        else f"one scan of the API's session list ({plural(activity.sessions, 'session')} in the window)"
    )
    whole = (
        ""
        if activity.complete
        else " The scan did not read the whole week (its bound, SESSION_MCP_MAX_SCAN, or a list that changed "
        "while read): counts are at least (≥)."
    )
    by = "the agent named on each session" if noun == "agent" else "each session's companion"
    if noun == "agent" and not activity.naming_agent:
        whole += " No session of the window names an agent (started with a companion_id instead, or not said)."
    return f"Sessions and failed sessions of the last {ACTIVITY_DAYS} days ({span}), by {by}, from {source}.{whole}"
