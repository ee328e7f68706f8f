"""The built-in QA checks: pure functions from one session to its findings.

Each check flags moments a reviewer should look at, deterministically and offline. Its id is a
snake_case noun, its thresholds come from ``CheckConfig`` (a rules file may change them), and its
findings quote the transcript verbatim, at most ``EVIDENCE_CHARS`` characters, from the text as
it is shown (after redaction when ``--redact-pii`` is on).

Decisions where the issue leaves room:

- ``failed_session``: status ``failed``, or a close reason outside ``NORMAL_CLOSE_REASONS``:
  ``connection_closed`` (a party hung up) and ``idle_timeout`` (the conversation went quiet, the
  usual end of a voice call). ``connection_aborted``, ``no_credits_left``, ``unknown`` and any
  reason not known today are abnormal: a new reason is surfaced until a rules file declares it
  normal.
- ``no_user_turn``: a started or closed session with no user turn holding text. Pending and
  failed sessions are left to ``failed_session``.
- ``unanswered_user``: only once a session is over (closed or failed) at least ``reply_seconds``
  (4 s) after the user's last turn (sooner, the user hung up before the agent could answer); a
  closing ("ok thanks bye", "Maybe later.", "no that's all"), a bare "ok" or "one sec" needs no
  reply (``sessions.phrases.needs_no_reply``) unless a rules file sets ``ignore_sign_offs =
  false``; a question in the last sentence always does.
- ``slow_response``: the first agent turn after a user turn, timed from the user's last turn.
- ``long_silence``: gaps between consecutive turns, and from the start to the first turn; not
  from the last turn to the close (that is how an idle session ends).
- Repetition compares each turn with every earlier turn of the same role said word for word
  (normalized: case, punctuation and spacing ignored) and with the ``RECENT_TURNS`` before it by
  similarity (``difflib`` ratio), on the first ``COMPARED_CHARS`` of each: a stuck loop repeats
  soon, and the bound keeps a 2,000-turn session fast. Bounds that never reject a pair reaching
  the threshold (lengths, shared letters, shared letter pairs: ``may_reach``) come before difflib.
- ``escalation_request``: user turns only; a request phrase is not one when a negation (not,
  no, never, don't, no need, without...) comes before it in the same clause, when the sentence
  talks about the phrase ("how do I say ..."), or when the user repeats the agent's line (a
  drill); see ``qa/escalation.py``.
- ``tool_failure``: a ``functionMetrics`` (or older ``functionStates``) entry whose state is
  ``failed``, or that carries an error and no other state; ``canceled`` (the user left before
  the tool connected) is not a failure.
- ``pii_exposed``: agent turns only (``qa/disclosure.py``): what the user gave earlier in the
  session said again is a read-back (``read_back_severity``, info); anything else, and any full
  card number, is a disclosure (critical).
- A check reports at most ``MAX_FINDINGS_PER_CHECK`` findings per session; the last one says
  how many more there were.
- Upstream text inside a message (the words of a request for a human, a close reason, a tool's
  name and error) is ``quoted``: it cannot end its quote, so it never reads as the check's words.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from session_mcp.companion.models import SessionDetail, from_iso
from session_mcp.qa.disclosure import Item, personal_data, split_read_backs
from session_mcp.qa.escalation import asks_alone, first_request
from session_mcp.qa.similarity import Said, most_similar, normalize
from session_mcp.render.common import format_time, plural
from session_mcp.render.lines import quoted
from session_mcp.render.transcript import Turn, make_turn
from session_mcp.sessions.phrases import echoes, needs_no_reply
from session_mcp.sessions.redact import redact_text

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}

EVIDENCE_CHARS = 200
MAX_FINDINGS_PER_CHECK = 3
RECENT_TURNS = 6
COMPARED_CHARS = 400
NORMAL_CLOSE_REASONS = ("connection_closed", "idle_timeout")


class ReviewerVerdict(BaseModel):
    """A reviewer's word on a finding (``annotate_session``), kept in the local store: the upstream has none."""

    model_config = ConfigDict(frozen=True)

    verdict: Literal["confirmed", "disputed"]
    reviewer: str
    at: datetime = Field(description="When it was given (UTC).")
    comment: str = ""


class Finding(BaseModel):
    """One flagged moment (``turn_index`` set) or a whole-session finding (``turn_index`` null)."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    check: str = Field(description="The check id (a built-in check or a rule of the rules file).")
    severity: Severity
    turn_index: int | None = Field(None, description="0-based turn the finding points at; null for the whole session.")
    offset_seconds: float | None = Field(None, description="Seconds from the session start to that turn, when known.")
    evidence: str = Field(description=f"At most {EVIDENCE_CHARS} characters quoted verbatim from the transcript.")
    message: str
    review: ReviewerVerdict | None = Field(
        None, description="A reviewer's verdict with the same rules; a disputed finding is not counted."
    )

    @property
    def disputed(self) -> bool:
        return self.review is not None and self.review.verdict == "disputed"


# -- configuration: what a rules file may change --------------------------------------------


class CheckOptions(BaseModel):
    """What every check accepts in a rules file: whether it runs, and the severity it reports."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = True
    severity: Severity | None = None


class UnansweredOptions(CheckOptions):
    ignore_sign_offs: bool = True
    reply_seconds: float = Field(
        4.0, ge=0, le=3_600, description="A close sooner after the user left no time to reply."
    )


class DelayOptions(CheckOptions):
    seconds: float = Field(gt=0, le=86_400)


class RepetitionOptions(CheckOptions):
    similarity: float = Field(0.9, gt=0, le=1)
    min_chars: int = Field(20, ge=1, le=10_000)


class EscalationOptions(CheckOptions):
    phrases: tuple[str, ...] = Field((), max_length=200, description="More request phrases, matched literally.")


class PiiOptions(CheckOptions):
    read_back_severity: Severity = "info"


class FailedSessionOptions(CheckOptions):
    normal_close_reasons: tuple[str, ...] = Field(NORMAL_CLOSE_REASONS, max_length=100)


class CheckConfig(BaseModel):
    """The built-in checks' settings: one table per check id, as ``[checks.<id>]`` in a rules file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    no_user_turn: CheckOptions = CheckOptions()
    unanswered_user: UnansweredOptions = UnansweredOptions()
    slow_response: DelayOptions = DelayOptions(seconds=5.0)
    long_silence: DelayOptions = DelayOptions(seconds=20.0)
    agent_repetition: RepetitionOptions = RepetitionOptions()
    user_repetition: RepetitionOptions = RepetitionOptions()
    escalation_request: EscalationOptions = EscalationOptions()
    failed_session: FailedSessionOptions = FailedSessionOptions()
    tool_failure: CheckOptions = CheckOptions()
    pii_exposed: PiiOptions = PiiOptions()


DEFAULT_SEVERITY: dict[str, Severity] = {
    "no_user_turn": "warning",
    "unanswered_user": "warning",
    "slow_response": "warning",
    "long_silence": "info",
    "agent_repetition": "warning",
    "user_repetition": "info",
    "escalation_request": "warning",
    "failed_session": "critical",
    "tool_failure": "warning",
    "pii_exposed": "critical",
}
CHECK_IDS: tuple[str, ...] = tuple(DEFAULT_SEVERITY)
DEFAULT_CONFIG = CheckConfig()


# -- the session as the checks see it ---------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """A session prepared once for every check: turns with offsets, shown and original text."""

    session: SessionDetail
    turns: list[Turn]  # the text as shown (redacted when on)
    original: list[str]  # the text as the API sent it: what the PII detectors look at

    @classmethod
    def of(cls, session: SessionDetail, shown: SessionDetail | None = None) -> Subject:
        shown = shown or session
        origin = shown.turn_origin
        turns = [make_turn(i, item, origin) for i, item in enumerate(shown.turns)]
        return cls(session=shown, turns=turns, original=[item.text for item in session.turns])

    def finding(
        self, check: str, severity: Severity, message: str, turn: Turn | None = None, evidence: str = ""
    ) -> Finding:
        return Finding(
            session_id=self.session.id,
            check=check,
            severity=severity,
            turn_index=turn.index if turn is not None else None,
            offset_seconds=turn.offset_seconds if turn is not None else None,
            evidence=evidence,
            message=message,
        )


def quote(text: str, start: int = 0, end: int | None = None) -> str:
    """At most ``EVIDENCE_CHARS`` of ``text``, verbatim, around ``text[start:end]``."""
    if len(text) <= EVIDENCE_CHARS:
        return text
    end = len(text) if end is None else end
    if end - start >= EVIDENCE_CHARS:
        return text[start : start + EVIDENCE_CHARS]
    left = max(0, start - (EVIDENCE_CHARS - (end - start)) // 3)
    right = min(len(text), left + EVIDENCE_CHARS)
    return text[max(0, right - EVIDENCE_CHARS) : right]


def spoken(turns: Sequence[Turn], role: str) -> Iterator[Turn]:
    """The turns of ``role`` that hold text."""
    return (t for t in turns if t.role == role and t.text.strip())


# -- the checks ----------------------------------------------------------------------------


def no_user_turn(subject: Subject, options: CheckOptions, severity: Severity) -> Iterator[Finding]:
    state = subject.session.state
    if state in ("started", "closed") and next(spoken(subject.turns, "user"), None) is None:
        turns = plural(len(subject.turns), "turn")
        said = f"only the agent spoke ({turns})" if subject.turns else "nothing was said"
        yield subject.finding("no_user_turn", severity, f"The user never spoke in this {state} session: {said}.")


def unanswered_user(subject: Subject, options: UnansweredOptions, severity: Severity) -> Iterator[Finding]:
    said = [t for t in subject.turns if t.text.strip()]
    if not subject.session.is_closed or not said or said[-1].role != "user":
        return
    last = said[-1]
    closed_at = subject.session.closed_at
    timestamp = subject.session.turns[last.index].timestamp
    if closed_at is not None and timestamp is not None and closed_at - timestamp < options.reply_seconds:
        return  # the user hung up (or the line broke) before the agent could answer
    if options.ignore_sign_offs and needs_no_reply(last.text):
        return
    yield subject.finding(
        "unanswered_user",
        severity,
        "The conversation ends on this user turn: the agent never replied.",
        last,
        quote(last.text),
    )


def slow_response(subject: Subject, options: DelayOptions, severity: Severity) -> Iterator[Finding]:
    previous: Turn | None = None
    for turn in subject.turns:
        if not turn.text.strip():
            continue
        if turn.role == "agent" and previous is not None and previous.role == "user":
            delay = _gap(previous, turn)
            if delay is not None and delay > options.seconds:
                yield subject.finding(
                    "slow_response",
                    severity,
                    f"The agent answered {delay:.0f} s after the user (limit {options.seconds:g} s).",
                    turn,
                    quote(turn.text),
                )
        previous = turn


def _gap(before: Turn, after: Turn) -> float | None:
    """Seconds from one turn to a later one; ``None`` when either time is unknown."""
    if before.timestamp is None or after.timestamp is None:
        return None
    return (after.timestamp - before.timestamp).total_seconds()


def long_silence(subject: Subject, options: DelayOptions, severity: Severity) -> Iterator[Finding]:
    session = subject.session
    previous_at = 0.0 if session.started_at is not None else None  # offsets count from the start
    for turn in subject.turns:
        if turn.offset_seconds is None:
            continue
        if previous_at is not None and turn.offset_seconds - previous_at > options.seconds:
            silence = turn.offset_seconds - previous_at
            where = "before this turn" if turn.index else "from the start to the first turn"
            yield subject.finding(
                "long_silence",
                severity,
                f"{silence:.0f} s without a turn {where} (limit {options.seconds:g} s).",
                turn,
                quote(turn.text),
            )
        previous_at = max(previous_at or 0.0, turn.offset_seconds)


def _repetition(check: str, role: str) -> Callable[[Subject, RepetitionOptions, Severity], Iterator[Finding]]:
    def find(subject: Subject, options: RepetitionOptions, severity: Severity) -> Iterator[Finding]:
        first_said: dict[str, int] = {}
        recent: deque[Said] = deque(maxlen=RECENT_TURNS)
        who = "agent" if role == "agent" else "user"
        for turn in spoken(subject.turns, role):
            said = Said(turn.index, normalize(turn.text)[:COMPARED_CHARS])
            if len(said.text) < options.min_chars:
                continue
            earlier = first_said.get(said.text)
            ratio = 1.0
            if earlier is None:
                earlier, ratio = most_similar(said, recent, options.similarity)
            if earlier is not None:
                how = "word for word" if ratio == 1.0 else f"almost word for word (similarity {ratio:.2f})"
                yield subject.finding(
                    check,
                    severity,
                    f"The {who} repeats turn {earlier} {how}.",
                    turn,
                    quote(turn.text),
                )
            first_said.setdefault(said.text, turn.index)
            recent.append(said)

    return find


agent_repetition = _repetition("agent_repetition", "agent")
user_repetition = _repetition("user_repetition", "user")


@functools.lru_cache(maxsize=256)
def literal_phrase(phrase: str) -> re.Pattern[str]:
    """A rules-file phrase as a case-insensitive pattern: literal, whole words, any spacing."""
    words = [re.escape(word) for word in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s{1,3}".join(words) + r"(?!\w)", re.I)


def escalation_request(subject: Subject, options: EscalationOptions, severity: Severity) -> Iterator[Finding]:
    extra = [literal_phrase(p) for p in options.phrases if p.strip()]
    previous = ""  # the agent's turn before: a user who says it again is practising, not asking
    for turn in subject.turns:
        if turn.role == "agent" and turn.text.strip():
            previous = turn.text
        if turn.role != "user" or not turn.text.strip():
            continue
        match = first_request(turn.text, extra)  # the cheap test first: most turns ask for no one
        if (match is None and not asks_alone(turn.text)) or echoes(turn.text, previous):
            continue
        if match is not None:
            yield subject.finding(
                "escalation_request",
                severity,
                f"The user asks for a human: {quoted(match.group())}.",
                turn,
                quote(turn.text, match.start(), match.end()),
            )
        else:
            yield subject.finding("escalation_request", severity, "The user asks for a human.", turn, quote(turn.text))


def failed_session(subject: Subject, options: FailedSessionOptions, severity: Severity) -> Iterator[Finding]:
    session = subject.session
    reason = session.close_reason
    if session.state == "failed":
        why = f" (close reason {quoted(reason)})" if reason else ""
        yield subject.finding("failed_session", severity, f"The session failed{why}.")
    elif reason and reason not in options.normal_close_reasons:
        yield subject.finding(
            "failed_session", severity, f"The session ended abnormally: close reason {quoted(reason)}."
        )


def tool_failure(subject: Subject, options: CheckOptions, severity: Severity) -> Iterator[Finding]:
    for entry in function_entries(subject.session):
        state = _text(entry.get("state"))
        error = entry.get("error") if isinstance(entry.get("error"), dict) else None
        if state == "failed" or (error is not None and state in ("", "failed")):
            name = _text(entry.get("name")) or _text(entry.get("id"))
            detail = ""
            if error is not None:
                parts = [_text(error.get("code")), _text(error.get("message"))]
                detail = ": " + quoted(": ".join(p for p in parts if p)) if any(parts) else ""
            when = from_iso(_text(entry.get("failedAt")))
            at = f" at {format_time(when, seconds=True)}" if when else ""
            tool = quoted(name) if name else "(unnamed tool)"
            yield subject.finding("tool_failure", severity, f"The tool {tool} failed{at}{detail}.")


# The tool connection metrics as the models hold them: named fields, or unknown fields kept as sent.
_TOOL_FIELDS = {"function_metrics", "function_states", "functionMetrics", "functionStates"}


def function_entries(session: SessionDetail) -> list[dict[str, Any]]:
    """The session's tool connection entries in wire form, under either name the vendor has used."""
    wire = session.model_dump(mode="json", by_alias=True, exclude_unset=True, include=_TOOL_FIELDS)
    entries = wire.get("functionMetrics") or wire.get("functionStates") or []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _text(value: object, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def pii_exposed(subject: Subject, options: PiiOptions, severity: Severity) -> Iterator[Finding]:
    given: list[Item] = []  # what the user said so far: an agent saying it again reads it back
    for turn in subject.turns:
        original = subject.original[turn.index]
        if turn.role == "user":
            given += personal_data(original)
            continue
        if turn.role != "agent" or not original.strip():
            continue
        items = personal_data(original)
        if not items:
            continue
        read_back, disclosed = split_read_backs(items, given)
        first = (disclosed or read_back)[0]
        kinds = ", ".join(sorted({item.kind for item in items}))
        if disclosed:
            new = ", ".join(sorted({item.kind for item in disclosed}))
            what = f"The agent says personal data aloud ({kinds}): the user did not give the {new} in this session."
        else:
            what = f"The agent reads back what the user gave in this session ({kinds})."
        start = _shown_offset(original, turn.text, first.start)
        yield subject.finding(
            "pii_exposed", severity if disclosed else options.read_back_severity, what, turn, quote(turn.text, start)
        )


def _shown_offset(original: str, shown: str, start: int) -> int:
    """Where ``original[start]`` is in the text as shown (redacted text is shorter or longer before it)."""
    return start if shown == original else min(len(shown), len(redact_text(original[:start])))


Check = Callable[[Subject, Any, Severity], Iterator[Finding]]
CHECKS: dict[str, Check] = {
    "no_user_turn": no_user_turn,
    "unanswered_user": unanswered_user,
    "slow_response": slow_response,
    "long_silence": long_silence,
    "agent_repetition": agent_repetition,
    "user_repetition": user_repetition,
    "escalation_request": escalation_request,
    "failed_session": failed_session,
    "tool_failure": tool_failure,
    "pii_exposed": pii_exposed,
}


def run_checks(subject: Subject, config: CheckConfig = DEFAULT_CONFIG) -> list[Finding]:
    """Every enabled built-in check's findings for ``subject``, at most a few per check."""
    findings: list[Finding] = []
    for check_id, check in CHECKS.items():
        options: CheckOptions = getattr(config, check_id)
        if options.enabled:
            severity = options.severity or DEFAULT_SEVERITY[check_id]
            findings += capped(check(subject, options, severity))
    return findings


def capped(findings: Iterator[Finding], limit: int = MAX_FINDINGS_PER_CHECK) -> list[Finding]:
    """The first ``limit`` findings; the last one kept says how many more there were."""
    kept: list[Finding] = []
    more = 0
    for finding in findings:
        if len(kept) < limit:
            kept.append(finding)
        else:
            more += 1
    if more:
        last = kept[-1]
        kept[-1] = last.model_copy(update={"message": f"{last.message} ({more} more like this in the session.)"})
    return kept
