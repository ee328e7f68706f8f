"""``session-mcp qa``: review sessions with the QA checks and write a report, for people and CI.

Exit status: 0 when no finding reaches ``--fail-on`` (always, without it), 1 when one does, when
``--fail-on`` is given and some sessions could not be read (the review is incomplete), or when the
scan bound stopped before the window's start (the review missed older sessions: a line says how to
widen it); 2 on an error: a one-line message on stderr, no traceback.

It reads through the session store when one is configured (``--store``, else the platform's data
folder; ``--no-store`` reads every session from the API; with ``--demo`` only a ``--store`` given
is used, as the demo data changes each UTC day): a closed session reviewed before under the same
rules costs no request and no check. A store that cannot be opened (another user's, a link) is
skipped with one line on stderr. ``--cache-dir DIR``, the disk cache's flag before the store, still
works: it means ``--store DIR/store.sqlite3``, and says it is deprecated; ``--no-cache`` is
``--no-store``. ``--out`` writes to what the path names (``outfile``): a device, FIFO or
``/dev/stdout`` as a stream, a file atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, TextIO

import anyio

from session_mcp.cli.sessions import Progress, add_filter_flags, add_query_flags, selection_of, whole_number
from session_mcp.cli.store import opened_store, store_path
from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.errors import CompanionError
from session_mcp.qa.annotate import AnnotationError, Kind, annotate, load_verdicts
from session_mcp.qa.checks import SEVERITIES, Severity
from session_mcp.qa.report import QAReport
from session_mcp.qa.rules import RulesError, RuleSet, load_rules
from session_mcp.qa.runner import MAX_REVIEW, Review, run_review
from session_mcp.qa.verdicts import Verdicts
from session_mcp.qa.writers import FORMATS, WRITERS, reads, window_text
from session_mcp.render.common import plural
from session_mcp.render.lines import one_line
from session_mcp.sessions.outfile import replaced_path, write_file, writes_in_place
from session_mcp.sessions.redact import redactor
from session_mcp.sessions.select import Selection
from session_mcp.sessions.stored import StoreGate
from session_mcp.store.base import SessionStore, StoreError
from session_mcp.store.files import private_folder
from session_mcp.store.open import StoreLocation

ClientFactory = Callable[[Settings], CompanionClient]


def add_qa_command(commands: Any, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """The ``qa`` command; ``shared`` adds the connection flags."""
    qa = commands.add_parser(
        "qa",
        help="review sessions with the QA checks; a report for people (text, HTML) or CI (JUnit, JSONL)",
        description="Review sessions with the built-in QA checks and a team's rules, and write a report. Exit "
        "status: 0 when nothing reaches --fail-on, 1 when something does, 2 on an error.",
    )
    shared(qa)
    add_filter_flags(qa)
    add_query_flags(qa)  # the window and client-side filters, exactly as `sessions list` takes them
    qa.add_argument(
        "--limit",
        type=whole_number(1),
        help=f"at most this many sessions, the newest (default: all of them with a store, {MAX_REVIEW} without; "
        f"at most {MAX_REVIEW} without a store)",
    )
    qa.add_argument("--rules", type=Path, help="a TOML rules file (thresholds and phrase rules)")
    qa.add_argument("--format", choices=FORMATS, default="text", help="text (default), json, jsonl, junit or html")
    qa.add_argument("--out", type=Path, help="write the report to this file instead of stdout")
    qa.add_argument("--fail-on", choices=SEVERITIES[1:], help="exit 1 when a finding is at least this severe")
    qa.add_argument("--cache-dir", type=Path, help="deprecated: the same as --store DIR/store.sqlite3")
    qa.add_argument("--no-cache", action="store_true", help="the same as --no-store")


def run_qa_command(args: argparse.Namespace, settings: Settings, make_client: ClientFactory) -> int:
    """Run ``session-mcp qa`` and return its exit status; every error is one line on stderr and 2."""
    if args.out is not None and (problem := out_problem(args.out)):
        return _error(problem)  # before the review, not after it
    try:
        return run_unwrapped(anyio.run, _qa, args, settings, make_client, sys.stdout)
    except (CompanionError, RulesError, StoreError) as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot use {exc.filename or 'the file'}: {exc.strerror or exc}.")
    except KeyboardInterrupt:
        return _error("interrupted.")


def out_problem(path: Path) -> str | None:
    """Why the report cannot be written to ``path``, or None when it can (a stream needs no folder)."""
    try:
        if path.is_dir():
            return f"--out {path} is a folder: give a file name in it, e.g. --out {path / 'qa-report.html'}."
        if writes_in_place(path):
            return None
        folder = replaced_path(path).parent  # through a symbolic link: where the report really goes
    except OSError as exc:  # a loop of links, a folder that cannot be searched
        return f"cannot write the report to {path}: {exc.strerror or exc}; pass another --out."
    if not folder.is_dir():
        return (
            f"cannot write the report to {path}: the folder {folder} does not exist; create it or pass another --out."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write the report to {path}: the folder {folder} is not writable; pass another --out."
    return None


def run_unwrapped(call: Callable[..., int], *args: Any) -> int:
    """``call(*args)``, raising the one exception of a task group's group as itself, so it gets its message."""
    try:
        return call(*args)
    except BaseExceptionGroup as group:
        inner: BaseException = group
        while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
            inner = inner.exceptions[0]
        raise inner from None


def _error(message: str) -> int:
    print(f"session-mcp: {message}", file=sys.stderr)
    return 2


async def _qa(args: argparse.Namespace, settings: Settings, make_client: ClientFactory, out: TextIO) -> int:
    rules_file = args.rules or settings.qa_rules  # --rules, else SESSION_MCP_QA_RULES / --qa-rules
    rules = load_rules(rules_file) if rules_file else RuleSet()
    path = review_store(args, settings)
    limit = args.limit if args.limit is not None or path is not None else MAX_REVIEW
    if path is None and limit > MAX_REVIEW:
        raise StoreError(
            f"--limit {limit}: without a session store a review takes at most {MAX_REVIEW} sessions; drop "
            "--no-store (or give --store PATH) to review more"
        )
    selection = selection_of(args, limit=limit, max_scan=settings.max_scan)
    progress = Progress(sys.stderr)

    async def report_progress(done: int, total: int) -> None:
        progress.update(done, total)

    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(make_client(settings))
        store = None
        if path is not None:
            try:
                if args.cache_dir is not None:  # a folder made for transcripts, as the disk cache's was: kept private
                    private_folder(args.cache_dir, instead="pass another --cache-dir, or --no-store")
                store = await stack.enter_async_context(opened_store(path, client))
            except StoreError as exc:  # another user's store, a link: no reason to fail a review
                print(f"session-mcp: {exc}; going on without the store.", file=sys.stderr)
        select_from = await caught_up(client, store, selection, settings) if store is not None else None
        verdicts = await read_verdicts(store, rules)  # a disputed finding is not counted
        review = await run_review(
            client,
            selection,
            rules,
            redactor(settings.redact_pii),
            store=store,
            select_from=select_from,
            on_progress=report_progress,
            verdicts=verdicts,
            reads=reads(args.format, scored=bool(rules.scorecards.cards)),
        )
    progress.finish()
    parts = WRITERS[args.format](review.report)  # read back from the review's spool a session at a time
    if args.out is None:
        out.writelines(parts)
    else:
        write_file(args.out, (part.encode() for part in parts))
    if args.out is not None or args.format != "text":
        print(summary(review, args.out), file=sys.stderr)
    if not review.report.scan_complete:
        print(f"session-mcp: {widen(settings, store is not None)}", file=sys.stderr)
        return 1
    return exit_status(review.report, args.fail_on)


async def caught_up(
    client: CompanionClient, store: SessionStore, selection: Selection, settings: Settings
) -> SessionStore | None:
    """``store`` brought up to date for the review's window (a catch-up, or a sync back to the window's
    start), when it may choose the sessions; ``None``: the API's list chooses them, as without a store."""
    progress = Progress(sys.stderr)

    async def synced(done: int, total: int, _: str) -> None:
        progress.update(done, total)

    gate = StoreGate(retain_days=settings.retain_days, clock=time.time)
    start = selection.window.start.timestamp() if selection.window.start else None
    fresh = await gate.ready(client, store, start, on_progress=synced)
    progress.finish()
    return store if fresh is not None else None


def review_store(args: argparse.Namespace, settings: Settings) -> StoreLocation | None:
    """The store the review reads through, or None; ``--cache-dir`` (deprecated) names its folder."""
    if args.no_cache:
        return None
    if args.cache_dir is not None:
        store: Path = args.cache_dir / "store.sqlite3"
        print(f"session-mcp: --cache-dir is deprecated: use --store {store}", file=sys.stderr)
        return store
    return settings.store_path(os.environ)


def widen(settings: Settings, stored: bool) -> str:
    """Why the review missed older sessions, and how to reach them."""
    how = "sync the store further back (session-mcp sync --since ...)" if stored else "use a store (drop --no-store)"
    return (
        f"the scan bound ({settings.max_scan:,} list rows) stopped before the window's start: older sessions were not "
        f"reviewed. Raise SESSION_MCP_MAX_SCAN, narrow --since/--until, or {how}."
    )


def exit_status(report: QAReport, fail_on: Severity | None) -> int:
    if fail_on is None:
        return 0
    return 1 if report.reaches(fail_on) or report.unread else 0


def summary(review: Review, out: Path | None) -> str:
    """The line on stderr once a report is written: what was reviewed, found and where it went."""
    report = review.report
    counts = ", ".join(f"{report.by_severity[s]} {s}" for s in reversed(SEVERITIES))
    line = (
        f"Reviewed {plural(report.reviewed, 'session')}{window_text(report)}: {report.flagged} flagged ({counts}); "
        f"{review.fetched} read from the API, {review.from_store} from the store, {review.kept} reviewed before "
        "under the same rules."
    )
    pacer = review.pacer
    if pacer is not None and review.fetched:
        halved = (
            f", halved {plural(len(pacer.decreases), 'time')} (first: {pacer.decreases[0]})" if pacer.decreases else ""
        )
        line += f" At most {plural(pacer.peak, 'request')} in flight{halved}."
    if report.unread and not report.reviewed:
        first = one_line(report.unread[0].reason, 200)
        line += f" Nothing could be read: all {len(report.unread)} failed (the first: {first}); nothing was reviewed."
    elif report.unread:
        line += f" {len(report.unread)} could not be read."
    if report.limit_hit:
        line += " More sessions matched than --limit: the newest were reviewed."
    if not report.scan_complete:
        line += " The scan bound stopped before the window's start: older sessions were not reviewed."
    return line + (f" Report: {out}" if out else "")


# -- session-mcp qa annotate: a reviewer's verdict, kept in the store ---------------------------------


def add_annotate_command(qa: argparse.ArgumentParser, shared: Callable[[argparse.ArgumentParser], None]) -> None:
    """``qa annotate``: confirm or dispute a finding, or note a session; ``shared`` adds connection and store flags."""
    actions = qa.add_subparsers(dest="qa_action", metavar="ACTION")
    annotate = actions.add_parser(
        "annotate",
        help="confirm or dispute a finding, or note a session (kept in the local store)",
        description="Keep a reviewer's verdict on a QA finding, or a note on a session, in the session store "
        "(the Companion API has no endpoint for it). Later reviews with the same rules show a disputed finding as "
        "disputed and do not count it; --fail-on ignores it. Exit status: 0 kept, 2 on an error.",
    )
    shared(annotate)
    annotate.add_argument("session_id", help="the session, as the report shows it")
    kind = annotate.add_mutually_exclusive_group(required=True)
    kind.add_argument("--confirm", metavar="CHECK", help="confirm the finding of this check")
    kind.add_argument("--dispute", metavar="CHECK", help="dispute the finding of this check")
    kind.add_argument("--note", metavar="TEXT", help="a note on the session")
    annotate.add_argument(
        "--turn", type=whole_number(0), help="the finding's turn as the report shows it (none: whole session)"
    )
    annotate.add_argument("--reviewer", required=True, help="who gives the verdict, e.g. --reviewer ana")
    annotate.add_argument("--comment", default="", help="why (with --confirm or --dispute)")
    annotate.add_argument("--rules", type=Path, help="the rules file of the review (else --qa-rules)")


def run_annotate_command(args: argparse.Namespace, settings: Settings, make_client: ClientFactory) -> int:
    """Run ``qa annotate``; every error is one line on stderr and exit status 2."""
    try:
        return run_unwrapped(anyio.run, _annotate, args, settings, make_client)
    except (CompanionError, RulesError, StoreError, AnnotationError) as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        return _error("interrupted.")


async def _annotate(args: argparse.Namespace, settings: Settings, make_client: ClientFactory) -> int:
    rules_file = args.rules or settings.qa_rules
    rules = load_rules(rules_file) if rules_file else RuleSet()
    kind: Kind = "confirm" if args.confirm else "dispute" if args.dispute else "note"
    async with make_client(settings) as client, opened_store(store_path(settings), client) as store:
        result = await annotate(
            client,
            store,
            rules,
            redactor(settings.redact_pii),
            session_id=args.session_id,
            kind=kind,
            reviewer=args.reviewer,
            check=args.confirm or args.dispute,
            turn_index=args.turn,
            text=args.note if kind == "note" else args.comment,
        )
    print(result.message)
    return 0


async def read_verdicts(store: SessionStore | None, rules: RuleSet) -> Verdicts:
    """Reviewers' verdicts under ``rules`` for this key, from the store when there is one.

    A store that cannot be read (busy, damaged) is no reason to fail a review: one line on stderr
    says the verdicts were left out.
    """
    try:
        return await load_verdicts(store, rules)
    except StoreError as exc:
        print(f"session-mcp: {exc}; reviewing without reviewers' verdicts.", file=sys.stderr)
        return Verdicts()
