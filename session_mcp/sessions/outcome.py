"""How a session ended for the user: resolved, unresolved, escalated, abandoned or unknown.

The API (stable; the store, the reports and the tools build on it):

- ``Outcome``: ``"resolved"`` (the user's need was met: thanks, a confirmation, the agent's "done"),
  ``"unresolved"`` (a complaint, "that didn't help", giving up, the agent could not help, a
  request the agent left open, the session broke, "maybe later"), ``"escalated"`` (handed to a
  person: a transfer, "a colleague will call you"), ``"abandoned"`` (the user left mid-task: a
  request and the session closed right after, or the agent's question never answered) and
  ``"unknown"`` (not over, no user turn, or no signal). ``OUTCOMES`` lists them in that order.
- ``outcome_of(session) -> SessionOutcome``: pure, deterministic and fast (a few bounded regular
  expressions over the last ``ENDING_TURNS`` turns that hold text), for every session of a large
  review. ``SessionOutcome`` carries ``outcome``, ``signal`` (a stable id of the rule that
  decided, see ``SIGNALS``), ``reason`` (one sentence for people) and ``evidence`` (the turn
  index in ``session.turns``, its role and a short verbatim quote; ``None`` when the decision is
  about the whole session: not over, no user turn, a close reason). The quote is upstream text:
  whoever shows it in text quotes it (``render.lines.quoted``).

The rules, first match wins: a session not over or with no user turn is unknown; a hand-off by the
agent (not negated: "I can't transfer you" is none) is escalated, even when the user thanks
afterwards; a complaint or giving up in the user's last turns is unresolved; thanks or a
confirmation in the user's last turn is resolved, unless the agent's turn just before it said it
could not help ("thanks anyway"); a failed session or an abnormal close reason is unresolved; a
user request nobody answered is abandoned when the session closed within ``HANG_UP_SECONDS`` (the
user hung up) and unresolved otherwise (the agent had time and left it open); the agent's own
question never answered is abandoned, unless it only asked "anything else?"; the agent's "done"
(booked, sent, updated) is resolved, and its "I can't" unresolved; a deferral ("maybe later") is
unresolved; else unknown. Languages: English, Spanish and German, as the demo mixes them, with
the speech-to-text forms of a voice call (no apostrophes, no punctuation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from session_mcp.companion.models import ConversationItem, SessionDetail
from session_mcp.sessions.phrases import CLOSING, negated

Outcome = Literal["resolved", "unresolved", "escalated", "abandoned", "unknown"]
OUTCOMES: tuple[Outcome, ...] = ("resolved", "unresolved", "escalated", "abandoned", "unknown")
SIGNALS = (
    "not_over",
    "no_user_turn",
    "hand_off",
    "complaint",
    "thanks",
    "thanks_anyway",
    "session_broke",
    "hang_up",
    "request_left_open",
    "question_unanswered",
    "agent_done",
    "agent_cannot",
    "deferral",
    "no_signal",
)
ENDING_TURNS = 6  # the turns with text the ending is read from
HANG_UP_SECONDS = 10.0  # a request, then the close within this: the user hung up
QUOTE_CHARS = 120
NORMAL_CLOSE_REASONS = ("connection_closed", "idle_timeout")


class OutcomeEvidence(BaseModel):
    """The turn that decided the outcome, quoted."""

    model_config = ConfigDict(frozen=True)

    turn_index: int = Field(description="0-based index of the turn in the transcript.")
    role: str
    quote: str = Field(description=f"At most {QUOTE_CHARS} characters of the turn, verbatim.")


class SessionOutcome(BaseModel):
    """How a session ended, the rule that said so, and the words that show it."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    signal: str = Field(description="The id of the rule that decided (one of SIGNALS).")
    reason: str = Field(description="One sentence saying why, for people.")
    evidence: OutcomeEvidence | None = None


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.I)


_A = r"['’]?"  # speech-to-text often drops the apostrophe: dont, cant, thats, ill
_I_WILL = rf"(?:i{_A}ll|i\s+will|i{_A}m\s+going\s+to|let\s+me|i{_A}m|i\s+am|we{_A}ll|we\s+will|we{_A}re)"
_PERSON = (
    r"(?:human|person|colleague|specialist|agent|representative|manager|supervisor|nurse|doctor|"
    r"technician|team(?:\s+member)?|someone|somebody|one\s+of\s+(?:our|my)\s+\w+)"
)
_HAND_OFF = _words(
    rf"{_I_WILL}\s+(?:now\s+)?(?:transfer(?:ring)?|connect(?:ing)?|put(?:ting)?\s+you\s+through|pass(?:ing)?\s+you|"
    r"escalat(?:e|ing)\s+(?:this|it|your)|hand(?:ing)?\s+(?:you|this)\s+over|forward(?:ing)?\s+(?:you|this))",
    r"transferring\s+you|connecting\s+you|putting\s+you\s+through",
    rf"(?:a|an|our|the|my)?\s*{_PERSON}\s+(?:from\s+\w+(?:\s+\w+)?\s+)?"
    r"(?:will|is\s+going\s+to|['’]ll)\s+(?:call|contact|ring|phone|reach\s+out|get\s+back|be\s+with\s+you|"
    r"follow\s+up|take\s+over|join)",
    r"(?:i|we)(?:['’]ve|\s+have)\s+(?:escalated|passed|forwarded|handed|referred)\s+(?:this|it|your)",
    r"(?:te|le)\s+(?:paso|transfiero|comunico|pongo)\s+con",
    r"(?:un|una)\s+(?:compa[ñn]er[oa]|agente|especialista|persona|asesor[a]?)\s+(?:te|le)\s+"
    r"(?:llamar[aá]|contactar[aá]|atender[aá])",
    r"(?:ich|wir)\s+(?:verbinde|leite|stelle)\s+(?:sie|dich|das|ihre?\s+\w+)\s+(?:\w+\s+)?"
    r"(?:weiter|durch|mit|zu)",
    r"(?:ein(?:e)?|unser(?:e)?)\s+(?:kolleg(?:e|in)|mitarbeiter(?:in)?|techniker(?:in)?)\s+"
    r"(?:wird\s+sich|ruft|meldet\s+sich)",
)
_COMPLAINT = _words(
    rf"(?:didn|doesn|don|isn|wasn|won){_A}t\s+(?:help|work|solve|fix|answer)\w*",
    r"(?:did|does|do|is|was)\s+not\s+(?:help|work|solve|fix|answer)\w*",
    r"not\s+(?:helpful|working|fixed|solved|what\s+i\s+(?:asked|need|wanted))",
    r"(?:no|not\s+any)\s+help",
    r"useless|pointless|ridiculous|unacceptable|not\s+acceptable|a\s+joke|waste\s+of\s+(?:my\s+)?time",
    r"forget\s+it|never\s*mind|nevermind|i\s+give\s+up|whatever|seriously\?|are\s+you\s+kidding",
    r"thanks?\s+(?:for\s+nothing|anyway)|thank\s+you\s+(?:for\s+nothing|anyway)",
    r"still\s+(?:not|doesn|isn|broken|happen|the\s+same|no)\w*",
    r"nothing\s+(?:gets|got|was|is)\s+(?:fixed|solved|done)",
    rf"(?:i{_A}ll|i\s+will|i{_A}m\s+going\s+to)\s+(?:dispute|complain|cancel|go\s+(?:elsewhere|somewhere\s+else)|"
    r"take\s+my\s+business|call\s+my\s+bank|leave\s+a\s+(?:bad\s+)?review)",
    r"frustrat\w+|annoy\w+|terrible|awful|worst",
    r"olv[ií]dalo|no\s+(?:me\s+)?(?:sirve|ayuda|funciona|resuelve)|qu[eé]\s+mal|vaya\s+(?:mierda|servicio)|"
    r"no\s+sirve\s+de\s+nada|sigue\s+sin",
    r"vergiss\s+es|bringt\s+(?:mir\s+)?nichts|hilft\s+(?:mir\s+)?(?:nicht|nichts|gar\s+nicht)|"
    r"funktioniert\s+(?:immer\s+noch\s+)?nicht|unversch[aä]mt|so\s+ein\s+(?:quatsch|mist)|schon\s+wieder",
)
_THANKS = _words(
    r"thanks?|thank\s+you|thx|ty|cheers|appreciate\s+(?:it|that|your\s+help)|much\s+appreciated",
    r"perfect|great|awesome|excellent|wonderful|brilliant|lovely|amazing|fantastic",
    r"(?:that|this|it)\s+(?:works|helps|helped|worked|fixed\s+it|did\s+it)|works\s+for\s+me|sounds\s+good",
    rf"that{_A}s\s+(?:all|everything|it)(?:\s+i\s+needed)?|all\s+(?:good|set|sorted)|problem\s+solved",
    rf"(?:yes|yeah|yep),?\s+(?:please|that{_A}s\s+(?:right|correct|it))|got\s+it|solved|sorted",
    r"merci|gracias|perfecto|genial|estupendo|vale|de\s+acuerdo|listo|muy\s+bien",
    r"danke(?:sch[oö]n)?|vielen\s+dank|super|prima|passt|alles\s+klar|wunderbar|toll|perfekt",
)
_DEFERRAL = _words(
    rf"maybe\s+(?:later|another\s+time|next\s+time)|(?:i{_A}ll|i\s+will)\s+think\s+about\s+it|let\s+me\s+think",
    r"not\s+(?:right\s+)?now|not\s+today|not\s+interested|no\s+thanks|no\s+thank\s+you",
    rf"(?:i{_A}ll|i\s+will)\s+(?:call|come|check)\s+back",
    r"quiz[aá]s?\s+(?:m[aá]s\s+tarde|luego|otro\s+d[ií]a)|lo\s+pienso|ahora\s+no|no\s+gracias",
    r"vielleicht\s+sp[aä]ter|ich\s+[uü]berlege|jetzt\s+nicht|nein\s+danke",
)
_AGENT_DONE = _words(
    rf"done|booked|confirmed|sent|all\s+set|you{_A}re\s+all\s+set|that{_A}s\s+(?:the\s+lesson|it)\s+for\s+today",
    r"(?:i|we)(?:['’]ve|\s+have)\s+(?:just\s+)?(?:updated|sent|booked|cancell?ed|moved|changed|reset|issued|"
    r"started|processed|added|scheduled|fixed|created|refunded|applied|confirmed|rebooked|reactivated)",
    r"(?:is|are|has\s+been|have\s+been)\s+(?:now\s+)?(?:updated|sent|booked|cancell?ed|confirmed|processed|moved|"
    r"scheduled|refunded|fixed|reset|on\s+(?:its|the)\s+way)",
    rf"moved\s+to|you{_A}ll\s+(?:get|receive)\s+(?:a|an|the)\s+(?:confirmation|email|text|refund)",
    r"listo|hecho|reservad[oa]|confirmad[oa]|enviad[oa]|erledigt|gebucht|best[aä]tigt|verschickt",
)
_AGENT_CANNOT = _words(
    rf"(?:i|we)\s+(?:can{_A}t|cannot|am\s+unable\s+to|{_A}m\s+unable\s+to|are\s+unable\s+to|"
    rf"(?:am|{_A}m|are)\s+not\s+able\s+to)",
    rf"i{_A}m\s+afraid|unfortunately|i\s+don{_A}?t\s+have\s+(?:that|this|the|any|access)|not\s+possible",
    rf"there{_A}s\s+nothing\s+i\s+can\s+do|(?:i|we)\s+(?:can{_A}t|cannot)\s+(?:see|find)",
    r"no\s+(?:puedo|podemos|es\s+posible)|lo\s+siento,?\s+no|lamentablemente|no\s+tengo",
    r"leider|kann\s+ich\s+(?:leider\s+)?nicht|(?:ist\s+)?nicht\s+m[oö]glich",
)
_CLOSING_QUESTION = _words(
    r"anything\s+else|something\s+else|any\s+other\s+questions?|can\s+i\s+help\s+(?:you\s+)?with\s+anything",
    r"(?:algo|alguna\s+cosa)\s+m[aá]s|otra\s+cosa|noch\s+etwas|sonst\s+noch|weitere\s+fragen",
)
_REQUEST = _words(
    rf"i\s+(?:need|want|would\s+like|{_A}d\s+like|d\s+like)|can\s+you|could\s+you|would\s+you|please|how\s+(?:do|can|long|much)",
    r"what|where|when|why|which|is\s+there|do\s+you|can\s+i|help",
    r"necesito|quiero|quisiera|puedes|podr[ií]a|c[oó]mo|cu[aá]ndo|d[oó]nde|ayuda",
    r"ich\s+(?:brauche|m[oö]chte|will|h[aä]tte\s+gern)|k[oö]nnen\s+sie|wie|wann|wo|hilfe",
)


def outcome_of(session: SessionDetail) -> SessionOutcome:
    """How ``session`` ended for the user, with the rule that decided and its evidence."""
    state = session.state
    if state in ("pending", "started"):
        what = "has not started" if state == "pending" else "is still in progress"
        return SessionOutcome(outcome="unknown", signal="not_over", reason=f"The session {what}.")
    said = [(i, t) for i, t in enumerate(session.turns) if t.text.strip()]
    users = [(i, t) for i, t in said if t.role == "user"]
    if not users:
        return SessionOutcome(outcome="unknown", signal="no_user_turn", reason="The user never spoke.")
    ending = said[-ENDING_TURNS:]
    agents_after = [(i, t) for i, t in ending if t.role == "agent" and i > users[-1][0]]
    last_agents = [(i, t) for i, t in ending if t.role == "agent"][-2:]
    hand_off = _first(_HAND_OFF, last_agents, negations=True)
    if hand_off is not None:
        return _decided("escalated", "hand_off", "The agent hands the user over to a person.", hand_off)
    last_users = [(i, t) for i, t in ending if t.role == "user"][-2:]
    complaint = _first(_COMPLAINT, last_users[::-1])
    if complaint is not None:
        return _decided("unresolved", "complaint", "The user complains or gives up at the end.", complaint)
    last_user = users[-1]
    thanks = _first(_THANKS, [last_user], negations=True)
    before = [(i, t) for i, t in said if t.role == "agent" and i < last_user[0]][-1:]
    if thanks is not None:
        cannot = _first(_AGENT_CANNOT, before, negations=False) if not agents_after else None
        if cannot is not None and _first(_AGENT_DONE, before, negations=True) is None:
            return _decided("unresolved", "thanks_anyway", "The agent could not help; the user just closes.", cannot)
        return _decided("resolved", "thanks", "The user thanks the agent or confirms at the end.", thanks)
    if session.state == "failed" or (session.close_reason or "") not in ("", *NORMAL_CLOSE_REASONS):
        why = f"close reason {session.close_reason}" if session.close_reason else "status failed"
        return SessionOutcome(outcome="unresolved", signal="session_broke", reason=f"The session broke off ({why}).")
    deferral = _first(_DEFERRAL, [last_user], negations=False)
    if not agents_after and deferral is None and _is_request(last_user[1].text):
        return _unanswered(session, last_user)
    if agents_after:
        open_question = _open_question(agents_after[-1])
        if open_question is not None:
            return _decided(
                "abandoned", "question_unanswered", "The user left without answering the agent.", open_question
            )
    done = _first(_AGENT_DONE, agents_after or before, negations=True)
    cannot = _first(_AGENT_CANNOT, agents_after or before, negations=False)
    if cannot is not None and (done is None or cannot[0] > done[0]):
        return _decided("unresolved", "agent_cannot", "The agent says it cannot help.", cannot)
    if done is not None:
        return _decided("resolved", "agent_done", "The agent completes the user's request.", done)
    if deferral is not None:
        return _decided("unresolved", "deferral", "The user puts it off.", deferral)
    return SessionOutcome(outcome="unknown", signal="no_signal", reason="The ending says neither way.")


Match = tuple[int, ConversationItem, re.Match[str]]


def _first(
    pattern: re.Pattern[str], turns: Sequence[tuple[int, ConversationItem]], negations: bool = True
) -> Match | None:
    """The first match of ``pattern`` in ``turns`` (in the order given), skipping negated ones."""
    for index, turn in turns:
        for match in pattern.finditer(turn.text):
            if not (negations and negated(turn.text, match.start())):
                return index, turn, match
    return None


def _is_request(text: str) -> bool:
    """Whether a user turn asks for something (a question or a request), rather than closing."""
    return "?" in text or "¿" in text or (_REQUEST.search(text) is not None and CLOSING.search(text) is None)


def _unanswered(session: SessionDetail, last_user: tuple[int, ConversationItem]) -> SessionOutcome:
    """A user request nobody answered: the user hung up (closed soon after), or the agent left it open."""
    index, turn = last_user
    waited = (
        session.closed_at - turn.timestamp if session.closed_at is not None and turn.timestamp is not None else None
    )
    evidence = _evidence(index, turn)
    if waited is None or waited <= HANG_UP_SECONDS:
        return SessionOutcome(
            outcome="abandoned",
            signal="hang_up",
            reason="The user asks and hangs up before an answer.",
            evidence=evidence,
        )
    return SessionOutcome(
        outcome="unresolved",
        signal="request_left_open",
        reason=f"The user's request was never answered ({waited:.0f} s to the close).",
        evidence=evidence,
    )


def _open_question(last_agent: tuple[int, ConversationItem]) -> Match | None:
    """The agent's last turn when it asks the user something mid-task (not just "anything else?")."""
    index, turn = last_agent
    text = turn.text
    mark = max(text.rfind("?"), text.rfind("¿"))
    if mark < 0 or _CLOSING_QUESTION.search(text) is not None:
        return None
    sentence_start = max(text.rfind(".", 0, mark), text.rfind("!", 0, mark), text.rfind("¿", 0, mark)) + 1
    match = re.compile(r"[^?]+\?").search(text, sentence_start)
    return (index, turn, match) if match is not None else None


def _decided(outcome: Outcome, signal: str, reason: str, found: Match) -> SessionOutcome:
    index, turn, match = found
    return SessionOutcome(
        outcome=outcome, signal=signal, reason=reason, evidence=_evidence(index, turn, match.start(), match.end())
    )


def _evidence(index: int, turn: ConversationItem, start: int = 0, end: int | None = None) -> OutcomeEvidence:
    """The turn quoted verbatim: all of it when short, else ``QUOTE_CHARS`` around the match."""
    text = turn.text.strip()
    if len(text) > QUOTE_CHARS:
        offset = turn.text.find(text)
        start, end = max(0, start - offset), (len(text) if end is None else max(0, end - offset))
        left = max(0, min(start - (QUOTE_CHARS - (end - start)) // 2, len(text) - QUOTE_CHARS))
        text = text[left : left + QUOTE_CHARS]
    return OutcomeEvidence(turn_index=index, role=turn.role, quote=text)
