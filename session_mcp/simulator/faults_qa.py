"""QA faults in the demo data, and the list of them: what a QA review must find.

Runs after ``generate_sessions`` and changes only what QA needs, with its own random stream (so
ids and everything else the generator draws stay as they are):

1. **Turn timing** as a voice agent has it: the agent answers 1-4 s after the user, the user
   within 12 s (never slower than the generator had it, so every turn stays before the close).
2. **Injected faults**: for each built-in check, ``PER_CHECK`` ordinary sessions get exactly that
   fault, the first of them within ``RECENT_DAYS`` of the newest session (so a review of the last
   week, ``session-mcp qa --demo --since 7d``, shows every check), and a few others get a near
   miss that must not be flagged (a negated request for a human, a date the agent reads out, a
   canceled tool, a reply after exactly 5 s...).
3. **The list of expected findings** (``Simulator.expected_findings``, never served): the
   injected faults plus those the generator makes by design: failed and silent sessions, the
   function state with an error, the agent reading back an address or a number (the script lines
   with ``{email}``, ``{phone}`` or ``{card}``: the user gave them, so these are read-backs of
   severity info, while the injected ``READ_BACKS`` say what the user never gave: critical), the
   unsolved conversations that end on a user turn owed a reply (not ``CLOSING_ENDINGS``),
   the one scripted request for a human, and the repetitive drill of the marathon session.
"""

from __future__ import annotations

import itertools
import random
import re
import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from session_mcp.simulator.data import MARATHON_TURNS, SCRIPTS

PER_CHECK = 3
RECENT_DAYS = 6  # a day less than a week: the demo's clock may be up to an hour past its anchor
NORMAL_CLOSE_REASONS = ("connection_closed", "idle_timeout")
PII_FIELDS = ("email", "phone", "card")
SCRIPTED_ESCALATIONS = ("That's not acceptable. I want to talk to a human.",)
ESCALATIONS = (
    "Can I speak to a real person, please?",
    "Transfer me to a human agent.",
    "I'd like to talk to your manager.",
)
# Unsolved endings that close the conversation: no reply is owed ("unanswered_user" leaves them).
CLOSING_ENDINGS = ("Seriously? OK, bye.", "Maybe later.")
READ_BACKS = (
    "Got it. I'll send the details to sam.rivera@example.com and call you on +1 415 555 0134 if needed.",
    "Let me confirm: your card is 4111 1111 1111 1111, is that right?",
    "I've noted your number, (212) 555-0199, for the callback.",
)

Session = dict[str, Any]
Expected = dict[str, set[str]]


def add_qa_faults(sessions: list[Session], seed: int) -> dict[str, frozenset[str]]:
    """Retime, inject faults and near misses into ``sessions`` (in place); the expected findings."""
    rng = random.Random(f"qa-faults:{seed}")
    for session in sessions:
        _retime(session, rng)
    expected: Expected = {}
    for session in sessions:
        for check in _by_design(session):
            expected.setdefault(session["id"], set()).add(check)
    candidates = [s for s in sessions if _ordinary(s) and s["id"] not in expected]
    rng.shuffle(candidates)
    recent = max((s.get("startedAt") or 0 for s in sessions), default=0) - RECENT_DAYS * 86_400
    for check, inject in INJECTIONS.items():
        done = 0
        while done < PER_CHECK and candidates:
            session = _take(candidates, recent if done == 0 else None)
            if inject(session, rng, done):
                expected.setdefault(session["id"], set()).add(check)
                done += 1
    for near_miss in NEAR_MISSES:
        while candidates and not near_miss(candidates.pop(), rng, 0):
            pass
    return {session_id: frozenset(checks) for session_id, checks in expected.items()}


def _take(candidates: list[Session], started_after: float | None) -> Session:
    """The next candidate, the next one started after ``started_after`` when there is one."""
    if started_after is not None:
        for index in range(len(candidates) - 1, -1, -1):
            if (candidates[index].get("startedAt") or 0) > started_after:
                return candidates.pop(index)
    return candidates.pop()


# -- timing ----------------------------------------------------------------------------------


def _retime(session: Session, rng: random.Random) -> None:
    items = _items(session)
    if len(items) >= MARATHON_TURNS or len(items) < 2:
        return
    at = items[0]["timestamp"]
    for before, item in itertools.pairwise(items):
        wanted = rng.randint(1, 4) if item["role"] == "agent" else rng.randint(2, 12)
        at += min(wanted, item["timestamp"] - before["timestamp"])
        item["timestamp"] = at


def _items(session: Session) -> list[dict[str, Any]]:
    return list((session.get("conversation") or {}).get("items") or [])


# -- what the generator makes by design ------------------------------------------------------


def _templates(predicate: Callable[[str, str, tuple[tuple[str, str], ...], bool, int], bool]) -> re.Pattern[str]:
    """Script lines (role, template) chosen by ``predicate``, as one pattern matching their filled text."""
    lines = []
    for scripts in SCRIPTS.values():
        for turns, solved in scripts:
            for index, (role, template) in enumerate(turns):
                if predicate(role, template, turns, solved, index):
                    pieces = string.Formatter().parse(template)
                    regex = "".join(
                        re.escape(text) + ("(?:.+?)" if name is not None else "") for text, name, _, _ in pieces
                    )
                    lines.append(f"{role}\x00{regex}")
    return re.compile("|".join(f"(?:{line})" for line in lines), re.DOTALL)


PII_LINES = _templates(lambda role, template, *_: role == "agent" and any(f"{{{f}}}" in template for f in PII_FIELDS))
UNSOLVED_ENDINGS = _templates(
    lambda role, template, turns, solved, index: (
        role == "user" and not solved and index == len(turns) - 1 and template not in CLOSING_ENDINGS
    )
)
ESCALATION_LINES = _templates(lambda role, template, *_: role == "user" and template in SCRIPTED_ESCALATIONS)


def _said(item: dict[str, Any], lines: re.Pattern[str]) -> bool:
    return lines.fullmatch(f"{item.get('role')}\x00{item.get('text')}") is not None


def _by_design(session: Session) -> set[str]:
    checks: set[str] = set()
    items = _items(session)
    status = session.get("status")
    if status == "failed" or session.get("closeReason") not in (None, *NORMAL_CLOSE_REASONS):
        checks.add("failed_session")
    if status in ("started", "closed") and not any(i["role"] == "user" and i["text"].strip() for i in items):
        checks.add("no_user_turn")
    tools = session.get("functionMetrics") or session.get("functionStates") or []
    if any(t.get("state") == "failed" or (t.get("error") and not t.get("state")) for t in tools):
        checks.add("tool_failure")
    if len(items) >= MARATHON_TURNS:  # a drill: the same lines again and again, the user's last unanswered
        return checks | {"agent_repetition", "user_repetition", "unanswered_user"}
    if any(_said(item, PII_LINES) for item in items if item["role"] == "agent"):
        checks.add("pii_exposed")
    if any(_said(item, ESCALATION_LINES) for item in items if item["role"] == "user"):
        checks.add("escalation_request")
    if status in ("closed", "failed") and items and _said(items[-1], UNSOLVED_ENDINGS):
        checks.add("unanswered_user")
    return checks


def _ordinary(session: Session) -> bool:
    """A closed, normally ended session of at least 5 turns that starts with the agent."""
    items = _items(session)
    return (
        session.get("status") == "closed"
        and session.get("closeReason") in NORMAL_CLOSE_REASONS
        and 5 <= len(items) < MARATHON_TURNS
        and items[0]["role"] == "agent"
        and "functionStates" not in session
    )


# -- injections: each returns False when the session does not suit it --------------------------


def _answered_user_turns(items: list[dict[str, Any]]) -> list[int]:
    """Indexes of user turns the agent answers right after."""
    return [i for i in range(len(items) - 1) if items[i]["role"] == "user" and items[i + 1]["role"] == "agent"]


def _set_gap(session: Session, index: int, seconds: int) -> bool:
    """Make turn ``index`` come ``seconds`` after the turn before it, moving later turns too."""
    items = _items(session)
    shift = items[index - 1]["timestamp"] + seconds - items[index]["timestamp"]
    if items[-1]["timestamp"] + shift >= session["closedAt"]:
        return False
    for item in items[index:]:
        item["timestamp"] += shift
    return True


def _no_user_turn(session: Session, rng: random.Random, nth: int) -> bool:
    session["conversation"]["items"] = [i for i in _items(session) if i["role"] != "user"]
    return True


def _unanswered_user(session: Session, rng: random.Random, nth: int) -> bool:
    items = _items(session)
    first_user = next(i for i, item in enumerate(items) if item["role"] == "user")
    session["conversation"]["items"] = items[: first_user + 1]
    return True


def _slow_response(session: Session, rng: random.Random, nth: int) -> bool:
    answered = _answered_user_turns(_items(session))
    return bool(answered) and _set_gap(session, rng.choice(answered) + 1, rng.randint(7, 15))


def _long_silence(session: Session, rng: random.Random, nth: int) -> bool:
    items = _items(session)
    replies = [i for i in range(1, len(items)) if items[i]["role"] == "user" and items[i - 1]["role"] == "agent"]
    return bool(replies) and _set_gap(session, rng.choice(replies), rng.randint(25, 60))


def _repeat(role: str) -> Callable[[Session, random.Random, int], bool]:
    def inject(session: Session, rng: random.Random, nth: int) -> bool:
        items = _items(session)
        mine = [i for i in range(len(items) - 1) if items[i]["role"] == role]
        if len(mine) < 2 or len(items[mine[0]]["text"]) < 25:
            return False
        items[mine[1]]["text"] = items[mine[0]]["text"]
        return True

    return inject


def _escalation(session: Session, rng: random.Random, nth: int) -> bool:
    answered = _answered_user_turns(_items(session))
    if not answered:
        return False
    _items(session)[answered[-1]]["text"] = ESCALATIONS[nth % len(ESCALATIONS)]
    return True


def _failed(session: Session, rng: random.Random, nth: int) -> bool:
    reasons = ("connection_aborted", "no_credits_left", "unknown")
    session["closeReason"] = reasons[nth % len(reasons)]
    if nth == 0:
        session["status"] = "failed"
    return True


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tool_failure(session: Session, rng: random.Random, nth: int) -> bool:
    start = session["startedAt"]
    session["functionMetrics"] = [
        {"name": "check_inventory", "state": "connected", "startedAt": _iso(start), "connectedAt": _iso(start + 1)},
        {
            "name": "lookup_order",
            "state": "failed",
            "startedAt": _iso(start + 1),
            "failedAt": _iso(start + 6),
            "error": {"code": "connection_failed", "message": "WebSocket handshake timed out"},
        },
    ]
    return True


def _pii(session: Session, rng: random.Random, nth: int) -> bool:
    items = _items(session)
    agent = [i for i in range(1, len(items)) if items[i]["role"] == "agent"]
    if not agent:
        return False
    items[agent[0]]["text"] = READ_BACKS[nth % len(READ_BACKS)]
    return True


INJECTIONS: dict[str, Callable[[Session, random.Random, int], bool]] = {
    "no_user_turn": _no_user_turn,
    "unanswered_user": _unanswered_user,
    "slow_response": _slow_response,
    "long_silence": _long_silence,
    "agent_repetition": _repeat("agent"),
    "user_repetition": _repeat("user"),
    "escalation_request": _escalation,
    "failed_session": _failed,
    "tool_failure": _tool_failure,
    "pii_exposed": _pii,
}


# -- near misses: must not be flagged ----------------------------------------------------------


def _negated_escalation(session: Session, rng: random.Random, nth: int) -> bool:
    answered = _answered_user_turns(_items(session))
    if answered:
        _items(session)[answered[0]]["text"] = "I don't need a human, just tell me what it costs."
    return bool(answered)


def _harmless_numbers(session: Session, rng: random.Random, nth: int) -> bool:
    items = _items(session)
    agent = [i for i in range(1, len(items)) if items[i]["role"] == "agent"]
    if agent:
        items[agent[0]]["text"] = (
            "Your booking 2026-11-24 at 10:40 is confirmed: reference 1710000005, total $1,000.00."
        )
    return bool(agent)


def _canceled_tool(session: Session, rng: random.Random, nth: int) -> bool:
    start = session["startedAt"]
    session["functionMetrics"] = [{"name": "check_inventory", "state": "canceled", "canceledAt": _iso(start + 3)}]
    return True


def _borderline_timing(session: Session, rng: random.Random, nth: int) -> bool:
    items = _items(session)
    answered = _answered_user_turns(items)
    replies = [i for i in range(1, len(items)) if items[i]["role"] == "user" and items[i - 1]["role"] == "agent"]
    return bool(answered and replies) and _set_gap(session, answered[0] + 1, 5) and _set_gap(session, replies[-1], 20)


def _sign_off(session: Session, rng: random.Random, nth: int) -> bool:
    items = _items(session)
    at = items[-1]["timestamp"] + 3
    if at >= session["closedAt"]:
        return False
    items.append({"role": "user", "text": "Thanks, that's all. Bye!", "timestamp": at})
    session["conversation"]["items"] = items
    return True


NEAR_MISSES = (_negated_escalation, _harmless_numbers, _canceled_tool, _borderline_timing, _sign_off)
