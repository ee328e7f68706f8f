"""Closed sessions into the store, with what is computed of them above it: their outcome.

The store may not import this tier, so whoever stores sessions (the sync, the QA review) computes
each one's outcome here, once, from the session as stored, and hands its value and signal to
``put_sessions``: not the quoted evidence, which redaction would change (the value it does not).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread

from session_mcp.companion.models import SessionDetail
from session_mcp.sessions.outcome import outcome_of
from session_mcp.store.base import SessionStore, StoredOutcome


def stored_outcome(session: SessionDetail) -> StoredOutcome:
    """The outcome of ``session`` as a store keeps it: (outcome, signal)."""
    ended = outcome_of(session)
    return ended.outcome, ended.signal


def stored_outcomes(sessions: Sequence[SessionDetail]) -> dict[str, StoredOutcome]:
    return {session.id: stored_outcome(session) for session in sessions}


async def put_closed(store: SessionStore, sessions: Sequence[SessionDetail]) -> None:
    """Store closed ``sessions`` with their outcomes (computed off the event loop: a chunk may be large)."""
    if sessions:
        outcomes = await anyio.to_thread.run_sync(stored_outcomes, sessions)
        await store.put_sessions(sessions, outcomes)
