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

The rules, first match wins (``ENDING_TURNS`` turns with text are the ending):

1. Not over (pending, started) or no user turn: unknown.
2. A hand-off in the agent's last two turns, not negated ("I can't transfer you" is none):
   escalated, even when the user thanks afterwards.
3. A complaint or giving up in the user's last turn ("that didn't help", "forget it", "das
   bringt nichts", "thats not my email"), or in the one before unless the agent then got it
   done: unresolved.
4. Thanks or a confirmation in the user's last turn, not negated ("not great") and not followed
   by a new question left unanswered: resolved, or unresolved ("thanks_anyway") when the agent's
   last word before it was that it could not help.
5. A failed session or an abnormal close reason: unresolved.
6. The user puts the call on hold ("one sec") and nobody speaks again: abandoned.
7. A question or request in the user's last sentence (not a drill line repeated after the agent)
   that nobody answered: abandoned when the
   session closed within ``HANG_UP_SECONDS`` (the user hung up), else unresolved (the agent had
   the time and left it open).
8. A deferral ("maybe later", "no thanks", "vielleicht später"): unresolved.
9. Another sign-off ("ok cool bye", "tschüss"): resolved, or unresolved after the agent's "I can't".
10. The agent's own mid-task question never answered (not just "anything else?"): abandoned.
11. The agent's last word: "done" (booked, sent, updated) resolved, "I can't" unresolved, the
    later one winning; else unknown.

Languages: English, Spanish and German, as the demo mixes them, with the speech-to-text forms of a
voice call (no apostrophes, no punctuation). Measured on ``tests/data/qa_labelled_sessions.json``
by ``bench/qa_recall.py``.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from session_mcp.companion.models import ConversationItem, SessionDetail
from session_mcp.sessions.phrases import CLOSING, HOLD, asks, echoes, last_sentence, needs_no_reply, negated

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
    r"transferring\s+you|connecting\s+you|putting\s+you\s+through|routing\s+you|(?:while|as)\s+i\s+(?:transfer|connect)",
    rf"(?:i{_A}ll|i\s+will|let\s+me)\s+(?:have|get)\s+(?:someone|somebody|a\s+(?:colleague|human|person|specialist|"
    r"supervisor|manager)|my\s+(?:colleague|supervisor|manager))",
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
    r"frustrat\w+|annoy\w+|terrible|awful|worst|pathetic|disappoint\w*|never\s+again",
    rf"you{_A}?re\s+not\s+(?:helping|listening|understanding)|you\s+(?:don{_A}?t|do\s+not)\s+(?:understand|listen|get\s+it)|"
    rf"(?:that|this)\s+(?:doesn{_A}?t|does\s+not)\s+make\s+(?:any\s+)?sense",
    rf"that{_A}?s\s+not\s+(?:my|mine|right|correct|true|what\s+i)|(?:that|this)\s+is\s+wrong|"
    r"wrong\s+(?:number|email|address|account|person|order|answer)",
    r"olv[ií]dalo|no\s+(?:me\s+)?(?:sirve|ayuda|funciona|resuelve|entiendes)|qu[eé]\s+mal|vaya\s+(?:mierda|servicio)|"
    r"decepcionad[oa]|in[uú]til|es\s+una\s+verg[uü]enza|"
    r"no\s+sirve\s+de\s+nada|sigue\s+sin",
    r"vergiss\s+es|bringt\s+(?:mir\s+)?nichts|hilft\s+(?:mir\s+)?(?:nicht|nichts|gar\s+nicht)|"
    r"funktioniert\s+(?:immer\s+noch\s+)?nicht|unversch[aä]mt|so\s+ein\s+(?:quatsch|mist)|schon\s+wieder|"
    r"entt[aä]uscht|nutzlos|(?:sie\s+verstehen|du\s+verstehst)\s+(?:mich\s+)?nicht",
)
_THANKS = _words(
    r"thanks?|thank\s+you|thx|ty|cheers|appreciate\s+(?:it|that|your\s+help)|much\s+appreciated",
    r"perfect|great|awesome|excellent|wonderful|brilliant|lovely|amazing|fantastic",
    r"(?:that|this|it)\s+(?:works|helps|helped|worked|fixed\s+it|did\s+it)|works\s+for\s+me|sounds\s+good",
    rf"(?:that|this)\s+(?:answers|solves)\s+(?:it|my\s+question)|exactly\s+what\s+i\s+(?:needed|wanted)|"
    rf"you{_A}?ve\s+been\s+(?:very\s+|really\s+|so\s+)?helpful|much\s+obliged",
    rf"that{_A}s\s+(?:all|everything|it)(?:\s+i\s+needed)?|all\s+(?:good|set|sorted)|problem\s+solved",
    rf"(?:yes|yeah|yep),?\s+(?:please|that{_A}s\s+(?:right|correct|it))|got\s+it|solved|sorted",
    r"merci|gracias|perfecto|genial|estupendo|vale|de\s+acuerdo|listo|muy\s+bien|te\s+lo\s+agradezco|me\s+sirve",
    r"danke(?:sch[oö]n)?|vielen\s+dank|super|prima|passt|alles\s+klar|wunderbar|toll|perfekt|(?:das|es)\s+hilft",
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
    rf"(?:i|we)\s+(?:couldn{_A}t|could\s+not|wasn{_A}t\s+able\s+to|was\s+unable\s+to|weren{_A}t\s+able\s+to)",
    r"please\s+(?:call|try|come)\s+(?:back\s+|again\s+)?later",
    rf"i{_A}m\s+afraid|unfortunately|i\s+don{_A}?t\s+have\s+(?:that|this|the|any|access)|not\s+possible",
    rf"there{_A}s\s+nothing\s+i\s+can\s+do|(?:i|we)\s+(?:can{_A}t|cannot)\s+(?:see|find)|"
    rf"that{_A}s\s+not\s+something\s+i\s+can|(?:out\s+of|beyond)\s+my\s+(?:hands|scope|control)",
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
    last_user = users[-1]
    after = [(i, t) for i, t in ending if t.role == "agent" and i > last_user[0]]
    before = [(i, t) for i, t in ending if t.role == "agent" and i < last_user[0]][-2:]
    hand_off = _first(_HAND_OFF, [(i, t) for i, t in ending if t.role == "agent"][-2:])
    if hand_off is not None:
        return _decided("escalated", "hand_off", "The agent hands the user over to a person.", hand_off)
    complaint = _complaint(ending)
    if complaint is not None:
        return _decided("unresolved", "complaint", "The user complains or gives up at the end.", complaint)
    text = last_user[1].text
    drill = bool(before) and echoes(text, before[-1][1].text)  # "repeat after me": no request of the user's own
    open_request = not after and not drill and not needs_no_reply(text) and _asks_for_something(last_sentence(text))
    thanks = _first(_THANKS, [last_user], negated=_not_just_before)
    if thanks is not None and not open_request:
        return _closed_by_user(thanks, after, before)
    if session.state == "failed" or (session.close_reason or "") not in ("", *NORMAL_CLOSE_REASONS):
        why = f"close reason {session.close_reason}" if session.close_reason else "status failed"
        return SessionOutcome(outcome="unresolved", signal="session_broke", reason=f"The session broke off ({why}).")
    if not after and HOLD.search(text):
        return _decided(
            "abandoned", "hang_up", "The user puts the call on hold and never comes back.", _whole(last_user)
        )
    if open_request:
        return _unanswered(session, last_user)
    deferral = _first(_DEFERRAL, [last_user], negated=None)
    if deferral is not None:
        return _decided("unresolved", "deferral", "The user puts it off.", deferral)
    sign_off = _first(CLOSING, [last_user], negated=None)
    if sign_off is not None:
        return _closed_by_user(sign_off, after, before)
    if after:
        open_question = _open_question(after[-1])
        if open_question is not None:
            return _decided(
                "abandoned", "question_unanswered", "The user left without answering the agent.", open_question
            )
    return _agent_last_word(after or before)


Match = tuple[int, ConversationItem, re.Match[str]]
Negation = Callable[[str, int], bool]


def _first(
    pattern: re.Pattern[str], turns: Sequence[tuple[int, ConversationItem]], negated: Negation | None = negated
) -> Match | None:
    """The first match of ``pattern`` in ``turns`` (in the order given), skipping negated ones."""
    for index, turn in turns:
        for match in _finditer(pattern, turn.text):
            if negated is None or not negated(turn.text, match.start()):
                return index, turn, match
    return None


def _finditer(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, the same spans; for ASCII text, case-sensitively over ``text.lower()``.

    A case-insensitive search over a phrase list tries each of its words at every position and is
    several times slower; only the spans (``start``, ``end``) of these matches are read.
    """
    fast = _case_sensitive(pattern) if text.isascii() else None
    return fast.finditer(text.lower()) if fast is not None else pattern.finditer(text)


@functools.cache
def _case_sensitive(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """``pattern`` without ``re.I``, when over lower-cased ASCII text it finds what ``pattern`` finds there.

    So when it is case-insensitive, writes no upper-case letter (outside escapes such as ``\\s``,
    ``\\W``), no letter by its code (``\\x41``), no inline flag, and none of its other letters
    matches an ASCII letter under ``re.I`` (``ſ`` matches ``s``). Else None: searched as it is.
    """
    source = pattern.pattern
    if not pattern.flags & re.I or re.search(r"\\[xuUN0-9]|\(\?[aiLmsux-]", source):
        return None
    literals = re.sub(r"\\.", "", source)
    if any(c.isupper() for c in literals):
        return None
    foreign = {c for c in literals if not c.isascii()}
    if any(re.fullmatch(re.escape(c), letter, re.I) for c in foreign for letter in string.ascii_letters):
        return None
    return re.compile(source, pattern.flags & ~re.I)


_NOT_JUST_BEFORE = re.compile(rf"(?:\b(?:not|no|never|nicht|nada)|n{_A}t)\s+(?:\w+\s+)?$", re.I)


def _not_just_before(text: str, start: int) -> bool:
    """A negation right before ``start``: "not great", "not really helpful", "no thanks"."""
    return _NOT_JUST_BEFORE.search(text, max(0, start - 40), start) is not None


def _complaint(ending: Sequence[tuple[int, ConversationItem]]) -> Match | None:
    """A complaint in the user's last turn, or in the one before unless the agent then got it done."""
    users = [(i, t) for i, t in ending if t.role == "user"][-2:]
    found = _first(_COMPLAINT, users[::-1], negated=None)
    if found is None or found[0] == users[-1][0]:
        return found
    fixed = [(i, t) for i, t in ending if t.role == "agent" and found[0] < i < users[-1][0]]
    return None if _first(_AGENT_DONE, fixed) is not None else found


def _closed_by_user(
    closing: Match, after: Sequence[tuple[int, ConversationItem]], before: Sequence[tuple[int, ConversationItem]]
) -> SessionOutcome:
    """The user thanks or signs off: resolved, unless the agent had just said it could not help."""
    last_word = _agent_last_word(before) if not after else None
    if last_word is not None and last_word.signal == "agent_cannot":
        return last_word.model_copy(
            update={"signal": "thanks_anyway", "reason": "The agent could not help; the user just closes."}
        )
    return _decided("resolved", "thanks", "The user thanks the agent, confirms or signs off at the end.", closing)


def _agent_last_word(turns: Sequence[tuple[int, ConversationItem]]) -> SessionOutcome:
    """What the agent's last turns say: done (resolved) or cannot (unresolved), the later one winning."""
    done = _first(_AGENT_DONE, turns[::-1])
    cannot = _first(_AGENT_CANNOT, turns[::-1], negated=None)
    if cannot is not None and (done is None or cannot[0] > done[0]):
        return _decided("unresolved", "agent_cannot", "The agent says it cannot help.", cannot)
    if done is not None:
        return _decided("resolved", "agent_done", "The agent completes the user's request.", done)
    return SessionOutcome(outcome="unknown", signal="no_signal", reason="The ending says neither way.")


def _asks_for_something(sentence: str) -> bool:
    """Whether a user's sentence is a question or a request (not a statement or a closing)."""
    return asks(sentence) or _REQUEST.search(sentence) is not None


def _whole(turn: tuple[int, ConversationItem]) -> Match:
    match = re.compile(r"\S.*\S|\S", re.DOTALL).search(turn[1].text)
    assert match is not None  # the turn holds text
    return turn[0], turn[1], match


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
