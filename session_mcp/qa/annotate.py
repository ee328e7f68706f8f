"""A reviewer's verdict or note, checked and kept: shared by ``annotate_session`` and ``qa annotate``.

A verdict must name a finding the current rules find in the session (its check and turn, as the
review shows them), so a typo never disputes nothing; the session is read (for this key only) and
checked again to see it. The verdict is kept in the store under the rules fingerprint; a note
needs no finding. The Companion API has no endpoint for any of it: it stays in the local store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from session_mcp.companion.client import CompanionClient
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.verdicts import MAX_REVIEWER_CHARS, MAX_TEXT_CHARS, Verdicts
from session_mcp.render.lines import one_line
from session_mcp.sessions.redact import Redactor
from session_mcp.store.base import Annotation, SessionStore

Kind = Literal["confirm", "dispute", "note"]


class AnnotationError(ValueError):
    """The annotation cannot be kept; the message says what to give instead."""


class AnnotationResult(BaseModel):
    session_id: str
    kind: Kind
    reviewer: str
    at: datetime
    check: str | None = None
    turn_index: int | None = None
    rules: str = Field(description="The rules fingerprint the verdict holds for.")
    message: str


async def annotate(
    client: CompanionClient,
    store: SessionStore,
    rules: RuleSet,
    shown: Redactor,
    *,
    session_id: str,
    kind: Kind,
    reviewer: str,
    check: str | None = None,
    turn_index: int | None = None,
    text: str = "",
    now: datetime | None = None,
) -> AnnotationResult:
    """Keep a verdict on a finding of ``session_id`` (or a note on it); ``AnnotationError`` when it cannot."""
    reviewer = one_line(reviewer.strip(), MAX_REVIEWER_CHARS)
    text = text.strip()
    if not reviewer:
        raise AnnotationError("reviewer is empty: give the reviewer's name, e.g. reviewer='ana'.")
    if len(text) > MAX_TEXT_CHARS:
        raise AnnotationError(f"the comment has {len(text):,} characters; at most {MAX_TEXT_CHARS:,}.")
    if kind == "note":
        if check or turn_index is not None:
            raise AnnotationError("a note is on the whole session: leave check and turn out (or confirm/dispute).")
        if not text:
            raise AnnotationError("a note needs its text: give the comment.")
    elif not check:
        raise AnnotationError(f"to {kind} a finding, give its check (e.g. 'pii_exposed') and its turn as shown.")
    session = await client.get_session(session_id)  # this key's session, or NotFoundError
    if kind != "note":
        findings = rules.review(session, shown(session))
        if not any(f.check == check and f.turn_index == turn_index for f in findings):
            found = ", ".join(
                f"{f.check} turn {f.turn_index}" if f.turn_index is not None else f"{f.check} (whole session)"
                for f in findings
            )
            at = f"turn {turn_index}" if turn_index is not None else "the whole session (no turn)"
            raise AnnotationError(
                f"session {session_id} has no {check} finding at {at} with the current rules; its findings: "
                f"{found or 'none'}."
            )
    moment = now or datetime.now(UTC)
    annotation = Annotation(
        session_id=session_id,
        kind=kind,
        reviewer=reviewer,
        at=moment.timestamp(),
        text=text,
        check=check if kind != "note" else None,
        turn_index=turn_index if kind != "note" else None,
        rules=rules.fingerprint if kind != "note" else None,
    )
    await store.add_annotation(annotation)
    what = {"confirm": "Confirmed", "dispute": "Disputed", "note": "Noted"}[kind]
    target = (
        "" if kind == "note" else f" the {check} finding" + (f" at turn {turn_index}" if turn_index is not None else "")
    )
    effect = {
        "confirm": "it stays counted and shows as confirmed",
        "dispute": "later reviews with these rules show it as disputed and do not count it",
        "note": "reviews show the note with the session",
    }[kind]
    return AnnotationResult(
        session_id=session_id,
        kind=kind,
        reviewer=reviewer,
        at=moment,
        check=annotation.check,
        turn_index=annotation.turn_index,
        rules=rules.fingerprint,
        message=f"{what}{target} of {session_id} as {reviewer} (kept in the local store, rules {rules.fingerprint}): "
        f"{effect}.",
    )


async def load_verdicts(store: SessionStore | None, rules: RuleSet) -> Verdicts:
    """The tenant's verdicts under ``rules`` and its notes (none without a store)."""
    if store is None:
        return Verdicts()
    return Verdicts(await store.annotations(), rules.fingerprint)
