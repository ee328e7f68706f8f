"""A QA review over many sessions: pick them, read them (disk cache first), check them, report.

Shared by the ``session-mcp qa`` command and the ``review_sessions`` tool. The sessions come as
given ids, or from the newest-first scan a ``Selection`` describes (``session_mcp.sessions.select``:
filters, window, client-side criteria, a limit); their transcripts are read in chunks of
``CHUNK``: closed sessions from the disk cache when it has them, the rest from the API with an
adaptive number of requests in flight, and the closed ones among those stored for the next run.
A chunk is checked (in a worker thread) while the next one is read, then dropped: memory holds
two chunks of transcripts and the findings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import anyio

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.disk_cache import DiskCache
from session_mcp.companion.models import SessionDetail
from session_mcp.qa.report import QAReport, ReportBuilder
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.verdicts import Verdicts
from session_mcp.sessions.criteria import Scan
from session_mcp.sessions.fetch import Failure, fetch_sessions
from session_mcp.sessions.outcome import outcome_of
from session_mcp.sessions.pacing import AdaptiveLimiter
from session_mcp.sessions.redact import Redactor
from session_mcp.sessions.select import Selection, select
from session_mcp.sessions.window import Window

CHUNK = 128
MAX_REVIEW = 1_000

Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class _Chunk:
    """Sessions read together, handed from the reader to the checks."""

    ids: list[str]
    sessions: dict[str, SessionDetail]
    failures: list[Failure]


@dataclass
class Review:
    """A finished review: the report, and how its sessions were found and read."""

    report: QAReport
    scan: Scan | None  # None when the sessions were given by id
    from_disk: int = 0  # transcripts served by the disk cache
    fetched: int = 0  # transcripts read from the API
    pacer: AdaptiveLimiter | None = None


async def run_review(
    client: CompanionClient,
    selection: Selection,
    rules: RuleSet,
    shown: Redactor,
    *,
    disk: DiskCache | None = None,
    memory_cache: bool = False,
    pacer: AdaptiveLimiter | None = None,
    on_progress: Progress | None = None,
    now: datetime | None = None,
    verdicts: Verdicts | None = None,
) -> Review:
    """Review the selected sessions; ``CompanionError`` when the list itself cannot be read.

    ``memory_cache`` reads and fills the client's session cache (bounded: a server's repeated
    reviews then re-read only what may still change); off, a one-pass run leaves it alone.
    """
    pacer = pacer or AdaptiveLimiter()
    # The plain list is scanned too: the newest by start time, and the report says how far it read.
    selected = await select(client, replace(selection, always_scan=True))
    scan = selected.scan
    ids = list(dict.fromkeys(selected.ids))  # a session given twice is reviewed once
    builder = ReportBuilder.of(rules, verdicts)  # reviewers' verdicts under these rules mark their findings
    read = {"disk": 0, "api": 0}
    send, receive = anyio.create_memory_object_stream[_Chunk](1)

    async def read_chunks() -> None:
        async with send:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                cached = await anyio.to_thread.run_sync(disk.get_many, chunk) if disk else {}
                missing = [session_id for session_id in chunk if session_id not in cached]
                fetched, failures = await fetch_sessions(
                    client, missing, concurrency=pacer.maximum, use_cache=memory_cache, pacer=pacer.slot
                )
                if disk and fetched:
                    await anyio.to_thread.run_sync(disk.put_many, fetched)
                read["disk"] += len(cached)
                read["api"] += len(fetched)
                await send.send(_Chunk(chunk, {**cached, **{s.id: s for s in fetched}}, failures))

    def check(chunk: _Chunk) -> None:
        for session_id in chunk.ids:
            session = chunk.sessions.get(session_id)
            if session is not None:
                as_shown = shown(session)  # the outcome's quote, like the findings', from the text as shown
                builder.add(session, rules.review(session, as_shown), shown=as_shown, outcome=outcome_of(as_shown))
        for failure in chunk.failures:
            builder.add_failure(failure)

    async with anyio.create_task_group() as group:
        group.start_soon(read_chunks)  # reads the next chunk while this one is checked
        done = 0
        async with receive:
            async for chunk in receive:
                await anyio.to_thread.run_sync(check, chunk)
                done += len(chunk.ids)
                if on_progress is not None:
                    await on_progress(done, len(ids))
    report = builder.build(
        window=selection.window if scan is not None else Window(),
        scanned=scan.scanned if scan is not None else None,
        limit_hit=scan is not None and scan.more_match,
        scan_complete=scan is None or not scan.bound_hit,
        now=now or datetime.now(UTC),
    )
    return Review(report=report, scan=scan, from_disk=read["disk"], fetched=read["api"], pacer=pacer)
