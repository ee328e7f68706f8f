"""The answer of ``session_stats``: the result model that ``figures`` builds and ``text`` says."""

from __future__ import annotations

from pydantic import BaseModel, Field

from session_mcp.render.freshness import StoreFreshness
from session_mcp.render.scan_info import ScanInfo
from session_mcp.sessions.fetch import Failure


class Distribution(BaseModel):
    count: int
    median: float | None = None
    p90: float | None = None
    max: float | None = None
    mean: float | None = None


class HourCount(BaseModel):
    hour_utc: int
    sessions: int


class DayCount(BaseModel):
    day: str = Field(description="Calendar day in the result's timezone, YYYY-MM-DD.")
    sessions: int
    by_status: dict[str, int] = Field(
        default_factory=dict,
        description="The day's sessions per status (the statuses of by_status, the rest as '(others)').",
    )


class Amount(BaseModel):
    key: str
    cost: float = Field(description="USD.")
    sessions: int


class CostFigures(BaseModel):
    """Spend, from ``cost`` (USD), which the API sets once a session closes."""

    total: float
    mean: float | None = Field(None, description="Per session that has a cost.")
    with_cost: int
    without_cost: int = Field(description="Sessions with no cost yet (pending or open) or none sent.")
    by_companion: list[Amount]
    top_clients: list[Amount] = Field(description="External clients that cost most.")
    other_clients: int = Field(description="External clients with a cost left out of top_clients.")
    other_clients_cost: float


class CompanionFigures(BaseModel):
    companion_id: str
    sessions: int
    failed: int
    cost: float
    duration_seconds: Distribution


class ToolFailures(BaseModel):
    """Connections of one WebSocket tool over the sessions read, from ``functionMetrics``."""

    name: str
    connected: int
    failed: int
    canceled: int
    errors: dict[str, int] = Field(description="Failures by error code (top values).")
    example: str | None = Field(None, description="The message of the most recent failure, shortened.")


class StatsResult(BaseModel):
    """Aggregate figures over the sessions matching the filters, up to a limit."""

    examined: int = Field(description="Sessions looked at.")
    matched: int | None = Field(None, description="Sessions matching the filters upstream.")
    limit: int
    limit_hit: bool = Field(description="True when more sessions matched than were looked at.")
    by_companion: dict[str, int] = Field(
        description="Sessions per companion; each count like this keeps its "
        "10 most common values and sums the rest under '(others)'."
    )
    by_status: dict[str, int]
    by_close_reason: dict[str, int]
    by_tag: dict[str, dict[str, int]] = Field(description="For the 20 most used tag keys, sessions per value.")
    tag_keys_left_out: int | None = Field(None, description="Tag keys beyond the 20 counted.")
    values_cut: dict[str, int] | None = Field(
        None,
        description="Counts cut to their top 10 ('companion', 'status', 'close_reason', 'tag <key>'): distinct values.",
    )
    duration_seconds: Distribution = Field(description="Over sessions that started and closed.")
    turns: Distribution = Field(description="Over sessions whose transcript was read.")
    no_user_turn: int = Field(description="Sessions (with a transcript read) in which the user never spoke.")
    no_user_turn_ids: list[str] = Field(description="Up to 20 of them.")
    busiest_hours: list[HourCount] = Field(
        description="Top hours of the day (in `timezone`) by sessions started (created, if never)."
    )
    unread: list[Failure] = Field(description="Up to 20 sessions that could not be read or counted, and why.")
    unread_count: int = Field(0, description="How many sessions could not be read or counted in all.")
    failed_reasons: dict[str, int] = Field(description="Close reasons of the failed sessions.")
    by_session_type: dict[str, int]
    by_modality: dict[str, int]
    companions: list[CompanionFigures] = Field(description="Per companion, the busiest first.")
    other_companions: int = Field(description="Companions left out of `companions`.")
    cost: CostFigures
    per_day: list[DayCount] = Field(description="Sessions per day in `timezone` over the window (the latest days).")
    timezone: str = Field("UTC", description="The IANA zone of per_day and busiest_hours.")
    earlier_days: int = Field(description="Days before those of per_day, left out.")
    earlier_sessions: int = Field(description="Sessions of those days.")
    tools: list[ToolFailures] = Field(description="WebSocket tools by failures (needs read_transcripts).")
    other_tools: int
    scan: ScanInfo | None = None
    store: StoreFreshness | None = Field(None, description="Present when the answer came from the session store.")
