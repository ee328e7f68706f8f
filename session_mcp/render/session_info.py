"""A session's own fields as answers show them: one row of a list, or the header of a transcript.

Built within bounds, whatever upstream sent: strings are cut to a length (ids only past what a
valid id may be), and long fields (tags, functions, FAQs, extra fields, tool connections) keep
their first items and count the rest in ``left_out``. Every field reaches the text through
``one_line`` or ``cell`` (``session_mcp.render.lines``): a newline in an id or a tag stays inside
its cell, and no ``|`` in a companion id starts another.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from session_mcp.companion.models import FunctionMetric, SessionDetail, SessionSummary
from session_mcp.render.common import format_duration, format_time, show_id
from session_mcp.render.lines import CUT_MARK, FIELD_CHARS, ID_CHARS, cell, one_line, shorten_text

MAX_ITEMS = 20  # tags, functions, FAQs and extra fields kept per session
VALUE_CHARS = 500  # an extra field's value (as JSON when it is not a string)


class SessionRow(BaseModel):
    """One session as a list shows it."""

    id: str
    companion_id: str | None = None
    external_client_id: str | None = None
    tags: dict[str, Any] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    closed_at: datetime | None = None
    duration_seconds: float | None = Field(None, description="Start to close; absent while open or never started.")
    status: str = Field(description="pending, started, closed or failed (derived from the times when not sent).")
    close_reason: str | None = None
    turns: int | None = Field(None, description="Number of transcript turns, when already known.")
    outcome: str | None = Field(
        None,
        description="How it ended: resolved, unresolved, escalated, abandoned or unknown (from the session store).",
    )
    left_out: dict[str, int] | None = Field(
        None, description=f"Items left out of a long field (tags, functions, faq_ids, extra; {MAX_ITEMS} kept)."
    )


class ToolConnection(BaseModel):
    """How one WebSocket tool connected in a session (``functionMetrics``)."""

    name: str
    state: str = Field(description="connected, failed or canceled (as sent).")
    started_at: datetime | None = None
    ended_at: datetime | None = Field(None, description="When it connected, failed or was canceled.")
    error_code: str | None = None
    error_message: str | None = None


class SessionInfo(SessionRow):
    """A session's configuration and timing, everything but the transcript."""

    functions: list[str] | None = None
    knowledge_base_id: str | None = None
    faq_ids: list[str] | None = None
    session_type: str | None = None
    modality: str | None = None
    mode: str | None = None
    cost: float | None = None
    companion_name: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    tools: list[ToolConnection] | None = Field(None, description="WebSocket tool connections (functionMetrics).")
    extra: dict[str, Any] | None = Field(None, description="Fields the API sent that this server does not name.")


def session_row(session: SessionSummary, turns: int | None = None, outcome: str | None = None) -> SessionRow:
    left_out: dict[str, int] = {}
    return SessionRow(
        id=shorten_text(session.id, ID_CHARS),
        companion_id=_field(session.companion_id),
        external_client_id=_field(session.external_client_id),
        tags=_first_items(session.tags, "tags", left_out, FIELD_CHARS),
        created_at=session.created,
        started_at=session.started,
        closed_at=session.closed,
        duration_seconds=session.duration_seconds,
        status=shorten_text(session.state, FIELD_CHARS),
        close_reason=_field(session.close_reason),
        turns=turns,
        outcome=outcome,
        left_out=left_out or None,
    )


def _field(value: str | None, limit: int = FIELD_CHARS) -> str | None:
    return None if value is None else shorten_text(value, limit)


def _first_items(
    items: Mapping[str, Any] | None, name: str, left_out: dict[str, int], limit: int
) -> dict[str, Any] | None:
    """The first ``MAX_ITEMS`` of ``items`` (by key), keys and values bounded; the rest counted."""
    if not items:
        return None
    if len(items) > MAX_ITEMS:
        left_out[name] = len(items) - MAX_ITEMS
    kept = sorted(items)[:MAX_ITEMS]
    return {shorten_text(key, FIELD_CHARS): bounded_value(items[key], limit) for key in kept}


def _first_strings(values: Sequence[str] | None, name: str, left_out: dict[str, int]) -> list[str] | None:
    if not values:
        return None
    if len(values) > MAX_ITEMS:
        left_out[name] = len(values) - MAX_ITEMS
    return [shorten_text(value, FIELD_CHARS) for value in values[:MAX_ITEMS]]


def bounded_value(value: Any, limit: int) -> Any:
    """``value`` if it is short; else a string cut to ``limit`` (JSON text when it was not a string)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return shorten_text(value, limit)
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return "(a value that cannot be shown)"
    return value if len(text) <= limit else shorten_text(text, limit)


def session_info(session: SessionDetail) -> SessionInfo:
    row = session_row(session, len(session.turns))
    left_out = dict(row.left_out or {})
    extra = {k: v for k, v in session.extra_fields.items() if v is not None}
    return SessionInfo(
        **row.model_dump(exclude={"left_out"}),
        functions=_first_strings(session.functions, "functions", left_out),
        knowledge_base_id=_field(session.knowledge_base_id),
        faq_ids=_first_strings(session.faq_ids, "faq_ids", left_out),
        session_type=_field(session.session_type),
        modality=_field(session.modality),
        mode=_field(session.mode),
        cost=session.cost,
        companion_name=_field(session.companion.name if session.companion else None),
        agent_id=_field(session.agent.id if session.agent else None),
        agent_name=_field(session.agent.name if session.agent else None),
        tools=_tools(session.tools, left_out),
        extra=_first_items(extra, "extra", left_out, VALUE_CHARS),
        left_out=left_out or None,
    )


def _tools(metrics: Sequence[FunctionMetric], left_out: dict[str, int]) -> list[ToolConnection] | None:
    """The first ``MAX_ITEMS`` tool connections, not connected ones first; the rest counted."""
    if not metrics:
        return None
    ordered = sorted(metrics, key=lambda m: m.state == "connected")
    if len(ordered) > MAX_ITEMS:
        left_out["tools"] = len(ordered) - MAX_ITEMS
    return [tool_connection(metric) for metric in ordered[:MAX_ITEMS]]


def tool_connection(metric: FunctionMetric) -> ToolConnection:
    error = metric.error
    return ToolConnection(
        name=shorten_text(metric.name or "(unnamed)", FIELD_CHARS),
        state=shorten_text(metric.state or "unknown", FIELD_CHARS),
        started_at=metric.started,
        ended_at=metric.ended,
        error_code=_field(error.code if error else None),
        error_message=_field(error.message if error else None, VALUE_CHARS),
    )


def format_tags(tags: dict[str, Any] | None, left_out: int = 0) -> str:
    shown = ",".join(f"{cell(k)}={cell(v)}" for k, v in sorted((tags or {}).items()))
    return shown + (f",{CUT_MARK} +{left_out} more" if left_out else "")


def format_status(row: SessionRow) -> str:
    status = cell(row.status)
    return f"{status}/{cell(row.close_reason)}" if row.close_reason else status


def row_tags(row: SessionRow) -> str:
    """The tags of a row, with how many were left out."""
    return format_tags(row.tags, (row.left_out or {}).get("tags", 0))


def format_list(values: list[str] | None, left_out: int = 0) -> str:
    return ",".join(one_line(v) for v in values or []) + (f",{CUT_MARK} +{left_out} more" if left_out else "")


SESSION_COLUMNS = "id | companion | client | started (UTC) | duration | turns | status | tags"
SESSION_COLUMNS_NO_TURNS = SESSION_COLUMNS.replace(" | turns", "")


def session_columns(*, with_turns: bool, with_outcome: bool = False) -> str:
    """The header of ``session_line``'s cells: turns and outcome only where some row knows them."""
    columns = SESSION_COLUMNS if with_turns else SESSION_COLUMNS_NO_TURNS
    return columns.replace(" | status", " | status | outcome") if with_outcome else columns


def session_line(row: SessionRow, *, with_turns: bool = True, with_outcome: bool = False) -> str:
    """One session on one line, in the order of ``session_columns`` (without turns, with the outcome, if asked)."""
    return " | ".join(session_cells(row, with_turns=with_turns, with_outcome=with_outcome))


def session_cells(row: SessionRow, *, with_turns: bool = True, with_outcome: bool = False) -> list[str]:
    """The cells of ``session_line``, for a table that aligns them."""
    cells = [
        show_id(row.id),
        cell(row.companion_id or "-"),
        cell(row.external_client_id or "-"),
        format_time(row.started_at) if row.started_at else _created_only(row.created_at),
        format_duration(row.duration_seconds),
    ]
    if with_turns:
        cells.append("-" if row.turns is None else str(row.turns))
    cells.append(format_status(row))
    if with_outcome:
        cells.append(cell(row.outcome or "-"))
    cells.append(row_tags(row) or "-")
    return cells


def _created_only(created: datetime | None) -> str:
    return f"({format_time(created)} created)" if created else "-"


def render_session_header(info: SessionInfo) -> list[str]:
    """The lines above a transcript: who, what configuration, when."""
    left_out = info.left_out or {}
    head = f"# Session {show_id(info.id)} — {format_status(info)}"
    who = [f"companion {one_line(info.companion_id or '-')}" + _named(info.companion_name)]
    if info.agent_id or info.agent_name:
        who.append(f"agent {one_line(info.agent_id or '-')}" + _named(info.agent_name))
    if info.external_client_id:
        who.append(f"client {one_line(info.external_client_id)}")
    if info.tags:
        who.append(f"tags {row_tags(info)}")
    for label, value in (("type", info.session_type), ("modality", info.modality), ("mode", info.mode)):
        if value:
            who.append(f"{label} {one_line(value)}")
    config = []
    if info.knowledge_base_id:
        config.append(f"knowledge base {one_line(info.knowledge_base_id)}")
    if info.functions:
        config.append("functions " + format_list(info.functions, left_out.get("functions", 0)))
    if info.faq_ids:
        config.append("FAQs " + format_list(info.faq_ids, left_out.get("faq_ids", 0)))
    timing = [f"created {format_time(info.created_at, seconds=True)}"]
    timing.append(f"started {format_time(info.started_at, seconds=True)}" if info.started_at else "never started")
    if info.closed_at:
        timing.append(f"closed {format_time(info.closed_at, seconds=True)}")
        timing.append(f"duration {format_duration(info.duration_seconds)}")
    elif info.started_at:
        timing.append("still open")
    if info.cost is not None:
        timing.append(f"cost ${info.cost:g}")
    lines = [head, " · ".join(who)]
    if config:
        lines.append(" · ".join(config))
    lines.append(" · ".join(timing))
    if info.tools:
        lines.append(tools_line(info.tools, (info.left_out or {}).get("tools", 0)))
    if info.extra:
        fields = ", ".join(f"{one_line(k)}={_compact(v)}" for k, v in sorted(info.extra.items()))
        more = left_out.get("extra", 0)
        lines.append("other fields: " + fields + (f", {CUT_MARK} +{more} more" if more else ""))
    return lines


def _named(name: str | None) -> str:
    return f" ({one_line(name)})" if name else ""


MAX_TOOLS_SHOWN = 10


def tools_line(tools: Sequence[ToolConnection], left_out: int = 0) -> str:
    """``tools: 2 connected · sms_gateway failed (connection_failed: WebSocket handshake timed out)``."""
    connected = sum(1 for t in tools if t.state == "connected")
    others = [t for t in tools if t.state != "connected"]
    cells = [f"{connected} connected"] if connected else []
    for tool in others[:MAX_TOOLS_SHOWN]:
        reason = ": ".join(part for part in (tool.error_code, tool.error_message) if part)
        why = f" ({one_line(reason, 160)})" if reason else ""
        cells.append(f"{one_line(tool.name, 60)} {one_line(tool.state, 40)}{why}")
    hidden = len(others) - len(others[:MAX_TOOLS_SHOWN]) + left_out
    if hidden:
        cells.append(f"{CUT_MARK} +{hidden} more")
    return "tools: " + " · ".join(cells)


def _compact(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return one_line(text)
