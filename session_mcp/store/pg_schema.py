"""The PostgreSQL store's schema: its migrations, step for step the SQLite store's, and how they run.

The same version numbers as ``sqlite.MIGRATIONS`` (a test holds them equal), so a version names one
schema whatever the engine. ``migrate`` runs under a transaction-level advisory lock: servers
starting together on an empty database migrate it once, the others wait and find it done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import psycopg

from session_mcp.store.migrations import run_migrations
from session_mcp.store.pg_query import BY_START_COVERING, LIST_ROWS, write_rows
from session_mcp.store.pg_search import CONFIG, PUNCTUATION
from session_mcp.store.rows import figures_json, session_of_body

Connection = psycopg.Connection[tuple[Any, ...]]

# MIGRATIONS[n] takes a database from schema version n to n + 1, as sqlite.MIGRATIONS[n] takes a file.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE EXTENSION IF NOT EXISTS unaccent",
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}'
                           AND cfgnamespace = current_schema()::regnamespace) THEN
                CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = simple);
                ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING
                    FOR word, hword, hword_part, numword, numhword, hword_numpart WITH unaccent, simple;
            END IF; END $$""",
        """CREATE TABLE sessions (
            sk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant text NOT NULL, id text COLLATE "C" NOT NULL,
            body bytea NOT NULL, raw_bytes integer NOT NULL, turn_count integer NOT NULL,
            companion_id text, external_client_id text, status text, close_reason text, session_type text,
            modality text, created_at double precision, started_at double precision, closed_at double precision,
            list_time double precision, start_time double precision, stored_at double precision NOT NULL,
            UNIQUE (tenant, id))""",
        "CREATE INDEX sessions_by_list ON sessions (tenant, list_time)",
        f"""CREATE TABLE turns (
            session_sk bigint NOT NULL REFERENCES sessions ON DELETE CASCADE, turn_index integer NOT NULL,
            role text NOT NULL, offset_s double precision, text text NOT NULL,
            tsv tsvector GENERATED ALWAYS AS
                (to_tsvector('{CONFIG}'::regconfig, regexp_replace(text, '{PUNCTUATION}', ' ', 'g'))) STORED,
            PRIMARY KEY (session_sk, turn_index))""",
        "CREATE INDEX turns_tsv ON turns USING gin (tsv)",
        """CREATE TABLE pending (tenant text NOT NULL, id text COLLATE "C" NOT NULL, list_time double precision,
            first_seen double precision NOT NULL, PRIMARY KEY (tenant, id))""",
        "CREATE TABLE sync_state (tenant text PRIMARY KEY, last_sync double precision, newest_seen double precision)",
    ),
    ("ALTER TABLE sync_state ADD COLUMN complete boolean NOT NULL DEFAULT false",),
    # 3, as SQLite's: ``list_rows`` (every listed session's list row and figures, no body in the way;
    # filled from the bodies by ``backfill_v3``), open sessions given up kept in answers, ``reached``.
    (
        *LIST_ROWS,
        "ALTER TABLE pending ADD COLUMN given_up boolean NOT NULL DEFAULT false",
        "ALTER TABLE sync_state ADD COLUMN reached double precision",
        "UPDATE sync_state SET complete = false",
    ),
    # 4: QA findings of stored sessions per rules fingerprint.
    (
        """CREATE TABLE findings (tenant text NOT NULL, id text COLLATE "C" NOT NULL, rules text NOT NULL,
            body text NOT NULL, PRIMARY KEY (tenant, id, rules))""",
    ),
    # 5: reviewers' verdicts on findings and notes on sessions.
    (
        """CREATE TABLE annotations (
            ak bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant text NOT NULL, session_id text NOT NULL,
            kind text NOT NULL, check_id text, turn_index integer, rules text, reviewer text NOT NULL,
            at double precision NOT NULL, text text NOT NULL)""",
        "CREATE INDEX annotations_by_session ON annotations (tenant, session_id)",
    ),
    # 6: SQLite's contentless index and time-ordered keys; PostgreSQL's layout is unchanged (same numbers).
    (),
    # 7, as SQLite's: the index on start time holds the start time too (``pg_query.BY_START_COVERING``).
    BY_START_COVERING,
)
SCHEMA_VERSION = len(MIGRATIONS)


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for ``name``: the first 8 bytes of its SHA-256."""
    return int.from_bytes(hashlib.sha256(f"session-mcp:{name}".encode()).digest()[:8], "big", signed=True)


def backfill_v3(conn: Connection) -> None:
    """The list rows and figures of sessions stored before version 3, from their bodies."""
    for tenant, session_id, body in conn.execute("SELECT tenant, id, body FROM sessions").fetchall():
        session = session_of_body(bytes(body), session_id)
        write_rows(conn, tenant, [(session, figures_json(session))], open_=False)


BACKFILLS: dict[int, Callable[[Connection], None]] = {3: backfill_v3}  # run after that version's statements


def migrate(conn: Connection) -> int:
    """Bring the database to ``SCHEMA_VERSION``; returns the version it had. Refuses a newer one."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("migrate"),))  # servers starting together
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        found = int(row[0]) if row else 0
        run_migrations(conn, MIGRATIONS, BACKFILLS, found)
        if found != SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))
    return found
