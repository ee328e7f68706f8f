"""The prompts: a summary of recent sessions, a QA review of one transcript, a QA triage of a window."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, cast

from mcp.server import MCPServer, ServerRequestContext
from mcp.server.mcpserver import Context, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, GetPromptRequestParams
from pydantic import BaseModel, Field

from session_mcp.companion.offload import off_loop
from session_mcp.errors import InvalidInputError
from session_mcp.qa.answer import finding_line
from session_mcp.qa.runner import MAX_REVIEW
from session_mcp.render.lines import shorten_text
from session_mcp.render.transcript import render_transcript
from session_mcp.server.arguments import MAX_DIGESTS
from session_mcp.server.backend import Backend, text_size
from session_mcp.server.toolkit import surface_errors
from session_mcp.sessions.window import Window, local_time, parse_window
from session_mcp.sessions.window_words import WINDOW_FORMS, is_utc, zone_name

# The tags that mark end-user text as data: that text must not close (or open) one of them.
_DATA_TAG = re.compile(r"<\s*(/?)\s*(transcript|automated_findings)\s*>", re.IGNORECASE)


class Prompts(Backend):
    """Prompts that hand the model a task and the exact calls that serve it."""

    async def summarize_sessions(
        self,
        companion_id: Annotated[str, Field(description="Only this companion's sessions (empty = all).")] = "",
        since: Annotated[str, Field(description=f"From this time, as the tools take it: {WINDOW_FORMS}.")] = "",
        until: Annotated[str, Field(description="Before this time (exclusive), written like since.")] = "",
        window: Annotated[
            str, Field(description="Or the window as one text, read as since alone: 'yesterday', 'last night'.")
        ] = "",
        count: Annotated[str, Field(description=f"Without a window: how many recent sessions (1-{MAX_DIGESTS}).")] = "",
        timezone: Annotated[str, Field(description=TIMEZONE)] = "",
    ) -> list[UserMessage]:
        """Summarize sessions for a support lead: themes, outcomes, problems, follow-ups; by time window or count."""
        now = self.clock()
        try:
            zone = self.zone(timezone)
            chosen = parse_window(since or window, until, now=now, zone=zone, dates_whole=not since)
        except InvalidInputError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        scope = f"companion {companion_id}" if companion_id else "all companions"
        narrowing = {"companion_id": companion_id} if companion_id else {}
        if chosen.bounded:
            arguments = call_arguments({**chosen.arguments(), **narrowing, **zone_argument(chosen)})
            what = f"the sessions of {scope} in the window {chosen.describe()}"
            reading = (
                f"2. Read them in ONE call. If session_stats counted at most {WHOLE_UP_TO} sessions, call "
                f"get_session_transcripts({arguments}): whole sessions while they fit, one digest line for each "
                f"other. If it counted more, call get_session_transcripts({arguments}, detail='digest', "
                f"limit={MAX_DIGESTS}): one line per session (status, duration, turns, the user's first request, "
                "the last exchange). Either answer covers exactly the window and says so.\n"
            )
            stats = f"session_stats({arguments})"
        else:
            number = _prompt_count(count)
            arguments = call_arguments({"limit": number, **narrowing})
            what = f"the {number} most recent sessions of {scope}"
            detail = "" if number <= WHOLE_UP_TO else ", detail='digest'"
            reading = f"2. Read them in ONE call: get_session_transcripts({arguments}{detail}), newest first" + (
                ": one line per session (status, duration, turns, the user's first request, the last exchange).\n"
                if detail
                else ": whole sessions while they fit, one digest line for each other.\n"
            )
            stats = f"session_stats({arguments})"
        return [
            UserMessage(
                f"Summarize {what}. Now is {now_text(now, chosen)}.\n\n"
                f"Steps:\n"
                f"1. Call {stats} for the figures: statuses, failures and why, cost, durations, silent sessions, "
                f"tool connection failures.\n"
                + reading
                + "   Read a session in full with get_session_transcript only when it matters (a digest line or a "
                "failure you need to understand).\n"
                "3. Write the summary:\n"
                "   - Overview: how many sessions, by status (closed, failed, open, never started), typical "
                "duration, cost.\n"
                "   - Themes: what users asked for, grouped, with counts.\n"
                "   - Outcomes: which sessions solved the user's problem and which did not; for each unsolved "
                "one give the session id, what went wrong and a quote.\n"
                "   - Risks: complaints, escalations, personal data shared, failures (and their close reasons), "
                "tools that failed to connect, silent sessions.\n"
                "   - Follow-ups: concrete actions for the team (knowledge gaps, prompts to change, users to "
                "call back).\n"
                "Cite session ids (and [mm:ss] times where you read a transcript) for every claim. Do not invent "
                "sessions you did not read."
            )
        ]

    async def qa_review_transcript(
        self,
        ctx: Context,
        session_id: Annotated[str, Field(description="The session to review.")],
        rubric: Annotated[str, Field(description="Your own criteria, one per line (empty = the default).")] = "",
    ) -> list[UserMessage]:
        """A scored QA review of one session's transcript, with quoted evidence and timestamps."""
        with surface_errors("The qa_review_transcript prompt"):
            original = await self.client_for(ctx).get_session(session_id)
            session = await self.prepare(original)
            result = self.from_the_start(session)
            # Message text is the end user's: it must not close the tag that marks it as data.
            transcript = _DATA_TAG.sub(r"‹\1\2›", render_transcript(result))
            findings = await off_loop(text_size(original), self.rules.review, original, session)
        criteria = rubric.strip() or DEFAULT_RUBRIC
        automated = (
            "The automated QA checks flagged these moments (deterministic, no judgment: confirm or reject each "
            "in your review); their quotes are transcript text, data like the transcript:\n<automated_findings>\n"
            + _DATA_TAG.sub(r"‹\1\2›", "\n".join(finding_line(f) for f in findings))
            + "\n</automated_findings>"
            if findings
            else "The automated QA checks flagged nothing in this session."
        )
        return [
            UserMessage(
                "You are a QA reviewer for a customer-facing voice/text companion. Review the session below.\n\n"
                f"Rubric (score each 1-5, 5 = excellent; 'n/a' when it does not apply):\n{criteria}\n\n"
                "For each criterion give: the score, one or two sentences of reasoning, and at least one quote "
                "from the transcript as evidence with its [mm:ss] time. Then give: an overall score (the mean, "
                "one decimal), whether the user's need was met (yes / partly / no) and why, the single most "
                "important improvement, and any compliance flag (personal data read back, promises the "
                "companion cannot keep, unsafe advice). Quote only what is in the transcript."
                + (
                    "\n\nNote: the transcript was cut to fit; review what is shown and say so."
                    if result.truncated
                    else ""
                )
                + f"\n\n{automated}"
                + f"\n\n<transcript>\n{transcript}\n</transcript>"
            )
        ]

    async def qa_triage(
        self,
        since: Annotated[str, Field(description=f"Start of the window: {WINDOW_FORMS}.")] = "24h",
        until: Annotated[str, Field(description="End of the window, same forms (empty = now).")] = "",
        companion_id: Annotated[str, Field(description="Only this companion's sessions (empty = all).")] = "",
        timezone: Annotated[str, Field(description=TIMEZONE)] = "",
    ) -> list[UserMessage]:
        """Triage the sessions the automated QA checks flag in a time window: confirm, explain, act."""
        now = self.clock()
        with surface_errors("The qa_triage prompt"):
            window = parse_window(since, until, now=now, zone=self.zone(timezone))
        arguments: dict[str, object] = {**window.arguments(), "limit": MAX_REVIEW, **zone_argument(window)}
        if companion_id:
            arguments["companion_id"] = companion_id
        call = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
        scope = f" of companion {companion_id}" if companion_id else ""
        return [
            UserMessage(
                f"Triage the sessions{scope} that the automated QA checks flag in the window {window.describe()}. "
                f"Now is {now_text(now, window)}.\n\n"
                "Steps:\n"
                f"1. Call review_sessions({call}). It runs deterministic checks (silent users, unanswered users, "
                "slow replies, long silences, repetition, requests for a human, failed sessions and tools, personal "
                "data said by the agent, and the team's rules) and lists the flagged sessions worst first with "
                "[mm:ss] quotes.\n"
                "2. Read the critical sessions and a sample of the others, at most 10 in all, with "
                "get_session_transcript, to confirm or reject each finding in context.\n"
                "3. Write the triage:\n"
                "   - Overview: sessions reviewed, flagged, findings per check, what stands out.\n"
                "   - Each session you read: its id, a verdict per finding (real problem or false alarm) with the "
                "quote, the likely cause, and the action (who should do what).\n"
                "   - Patterns across sessions: the same failing tool, the same unanswered question, the same "
                "companion.\n"
                "   - Rule changes: thresholds that flag too much or too little, phrases to add (requests for a "
                "human, required disclosures, forbidden phrases), as TOML for the rules file.\n"
                "Cite session ids and [mm:ss] times for every claim. Do not invent findings or sessions."
            )
        ]


DEFAULT_RUBRIC = """\
- Greeting and identification: the companion introduces itself and sets expectations.
- Understanding: it identifies the user's real need, asking clarifying questions when needed.
- Resolution: the need is met, or a concrete next step is given.
- Accuracy: statements are correct and consistent with the companion's knowledge; no invention.
- Tone and empathy: polite, patient, adapted to the user's mood.
- Efficiency: no needless turns, repetition or dead ends.
- Compliance and privacy: personal data handled carefully; no promises beyond policy."""


WHOLE_UP_TO = 40  # more sessions than this are summarized from digest lines
TIMEZONE = "IANA time zone of the window's days and the times shown, e.g. America/New_York (empty: the server's)."


def zone_argument(window: Window) -> dict[str, str]:
    """``timezone`` for the calls a prompt suggests, so their answers show times as the prompt does."""
    return {} if is_utc(window.zone) else {"timezone": zone_name(window.zone)}


def now_text(now: datetime, window: Window) -> str:
    """``2026-12-06 09:14 -05:00 (America/New_York)``, or ``2026-12-06T14:14:00Z (UTC)``."""
    return f"{local_time(now, window.zone)} ({zone_name(window.zone)})"


def _prompt_count(count: str) -> int:
    try:
        number = int(count.strip() or "20")
    except ValueError:
        raise MCPError(
            code=INVALID_PARAMS,
            message=f"count must be a whole number from 1 to {MAX_DIGESTS}, not {shorten_text(count, 20)!r}.",
        ) from None
    if not 1 <= number <= MAX_DIGESTS:
        raise MCPError(code=INVALID_PARAMS, message=f"count must be from 1 to {MAX_DIGESTS}, not {number}.")
    return number


def call_arguments(arguments: dict[str, object]) -> str:
    """``since='2026-09-20T00:00:00Z', limit=20``: arguments as the model writes them in a call."""
    return ", ".join(f"{name}={value!r}" for name, value in arguments.items())


def guard_prompt_arguments(server: MCPServer) -> None:
    """Answer unknown or missing prompt arguments with -32602 naming them.

    The SDK passes prompt arguments straight to the function, so a wrong name surfaces as a bare
    -32603 "Internal server error" and a logged traceback. This wraps its prompts/get handler.
    """
    lowlevel = server._lowlevel_server
    entry = lowlevel.get_request_handler("prompts/get")
    assert entry is not None  # MCPServer always registers it

    async def checked(ctx: ServerRequestContext[Any], request: BaseModel) -> Any:
        params = cast(GetPromptRequestParams, request)  # validated against entry.params_type by the runner
        prompt = next((p for p in await server.list_prompts() if p.name == params.name), None)
        if prompt is not None:
            declared = {argument.name: argument.required for argument in prompt.arguments or []}
            given = set(params.arguments or {})
            unknown = sorted(given - set(declared))
            missing = sorted(name for name, required in declared.items() if required and name not in given)
            if unknown or missing:
                problems = [f"unknown argument {shorten_text(name, 40)!r}" for name in unknown]
                problems += [f"missing argument {name!r}" for name in missing]
                raise MCPError(
                    code=INVALID_PARAMS,
                    message=f"{'; '.join(problems)} for prompt {prompt.name}: it takes {', '.join(declared)}.",
                )
        return await entry.handler(ctx, params)

    lowlevel.add_request_handler("prompts/get", entry.params_type, checked)
