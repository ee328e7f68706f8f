"""``session-mcp sync``, ``store info|purge`` and ``sessions search``: the session store from a shell.

``sync`` fills the store for the API key in use (``sessions.sync``); ``store info``, ``store
purge`` and ``sessions search`` see, delete and search only that key's sessions (its tenant). Exit status: 0 done,
1 partial (a session could not be read, or another sync is running), 2 usage or fatal error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any, TextIO

from session_mcp.cli.sessions import Progress, command_zone, whole_number
from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.errors import InvalidInputError
from session_mcp.render.common import plural
from session_mcp.render.lines import ID_CHARS, one_line
from session_mcp.render.search import check_query, render_search, search_result
from session_mcp.sessions.sync import SyncResult, sync
from session_mcp.sessions.window import iso, parse_window, window_of
from session_mcp.sessions.window_words import WINDOW_FORMS
from session_mcp.store.base import SearchFilters, SessionStore, StoreError, StoreInfo, SyncRunningError
from session_mcp.store.open import StoreLocation, open_store
from session_mcp.store.search import QueryError

EXIT_STATUS = "Exit status: 0 done, 1 partial (a session could not be read, or another sync is running), 2 error."
ClientFactory = Callable[[Settings], CompanionClient]


def add_store_commands(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """``sync`` and ``store`` with their actions; ``shared`` adds the connection and store flags."""
    syncing = commands.add_parser(
        "sync",
        help="bring the session store up to date (closed sessions fetched once)",
        description="Lists sessions newest first until it meets what the store holds, fetches the closed "
        "sessions it lacks, and keeps open ones to revisit.",
        epilog=EXIT_STATUS,
    )
    shared(syncing)
    syncing.add_argument("--since", metavar="WHEN", help=f"list no further back than this: {WINDOW_FORMS}")
    syncing.add_argument("--json", action="store_true", help="print what the sync did as JSON")
    store = commands.add_parser("store", help="what the session store holds, or delete from it", epilog=EXIT_STATUS)
    actions = store.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = actions.add_parser("info", help="sessions, size, oldest, newest and last sync of this API key")
    purge = actions.add_parser("purge", help="delete this API key's stored sessions")
    for parser in (info, purge):
        shared(parser)
    info.add_argument("--json", action="store_true", help="print the figures as JSON")
    which = purge.add_mutually_exclusive_group(required=True)
    which.add_argument("--before", metavar="WHEN", help=f"sessions created before this: {WINDOW_FORMS}")
    which.add_argument("--all", action="store_true", help="every session of this API key, and its sync state")


def add_search_command(actions: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """``sessions search QUERY``: the transcript search of the store, as the ``search_transcripts`` tool."""
    search = actions.add_parser(
        "search",
        help="search the stored transcripts (after session-mcp sync)",
        description=f"Ranked turns that match QUERY, in the sessions of the store. {QueryError.HELP}.",
        epilog=EXIT_STATUS,
    )
    shared(search)
    search.add_argument("query", metavar="QUERY", help="what to look for (quote it for the shell)")
    search.add_argument("--role", choices=["user", "agent"], help="only turns said by the user, or the agent")
    search.add_argument("--companion-id", help="only this companion's sessions")
    search.add_argument("--since", metavar="WHEN", help=f"sessions started at or after: {WINDOW_FORMS}")
    search.add_argument("--until", metavar="WHEN", help="sessions started before this (exclusive), like --since")
    search.add_argument(
        "--status", action="append", default=[], metavar="VALUE", help="pending, started, closed, failed (repeatable)"
    )
    search.add_argument("--limit", type=whole_number(1, 1_000), default=20, help="hits to print (default 20)")
    search.add_argument("--offset", type=whole_number(0), default=0, help="hits to skip, to read on (default 0)")
    search.add_argument("--json", action="store_true", help="print the hits as JSON, as the tool's structured content")


def moment(text: str, flag: str, now: datetime, zone: tzinfo = UTC) -> float:
    """The instant ``text`` names (as ``--since`` reads it, in ``zone``), in Unix seconds."""
    start = parse_window(text, None, now=now, zone=zone).start
    if start is None:
        raise InvalidInputError(f"{flag} needs a time: {WINDOW_FORMS}.")
    return start.timestamp()


def store_path(settings: Settings) -> StoreLocation:
    """The store the settings name (a file or a URL); ``StoreError`` when there is none."""
    path = settings.store_path(os.environ)
    if path is None:
        why = "--demo uses a store only when --store is given" if settings.demo else "--no-store is set"
        raise StoreError(f"no session store: {why} (pass --store PATH, or set SESSION_MCP_STORE)")
    return path


@asynccontextmanager
async def opened_store(path: StoreLocation, client: CompanionClient) -> AsyncIterator[SessionStore]:
    """This client's tenant in the store at ``path``."""
    store = open_store(path)
    try:
        yield store.for_tenant(client.fingerprint)
    finally:
        store.close()


async def run_store_command(args: argparse.Namespace, settings: Settings, client: CompanionClient, out: TextIO) -> int:
    """Run ``sync``, ``store ACTION`` or ``sessions search``: its exit status (store and API errors go up)."""
    now = datetime.now(UTC)
    path = store_path(settings)
    async with opened_store(path, client) as store:
        if args.command == "sync":
            since = moment(args.since, "--since", now, command_zone(args)) if args.since else None
            progress = Progress(sys.stderr)

            async def report(done: int, total: int, message: str) -> None:
                progress.update(done, total)

            try:
                result = await sync(client, store, since=since, retain_days=settings.retain_days, on_progress=report)
            except SyncRunningError as exc:
                print(f"session-mcp: {exc}", file=sys.stderr)
                return 1
            finally:
                progress.finish()
            info = await store.info()
            out.write((json.dumps(sync_summary(result, info)) if args.json else format_sync(result, info)) + "\n")
            return 1 if result.partial else 0
        if args.command == "sessions":
            return await search_command(args, settings, store, now, out)
        if args.action == "info":
            info = await store.info()
            shown = info_summary(info, path, settings.retain_days) if args.json else None
            out.write((json.dumps(shown) if shown else format_info(info, path, settings.retain_days)) + "\n")
            return 0
        before = None if args.all else moment(args.before, "--before", now, command_zone(args))
        removed = await store.purge(before)
        told = "" if before is None else f" created before {iso(datetime.fromtimestamp(before, UTC))}"
        out.write(f"Purged {plural(removed, 'session')}{told} of this API key from the store.\n")
        return 0


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else iso(datetime.fromtimestamp(seconds, UTC))


def sync_summary(result: SyncResult, info: StoreInfo) -> dict[str, Any]:
    return {
        "pages": result.pages,
        "listed": result.listed,
        "fetched": result.fetched,
        "stored": result.stored,
        "open": result.open_now,
        "given_up": result.given_up,
        "failed": [failure.model_dump() for failure in result.failures],
        "seconds": round(result.seconds, 3),
        "store_sessions": info.sessions,
    }


def format_sync(result: SyncResult, info: StoreInfo) -> str:
    lines = [
        f"Synced in {result.seconds:.1f} s: {plural(result.stored, 'new session')} stored ({result.listed} listed on "
        f"{plural(result.pages, 'page')}); {plural(result.open_now, 'open session')} to revisit"
        + (f", {result.given_up} open for over a day given up" if result.given_up else "")
        + f". The store holds {plural(info.sessions, 'session')} of this API key."
    ]
    lines += [f"Not stored: {one_line(f.session_id, ID_CHARS)}: {one_line(f.reason, 1_000)}" for f in result.failures]
    if result.failures:
        lines.append("Run sync again to fetch them: it lists on past what it holds until it has them all.")
    return "\n".join(lines)


def info_summary(info: StoreInfo, path: StoreLocation, retain_days: int) -> dict[str, Any]:
    return {
        "file": str(path),
        "file_bytes": info.file_bytes,
        "sessions": info.sessions,
        "turns": info.turns,
        "open": info.pending,
        "oldest": _time(info.oldest),
        "newest": _time(info.newest),
        "last_sync": _time(info.sync.last_sync),
        "retain_days": retain_days or None,
        "whole_since": _time(info.sync.reached) if info.sync.complete and info.sync.reached else None,
    }


def format_info(info: StoreInfo, path: StoreLocation, retain_days: int) -> str:
    size = f"{info.file_bytes / 1_048_576:.1f} MB"
    lines = [f"Store {path} ({size} on disk, every API key's sessions together)."]
    if not info.sessions:
        lines.append("No session of this API key is stored: run session-mcp sync.")
    else:
        lines.append(
            f"This API key: {plural(info.sessions, 'session')} ({plural(info.turns, 'turn')}), created from "
            f"{_time(info.oldest)} to {_time(info.newest)}; {plural(info.pending, 'open session')} to revisit."
        )
    last = _time(info.sync.last_sync)
    lines.append(f"Last complete sync: {last}." if last else "Never synced completely.")
    if info.sync.complete:
        reached = _time(info.sync.reached)
        lines.append(f"Whole from {reached} on." if reached else "Whole history held (synced to the end of the list).")
    lines.append(
        f"Retention: {plural(retain_days, 'day')} (older sessions are deleted after each sync; "
        "--retain-days 0 keeps all)."
        if retain_days
        else "Retention: none (every session is kept)."
    )
    return "\n".join(lines)


async def search_command(
    args: argparse.Namespace, settings: Settings, store: SessionStore, now: datetime, out: TextIO
) -> int:
    check_query(args.query, redact=settings.redact_pii)
    window = window_of(args.since, args.until, now=now, zone=command_zone(args))
    filters = SearchFilters(
        role=args.role,
        companion_id=args.companion_id,
        statuses=tuple(s.strip() for value in args.status for s in value.split(",") if s.strip()),
        since=window.start.timestamp() if window.start else None,
        until=window.end.timestamp() if window.end else None,
    )
    try:
        page = await store.search(args.query, filters, args.offset, args.limit)
    except QueryError as exc:
        raise InvalidInputError(str(exc)) from None
    result = search_result(args.query, page, await store.sync_state(), redact=settings.redact_pii)
    if args.json:
        out.write(json.dumps(result.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n")
        return 0
    more = None
    if page.next_offset is not None:
        more = f"[cut: {page.total_hits - page.next_offset} more hits: use --offset {page.next_offset}.]"
    text = render_search(result, more, lambda row: f"session-mcp sessions show {row.session_id} reads a conversation.")
    out.write(text + "\n")
    return 0
