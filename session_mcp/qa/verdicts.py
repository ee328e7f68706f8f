"""Reviewers' verdicts applied to a review: a disputed finding is marked and no longer counted.

Verdicts and notes are ``Annotation`` rows of the store (``annotate_session``, ``session-mcp qa
annotate``): the Companion API has no endpoint for them. A verdict names its finding by session,
check and turn, under one rules fingerprint (``RuleSet.fingerprint``): with other rules the
finding may not be the same, so the verdict does not carry over. The latest verdict on a finding
wins; notes are kept in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from session_mcp.qa.checks import ReviewerVerdict
from session_mcp.store.base import Annotation

VERDICT_KINDS = {"confirm": "confirmed", "dispute": "disputed"}
KINDS = ("confirm", "dispute", "note")
MAX_REVIEWER_CHARS = 80
MAX_TEXT_CHARS = 1_000

FindingKey = tuple[str, str, int | None]


class Note(BaseModel):
    """A reviewer's note on a session."""

    model_config = ConfigDict(frozen=True)

    reviewer: str
    at: datetime = Field(description="When it was written (UTC).")
    text: str


class Verdicts:
    """A tenant's verdicts under one rules fingerprint, and its notes, ready to mark a review."""

    def __init__(self, annotations: Iterable[Annotation] = (), rules: str | None = None) -> None:
        self.verdicts: dict[FindingKey, ReviewerVerdict] = {}
        self.notes: dict[str, list[Note]] = {}
        for item in annotations:  # oldest first: a later verdict replaces an earlier one
            at = datetime.fromtimestamp(item.at, UTC)
            if item.kind == "note":
                self.notes.setdefault(item.session_id, []).append(Note(reviewer=item.reviewer, at=at, text=item.text))
            elif item.kind in VERDICT_KINDS and item.check is not None and item.rules == rules:
                key = (item.session_id, item.check, item.turn_index)
                self.verdicts[key] = ReviewerVerdict(
                    verdict=VERDICT_KINDS[item.kind],
                    reviewer=item.reviewer,
                    at=at,
                    comment=item.text,
                )

    def marked(self, finding: dict[str, Any]) -> dict[str, Any]:
        """``finding`` (``Finding``'s fields by name, as the report builder holds it) with its reviewer's
        verdict, when one was given under these rules."""
        review = self.verdicts.get((finding["session_id"], finding["check"], finding["turn_index"]))
        return finding if review is None else {**finding, "review": review.model_dump()}

    def notes_of(self, session_id: str) -> list[Note]:
        return self.notes.get(session_id, [])
