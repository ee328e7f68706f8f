"""Deterministic demo data for the simulator: companions, sessions and their transcripts.

Everything comes from one ``random.Random(seed)``, so a seed and an anchor time always give the
same sessions; each session takes the same number of draws whatever the anchor, so the anchor
moves the sessions in time without changing them. The demo's anchor is the start of the current
UTC day (``day_anchor``), so its ids, times and counts hold all day. They spread over the
``DAYS_SPAN`` days before the anchor the way real traffic does: more on weekdays than at weekends, most in working hours
(UTC). Closed sessions carry a cost, tools that connect over WebSocket leave ``functionMetrics``
(some failed, some canceled), and regular users come back. Besides ordinary support, booking and
sales conversations, the data holds the awkward cases a client must survive: open,
never-started and failed sessions, empty conversations, one transcript of more than 2,000 turns,
unicode and emoji, very long messages, and personal data (emails, phone numbers, card numbers)
for redaction to find.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MARATHON_TURNS = 2_200
DAYS_SPAN = 35
DAY = 86_400
ISO = "%Y-%m-%dT%H:%M:%SZ"
DEFAULT_SESSION_COUNT = 600
AWKWARD_MIN = 50  # fewer sessions than this are all ordinary: the edge cases need room


@dataclass(frozen=True)
class Companion:
    id: str
    name: str
    knowledge_base_id: str | None
    functions: tuple[str, ...]
    faq_ids: tuple[str, ...]
    socket_tools: tuple[str, ...] = ()  # tools connected over WebSocket: they leave functionMetrics


COMPANIONS = (
    Companion(
        "comp_support",
        "Ava (customer support)",
        "kb_support_articles",
        ("fn_order_status", "fn_refund"),
        ("faq_returns", "faq_shipping"),
        ("order_status_stream",),
    ),
    Companion(
        "comp_booking",
        "Leo (clinic bookings)",
        "kb_clinic_calendar",
        ("fn_find_slot", "fn_book_slot"),
        ("faq_opening_hours",),
        ("calendar_sync", "sms_gateway"),
    ),
    Companion("comp_sales", "Mia (sales assistant)", None, ("fn_quote",), (), ("check_inventory",)),
    Companion("comp_tutor", "Kai (language tutor)", "kb_lessons", (), ("faq_levels",)),
)

# One agent per companion, for the preferred connection call: agent_support, agent_booking, ...
AGENTS = {"agent_" + c.id.removeprefix("comp_"): c for c in COMPANIONS}

FIRST_NAMES = ("Maria", "James", "Aiko", "Sofía", "Olu", "Priya", "Lukas", "Chen", "Fatima", "Noah", "Zoë", "Mateo")

# Each script is a list of (role, text) turns; {name}, {order}, {email}, {phone}, {card}, {day},
# {time} and {plan} are filled per session. The last element says whether the user's need was met.
Script = tuple[tuple[tuple[str, str], ...], bool]

SCRIPTS: dict[str, tuple[Script, ...]] = {
    "comp_support": (
        (
            (
                ("agent", "Hi there! I'm Ava from support. How can I help you today?"),
                ("user", "Hi, I'd like to check the status of my order {order}."),
                ("agent", "Of course. Can you confirm the email address on the order?"),
                ("user", "Sure, it's {email}."),
                ("agent", "Thanks {name}. Order {order} left our warehouse yesterday and should arrive on {day}."),
                ("user", "Great, that's all I needed. Thanks!"),
                ("agent", "You're welcome! Have a lovely day."),
            ),
            True,
        ),
        (
            (
                ("agent", "Hi! I'm Ava from support. What can I do for you?"),
                ("user", "My package {order} arrived damaged and I want a refund."),
                ("agent", "I'm sorry to hear that. Could you describe the damage?"),
                ("user", "The box was crushed and the lamp inside is broken."),
                (
                    "agent",
                    "Thank you. I've started a refund to the card ending in {card_last4}. "
                    "It takes 3 to 5 business days.",
                ),
                ("user", "Okay, thank you for sorting it out so quickly."),
            ),
            True,
        ),
        (
            (
                ("agent", "Hello, this is Ava from support. How can I help?"),
                ("user", "I was charged twice for the same order, {order}."),
                ("agent", "Let me look into that. Can you give me the phone number on your account?"),
                ("user", "It's {phone}."),
                ("agent", "I can see one charge only on my side. The second may be a pending authorization."),
                ("user", "No, both are settled on my statement. This is the second time I'm calling about it."),
                (
                    "agent",
                    "I understand. I can't issue a refund for a charge I can't see. You could contact your bank.",
                ),
                ("user", "That's not acceptable. I want to talk to a human."),
                ("agent", "I'm sorry, I can't transfer calls right now. Please email billing."),
                ("user", "Forget it. I'll dispute it with my bank."),
            ),
            False,
        ),
        (
            (
                ("agent", "Hi! Ava from support here. What's up?"),
                ("user", "How do I change the delivery address for {order}?"),
                ("agent", "Orders can be changed until they ship. Yours has not shipped yet. What's the new address?"),
                ("user", "12 Rue de la Paix, Paris. Oh and my card {card} expires soon, does that matter?"),
                ("agent", "Your order is already paid, so the expiry does not matter. I've updated the address."),
                ("user", "Perfect, merci!"),
            ),
            True,
        ),
        (
            (
                ("agent", "Hi, I'm Ava. How can I help you today?"),
                ("user", "The app keeps logging me out every few minutes."),
                ("agent", "That sounds frustrating. Which version of the app are you using?"),
                ("user", "I don't know, the latest I guess."),
                ("agent", "Could you try signing out everywhere and signing back in?"),
                ("user", "I already tried that twice. It still happens."),
                ("agent", "I'll note this for our technical team. Is there anything else?"),
                ("user", "So nothing gets fixed today? Great."),
            ),
            False,
        ),
    ),
    "comp_booking": (
        (
            (
                ("agent", "Good morning, you've reached the clinic. I'm Leo. Would you like to book an appointment?"),
                ("user", "Yes, I need a check-up with Dr. Okafor, preferably on {day}."),
                ("agent", "Dr. Okafor has {time} or 16:30 free on {day}. Which suits you?"),
                ("user", "{time} please. You can text me on {phone}."),
                ("agent", "Booked: {day} at {time} with Dr. Okafor. Can I text a confirmation to {phone}?"),
                ("user", "Yes please."),
                ("agent", "Done. See you then, {name}!"),
            ),
            True,
        ),
        (
            (
                ("agent", "Hello, Leo from the clinic. How can I help?"),
                ("user", "I need to cancel my appointment on {day}."),
                ("agent", "I found it: {day} at {time}. Shall I cancel it, or would you like to move it?"),
                ("user", "Move it to next week if possible."),
                ("agent", "Next week I have Tuesday at 10:00 or Thursday at 15:00."),
                ("user", "Thursday works. Send the confirmation to {email}, please."),
                ("agent", "Moved to Thursday at 15:00. You'll get a confirmation email at {email}."),
            ),
            True,
        ),
        (
            (
                ("agent", "Hi, I'm Leo, the clinic's booking assistant."),
                ("user", "Do you have anything this evening? It's urgent, my son has a fever."),
                (
                    "agent",
                    "I'm sorry, there are no evening slots today. For urgent care please call the out-of-hours line.",
                ),
                ("user", "What's the number?"),
                ("agent", "I'm afraid I don't have that number in my knowledge base."),
                ("user", "Seriously? OK, bye."),
            ),
            False,
        ),
    ),
    "comp_sales": (
        (
            (
                ("agent", "Hi, I'm Mia! Are you looking for a plan for yourself or for a team?"),
                ("user", "For a team of 25 people. What would the {plan} plan cost?"),
                ("agent", "The {plan} plan is $18 per seat per month, so $450 per month for 25 seats, billed yearly."),
                ("user", "Is there a discount for nonprofits?"),
                ("agent", "Yes, 30% off. I can send a quote to your email if you like."),
                ("user", "Please send it to {email}."),
                ("agent", "Sent! Anything else I can help with?"),
                ("user", "No, that's great. Thanks Mia 🙌"),
            ),
            True,
        ),
        (
            (
                ("agent", "Hello! Mia here. What brings you by today?"),
                ("user", "Just browsing. How is your product different from the others?"),
                ("agent", "We focus on voice-first companions with realtime transcripts and analytics."),
                ("user", "Hmm, sounds expensive."),
                ("agent", "There's a free tier with 100 minutes a month. Would you like me to set it up?"),
                ("user", "Maybe later."),
            ),
            False,
        ),
        (
            (
                ("agent", "¡Hola! Soy Mia. ¿En qué puedo ayudarte?"),
                ("user", "Hola, quiero saber el precio del plan {plan} para mi empresa. 😊"),
                ("agent", "El plan {plan} cuesta 18 $ por usuario al mes. ¿Cuántos usuarios serían?"),
                ("user", "Unos diez. ¿Me llamas al {phone}?"),
                ("agent", "¡Claro! Un compañero te llamará mañana por la mañana."),
            ),
            True,
        ),
    ),
    "comp_tutor": (
        (
            (
                ("agent", "こんにちは！Kai です。今日は何を練習しましょうか？"),
                ("user", "Hi Kai, I'd like to practice ordering food in Japanese."),
                ("agent", "Great! Try saying: ラーメンを一つください。"),
                ("user", "ラーメンを一つください"),
                ("agent", "Perfect pronunciation! 🎉 Now ask for the bill: お会計をお願いします。"),
                ("user", "お会計をお願いします"),
                ("agent", "素晴らしい！ That's the lesson for today."),
            ),
            True,
        ),
        (
            (
                ("agent", "Hi, I'm Kai, your language tutor. Which language today?"),
                ("user", "German. I keep mixing up der, die and das."),
                ("agent", "Everyone does! A tip: nouns ending in -ung are always feminine: die Zeitung."),
                ("user", "And -chen?"),
                ("agent", "Always neuter: das Mädchen, das Brötchen."),
                ("user", "Danke! That helps a lot."),
            ),
            True,
        ),
    ),
}

CHANNELS = ("web", "ios", "android", "phone")
ENVIRONMENTS = ("production", "production", "production", "staging")
PLANS = ("Team", "Business", "Starter")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
TIMES = ("09:15", "10:40", "11:30", "14:00", "15:20")
CLOSE_REASONS = ("connection_closed", "connection_closed", "connection_closed", "idle_timeout")
FAIL_REASONS = ("connection_aborted", "no_credits_left", "unknown")
FAILED_SHARE = 0.05
SESSION_TYPES = ("webrtc", "webrtc", "webrtc", "websocket", "voip", "sip", "kiosk")
MODALITIES = ("audio",) * 14 + ("text",) * 4 + ("video",) * 2
COST_PER_SECOND = {"audio": 0.0016, "text": 0.0004, "video": 0.0031}  # USD
REGULAR_CLIENTS = 60  # external client ids come back: a few users are behind many sessions
TOOL_STATES = ("connected",) * 22 + ("failed",) * 2 + ("canceled",)
TOOL_ERRORS = (
    ("connection_failed", "WebSocket handshake timed out"),
    ("connection_failed", "Connection refused by the tool server"),
    ("auth_failed", "The tool server rejected the credentials (401)"),
)
# Sessions per hour of the day (UTC) and per day of the week, relative to a weekday at noon.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 1, 2, 6, 14, 20, 22, 22, 20, 21, 22, 20, 18, 14, 9, 7, 5, 3, 2, 1)
WEEKDAY_WEIGHTS = (10, 10, 10, 10, 9, 4, 3)  # Monday first


def day_anchor(now: float) -> int:
    """The start of ``now``'s UTC day (Unix seconds): data anchored there is the same all day long."""
    return int(now) // DAY * DAY


def generate_sessions(seed: int, count: int, anchor: int) -> list[dict[str, Any]]:
    """``count`` wire-format sessions over the ``DAYS_SPAN`` days before ``anchor`` (Unix seconds), newest first."""
    rng = random.Random(seed)
    clients = [rng.randint(1000, 9999) for _ in range(REGULAR_CLIENTS)]
    clock = _traffic(anchor)
    sessions = [_session(rng, index, clock, clients) for index in range(count)]
    sessions.sort(key=lambda s: s["createdAt"], reverse=True)
    if count >= AWKWARD_MIN:
        _add_awkward_cases(rng, sessions, anchor)
    return sessions


Traffic = tuple[list[int], list[float]]  # hour starts and their cumulative weights


def _traffic(anchor: int) -> Traffic:
    """The hours of the span (their start, Unix seconds) and their cumulative traffic weights."""
    last = anchor - 1_800  # the newest session is created half an hour before the anchor, to close before it
    first = (last - DAYS_SPAN * DAY) // 3600 * 3600
    hours = list(range(first, last, 3600))
    weights = []
    for hour in hours:
        moment = datetime.fromtimestamp(hour, UTC)
        weights.append(HOUR_WEIGHTS[moment.hour] * WEEKDAY_WEIGHTS[moment.weekday()] * min(1.0, (last - hour) / 3600))
    return hours, list(itertools.accumulate(weights))


def _session(rng: random.Random, index: int, clock: Traffic, clients: list[int]) -> dict[str, Any]:
    companion = COMPANIONS[index % len(COMPANIONS)] if index % 7 else rng.choice(COMPANIONS)
    hours, cumulative = clock
    slot = min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(hours) - 1)
    created = hours[slot] + int(rng.random() * min(3600, hours[-1] + 1800 - hours[slot]))
    started = created + rng.randint(1, 6)
    script, solved = rng.choice(SCRIPTS[companion.id])
    fill = _fill(rng)
    items: list[dict[str, Any]] = []
    at = started + 1
    for role, text in script:
        items.append({"role": role, "text": text.format(**fill), "timestamp": at})
        at += rng.randint(3, 25) if role == "agent" else rng.randint(4, 40)
    closed = at + rng.randint(2, 20)
    regular = clients[int(len(clients) * rng.random() ** 2)]
    external = f"user_{regular}" if rng.random() < 0.85 else None
    modality = rng.choice(MODALITIES)
    failed = rng.random() < FAILED_SHARE
    fail_reason = rng.choice(FAIL_REASONS)
    session: dict[str, Any] = {
        "id": _session_id(rng),
        "companionId": companion.id,
        "functions": list(companion.functions),
        "knowledgeBaseId": companion.knowledge_base_id,
        "faqIds": list(companion.faq_ids),
        "externalClientId": external,
        "tags": {"environment": rng.choice(ENVIRONMENTS), "channel": rng.choice(CHANNELS)},
        "createdAt": created,
        "startedAt": started,
        "closedAt": closed,
        "status": "closed",
        "closeReason": rng.choice(CLOSE_REASONS),
        "sessionType": rng.choice(SESSION_TYPES),
        "modality": modality,
        "mode": "conversation",
        "cost": round((closed - started) * COST_PER_SECOND[modality], 4),
        "agent": None,
        "conversation": {"items": items},
    }
    metrics = _function_metrics(rng, companion, started, closed)
    if not solved:
        session["tags"]["escalation"] = "suggested"
    if rng.random() < 0.1:
        del session["tags"]
    if failed:  # the connection broke early: a partial transcript or none, nothing billed, no tool started
        kept = items[: rng.randint(0, 1)]
        end = kept[-1]["timestamp"] + 1 if kept else started + 2
        session.update(status="failed", closeReason=fail_reason, closedAt=end, cost=0.0, conversation={"items": kept})
    elif metrics:
        session["functionMetrics"] = metrics
    return session


def _function_metrics(rng: random.Random, companion: Companion, started: int, closed: int) -> list[dict[str, Any]]:
    """One ``functionMetrics`` entry per WebSocket tool: connected, failed (with the error) or canceled."""
    metrics = []
    for name in companion.socket_tools:
        state = rng.choice(TOOL_STATES)
        code, message = rng.choice(TOOL_ERRORS)
        begun = started + rng.randint(0, 2)
        entry: dict[str, Any] = {"name": name, "state": state, "startedAt": _iso(begun)}
        if state == "connected":
            entry["connectedAt"] = _iso(begun + rng.randint(1, 3))
        elif state == "failed":
            entry |= {"failedAt": _iso(begun + 5), "error": {"code": code, "message": message}}
        else:
            entry["canceledAt"] = _iso(closed)
        metrics.append(entry)
    return metrics


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(ISO)


def _shift_tools(session: dict[str, Any], seconds: int) -> None:
    """Move the times of ``session``'s tool metrics by ``seconds``, as its start moved."""
    for metric in session.get("functionMetrics", []):
        for key, value in metric.items():
            if key.endswith("At"):
                moment = datetime.strptime(value, ISO).replace(tzinfo=UTC)
                metric[key] = _iso(int(moment.timestamp()) + seconds)


def _fill(rng: random.Random) -> dict[str, str]:
    name = rng.choice(FIRST_NAMES)
    card = rng.choice(("4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881"))
    return {
        "name": name,
        "order": f"#{rng.randint(100000, 999999)}",
        "email": f"{name.lower().replace('í', 'i').replace('ë', 'e')}.{rng.randint(1, 99)}@example.com",
        "phone": rng.choice(("+1 415 555 0134", "(212) 555-0199", "+44 20 7946 0958", "+34 612 345 678")),
        "card": card,
        "card_last4": card[-4:],
        "day": rng.choice(DAYS),
        "time": rng.choice(TIMES),
        "plan": rng.choice(PLANS),
    }


def _session_id(rng: random.Random) -> str:
    return f"sess_{rng.getrandbits(64):016x}"  # one draw, not sixteen: the demo data is built for every test


def _add_awkward_cases(rng: random.Random, sessions: list[dict[str, Any]], anchor: int) -> None:
    """Rewrite a few generated sessions into the edge cases the tools must handle."""
    # Two open sessions, the newest of all: started, no close time yet.
    for offset, session in zip((40, 95), sessions[:2], strict=True):
        _shift_tools(session, anchor - offset + 2 - session["startedAt"])  # the tools started with the session
        session.update(createdAt=anchor - offset, startedAt=anchor - offset + 2, status="started", cost=None)
        session.pop("closedAt")
        session.pop("closeReason")
        if "functionMetrics" in session:  # nothing was canceled yet: the user is still there
            session["functionMetrics"] = [m for m in session["functionMetrics"] if m["state"] != "canceled"]
        session["conversation"]["items"] = session["conversation"]["items"][:3]
        for i, item in enumerate(session["conversation"]["items"]):
            item["timestamp"] = anchor - offset + 3 + 5 * i
    # Never started: no start, no close, no conversation, no cost, no tool.
    for session in sessions[5:8]:
        for key in ("startedAt", "closedAt", "closeReason", "conversation", "cost", "functionMetrics"):
            session.pop(key, None)
        session["status"] = "pending"
    closed = [s for s in sessions[9:] if s["status"] == "closed"]
    # Closed but silent: the user never spoke, or nothing was said at all.
    closed[10]["conversation"]["items"] = []
    closed[22]["conversation"]["items"] = closed[22]["conversation"]["items"][:1]
    # A long message, and tool metrics under the field's earlier name.
    long_session = closed[15]
    long_session["conversation"]["items"][1]["text"] = (
        "Let me explain everything from the start, because it's complicated. " * 60
    ).strip()
    started = datetime.fromtimestamp(long_session["startedAt"], UTC)
    long_session.pop("functionMetrics", None)
    long_session["functionStates"] = [
        {
            "name": "order_status_stream",
            "state": "failed",
            "startedAt": f"{started:%Y-%m-%dT%H:%M:%SZ}",
            "failedAt": f"{started:%Y-%m-%dT%H:%M:%SZ}",
            "error": {"code": "Timeout", "message": "upstream"},
        }
    ]
    # A marathon: one tutoring session of more than 2,000 turns.
    marathon = closed[30]
    marathon.pop("functionMetrics", None)
    marathon.update(companionId="comp_tutor", knowledgeBaseId="kb_lessons", functions=[], faqIds=["faq_levels"])
    start = marathon["startedAt"]
    turns = []
    for i in range(MARATHON_TURNS):
        role = "agent" if i % 2 == 0 else "user"
        text = (
            f"Drill {i // 2 + 1}: repeat after me, 'Ich möchte einen Kaffee, bitte.' ☕"
            if role == "agent"
            else ("Ich möchte einen Kaffee, bitte." if rng.random() < 0.8 else "Ich möchte ein Kaffee... bitte?")
        )
        turns.append({"role": role, "text": text, "timestamp": start + 1 + i * 3})
    marathon["conversation"]["items"] = turns
    marathon["closedAt"] = start + 2 + MARATHON_TURNS * 3
    marathon["cost"] = round((marathon["closedAt"] - start) * COST_PER_SECOND[marathon["modality"]], 4)
    # A session from a future API version with fields these models do not know.
    closed[12]["sentiment"] = {"overall": "positive", "score": 0.82}
    closed[12]["region"] = "eu-west"
