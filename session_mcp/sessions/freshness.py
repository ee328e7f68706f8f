"""How fresh a store-backed answer is (pure: ``render`` reads it without loading the HTTP client)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CatchUp = Literal["ran", "synced", "recent", "sync_running"]


@dataclass(frozen=True)
class Freshness:
    """How fresh a store-backed answer is: the tenant's last sync and what this answer did first.

    ``catch_up``: ``ran`` (listed the newest now), ``synced`` (synced back to the window's start
    now), ``recent`` (skipped: one ran moments ago), ``sync_running`` (skipped: another sync
    holds the store; the answer is what is stored). ``unread``: sessions the catch-up could not
    read (missing from the answer until a later sync reads them).
    """

    last_sync: float | None
    catch_up: CatchUp
    unread: int = 0
