"""Opening a store from where it is: a file (SQLite, the default) or a ``postgresql://`` URL.

One call for every caller (the server, the CLI, ``bench/scale.py``): ``open_store(location)``.
The PostgreSQL engine and its driver load only for a URL, so the SQLite default needs nothing
installed; without psycopg a URL gets one line saying what to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from session_mcp.store.base import SessionStore, StoreError
from session_mcp.store.sqlite import SqliteStore
from session_mcp.store.url import DatabaseURL, is_database_url

StoreLocation = Path | DatabaseURL


class StoreEngine(Protocol):
    """An opened store, shared by every tenant; each reads it through ``for_tenant``."""

    def for_tenant(self, tenant: str) -> SessionStore:
        """The store bound to one tenant (``CompanionClient.fingerprint``)."""

    def close(self) -> None:
        """Release the file or the connections."""


def location_of(text: str) -> StoreLocation:
    """A ``--store`` value: a URL for PostgreSQL, else a file's path (``~`` expanded)."""
    if is_database_url(text):
        try:
            return DatabaseURL(text)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
    return Path(text).expanduser()


def open_store(location: StoreLocation | str) -> StoreEngine:
    """The store at ``location``: made and migrated on first use; ``StoreError`` says why not."""
    if isinstance(location, str):
        location = location_of(location)
    if isinstance(location, Path):
        return SqliteStore(location)
    try:
        from session_mcp.store.postgres import PostgresStore
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise StoreError(
            f"the store {location} is a PostgreSQL database, and psycopg is not installed: "
            "pip install 'session-mcp[postgresql]'"
        ) from None
    return PostgresStore(location)
