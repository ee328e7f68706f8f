"""The answer of the ``review_sessions`` tool: a report cut to the character budget, text and data.

The text says how many sessions were reviewed (and in which window, and whether the scan was
complete), the counts per check, then the flagged sessions worst first, each finding on one line
with its ``[mm:ss]`` quote, as many whole sessions as the budget holds; the others are named by
id, and the last line says what to do next. The structured result is the same cut of the
report, in the shape the report's view draws (``QAView``).
"""

from __future__ import annotations

from pydantic import Field

from session_mcp.qa.checks import Finding
from session_mcp.qa.report import FlaggedSession, QAReport, QAView
from session_mcp.qa.writers import review_text, scored_text, scores_lines, window_text
from session_mcp.render.common import format_offset, format_time, plural
from session_mcp.render.lines import one_line, quoted

MESSAGE_CHARS = 160
ID_LIST_CHARS = 2_000  # the most the "not shown" ids may take, out of the budget
LISTED = 100  # the most ids (and unread sessions) the structured result lists; the counts say how many
UNREAD_SHOWN = 5


class ReviewResult(QAView):
    """A QA review as ``review_sessions`` answers it."""

    sessions: list[FlaggedSession] = Field(description="The flagged sessions shown, worst first.")
    not_shown: list[str] = Field(
        description=f"Flagged sessions left out to fit the budget, worst first (the first {LISTED})."
    )
    not_shown_count: int = Field(description="How many flagged sessions were left out.")
    unread_count: int = Field(description=f"How many sessions could not be read (unread lists the first {LISTED}).")
    next_step: str
    report_uri: str | None = Field(None, description="The HTML report: read it with resources/read.")
    report_file: str | None = Field(None, description="On a local server: the report saved as a file.")


def review_answer(report: QAReport, budget: int) -> tuple[ReviewResult, str]:
    """The structured result and its text, at most ``budget`` characters (the head is never cut)."""
    head = _head(report)
    id_room = min(ID_LIST_CHARS, budget // 10)  # a small budget goes to sessions, not to ids
    used = len(head)
    blocks: list[str] = []
    for session in report.sessions:
        block = session_block(session)
        tail = _tail(report, len(blocks) + 1, id_room)
        if used + len(block) + 1 + len(tail) + 1 > budget:
            break
        blocks.append(block)
        used += len(block) + 1
    # The turns around a finding and the outcome's reason are a call away (get_session_transcript): the
    # structured result stays within about twice the text's budget.
    shown = [s.model_copy(update={"context": None, "outcome_reason": None}) for s in report.sessions[: len(blocks)]]
    not_shown = [s.session_id for s in report.sessions[len(shown) :]]
    result = ReviewResult(
        **report.model_dump(include=set(QAView.model_fields) - {"sessions", "unread"}),
        sessions=shown,
        not_shown=not_shown[:LISTED],
        not_shown_count=len(not_shown),
        unread=report.unread[:LISTED],
        unread_count=len(report.unread),
        next_step=_next_step(report, len(shown)),
    )
    return result, "\n".join([head, *blocks, _tail(report, len(shown), id_room)])


def _tail(report: QAReport, shown: int, id_room: int) -> str:
    """The lines after the sessions shown: the ids left out, the sessions not read, the next step."""
    lines = []
    not_shown = [s.session_id for s in report.sessions[shown:]]
    if not_shown:
        lines.append(_not_shown_line(not_shown, id_room))
    if report.unread:
        unread = "; ".join(f"{u.session_id}: {one_line(u.reason, 120)}" for u in report.unread[:UNREAD_SHOWN])
        more = f" (+{len(report.unread) - UNREAD_SHOWN} more)" if len(report.unread) > UNREAD_SHOWN else ""
        lines.append(f"Could not read {plural(len(report.unread), 'session')}: {unread}{more}")
    lines.append(_next_step(report, shown))
    return "\n".join(lines)


def _head(report: QAReport) -> str:
    counts = ", ".join(f"{report.by_severity[s]} {s}" for s in ("critical", "warning", "info"))
    lines = [
        f"QA review of {plural(report.reviewed, 'session')}{window_text(report)}: {report.flagged} flagged, "
        f"{plural(report.findings, 'finding')} ({counts})."
    ]
    if report.scanned is not None:
        lines.append(f"Scanned {plural(report.scanned, 'listed session')} to find them.")
    if report.limit_hit:
        lines.append("More sessions matched than the limit: the newest were reviewed (limit goes up to 1000).")
    if not report.scan_complete:
        lines.append("The scan bound stopped before the window's start: older sessions were not reviewed.")
    if report.rules:
        lines.append(f"Rules: {report.rules}.")
    lines += scores_lines(report)
    per_check = [
        f"{c.check} {c.findings}/{c.sessions} ({c.worst})" for c in report.checks if c.findings and c.worst is not None
    ]
    quiet = [c.check for c in report.checks if not c.findings]
    lines.append("Findings/sessions per check: " + (" · ".join(per_check) or "none") + ".")
    if quiet:
        lines.append("No findings: " + ", ".join(quiet) + ".")
    if report.sessions:
        lines.append("Flagged sessions, worst first:")
    return "\n".join(lines)


def session_block(session: FlaggedSession) -> str:
    """A flagged session: a header line, then one line per finding with its quote, then reviewers' notes."""
    status = session.status + (f"/{session.close_reason}" if session.close_reason else "")
    lines = [
        f"## {session.session_id} · {session.companion_id or '-'} · {format_time(session.started_at)} · {status} · "
        f"worst {session.worst}{scored_text(session)}"
    ]
    lines += [finding_line(finding) for finding in session.findings]
    lines += [
        f"- note by {one_line(n.reviewer, 80)}: {quoted(n.text, MESSAGE_CHARS)}" for n in (session.notes or [])[-3:]
    ]
    return "\n".join(lines)


def finding_line(finding: Finding) -> str:
    """``- critical pii_exposed [00:27] "quote" — message``: one line, whatever the quote holds."""
    at = f" [{format_offset(finding.offset_seconds)}]" if finding.turn_index is not None else ""
    quote = f" {quoted(finding.evidence)}" if finding.evidence else ""
    review = review_text(finding)
    return f"- {finding.severity} {finding.check}{at}{quote}{review} — {one_line(finding.message, MESSAGE_CHARS)}"


def _not_shown_line(ids: list[str], room: int) -> str:
    listed: list[str] = []
    size = 0
    for session_id in ids:
        size += len(session_id) + 2
        if size > room:
            break
        listed.append(session_id)
    more = f" (+{len(ids) - len(listed)} more)" if len(listed) < len(ids) else ""
    return (
        f"Not shown to fit the budget, {plural(len(ids), 'flagged session')} (worst first): {', '.join(listed)}{more}"
    )


def _next_step(report: QAReport, shown: int) -> str:
    if report.unread and not report.reviewed:  # not a clean bill: nothing was looked at
        return (
            f"Next: nothing could be read: all {plural(len(report.unread), 'session')} failed (the reasons are "
            "above), so nothing was reviewed. Act on them, then review again."
        )
    if not report.sessions:
        return (
            "Next: nothing was flagged; widen the window (since/until) or read sessions with get_session_transcripts."
        )
    step = (
        f"Next: read a flagged session in full with get_session_transcript session_id={report.sessions[0].session_id!r}"
    )
    not_shown = [s.session_id for s in report.sessions[shown : shown + 5]]
    if not_shown:
        step += f"; review the ones not shown with review_sessions session_ids=[{', '.join(map(repr, not_shown))}, ...]"
    return step + "."
