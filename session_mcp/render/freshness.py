"""How fresh a store-backed answer is: a small ``store`` object in structured output, one line in text.

Every answer read from the session store says so, when this API key was last synced, and what
the answer did first (caught up now, or skipped and why). Answers read from the API say nothing new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from session_mcp.render.common import format_time, plural
from session_mcp.render.scan_info import window_words
from session_mcp.sessions.freshness import CatchUp, Freshness
from session_mcp.sessions.window import Window

FRESHNESS_CHARS = 300  # the line's most: what a store-backed answer keeps aside of its budget

CATCH_UP_WORDS: dict[str, str] = {
    "ran": "caught up just now",
    "synced": "synced back to the window's start just now",
    "recent": "caught up moments ago (a catch-up ran within seconds)",
    "sync_running": "not caught up: another sync is running, this is what was stored",
}


class StoreFreshness(BaseModel):
    """Where a store-backed answer came from, and how fresh it is."""

    source: Literal["store"] = "store"
    last_sync: str | None = Field(None, description="When this API key's sessions were last synced (UTC, ISO 8601).")
    catch_up: CatchUp = Field(
        description="ran: listed the newest now; synced: synced back to the window's start now; recent: skipped, "
        "one ran moments ago; sync_running: skipped, another sync is running (what was stored)."
    )
    unread: int | None = Field(None, description="Sessions the catch-up could not read (left out until a sync).")
    window_start: datetime | None = Field(None, description="The window answered: sessions started at or after (UTC).")
    window_end: datetime | None = Field(None, description="... and before this one.")


def store_freshness(fresh: Freshness, window: Window) -> StoreFreshness:
    last = datetime.fromtimestamp(fresh.last_sync, UTC).isoformat() if fresh.last_sync is not None else None
    return StoreFreshness(
        last_sync=last,
        catch_up=fresh.catch_up,
        unread=fresh.unread or None,
        window_start=window.start,
        window_end=window.end,
    )


def freshness_line(store: StoreFreshness) -> str:
    """``Window (UTC): ... · From the session store (last synced ...; caught up just now).``"""
    last = "never synced"
    if store.last_sync is not None:
        last = f"last synced {format_time(datetime.fromisoformat(store.last_sync), seconds=True)}"
    unread = f"; {plural(store.unread, 'session')} could not be read, a later sync retries" if store.unread else ""
    window = (
        f"{window_words(store.window_start, store.window_end)} · " if store.window_start or store.window_end else ""
    )
    return f"{window}From the session store ({last}; {CATCH_UP_WORDS[store.catch_up]}{unread})."


def with_freshness(text: str, store: StoreFreshness | None) -> str:
    """``text`` with the freshness line after its first line (its summary), when it came from the store."""
    if store is None:
        return text
    head, newline, rest = text.partition("\n")
    return f"{head}\n{freshness_line(store)}{newline}{rest}"
