"""A QA review over many sessions: pick them, read them (the store first), check them, report.

Shared by the ``session-mcp qa`` command and the ``review_sessions`` tool. The sessions come as
given ids, or from the newest-first scan a ``Selection`` describes (``session_mcp.sessions.select``:
filters, window, client-side criteria, a limit), or from a store caught up for it, as ids
only (``stored_ids``); they are handled in chunks of ``CHUNK``. With a
session store, a closed session checked before under the same rules (``qa.stored.fingerprint``)
costs neither a check nor a read: its findings and summary are read back. The others' transcripts
come from the store when it holds them, else from the API with an adaptive number of requests in
flight, and the closed ones among those are stored, with their findings once checked. A chunk is
checked (in a worker thread) while the next one is read, then dropped: memory holds two chunks of
transcripts and what the report keeps (counts and the worst sessions; the rest is spooled to disk).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Container, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectSendStream

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.models import SessionDetail
from session_mcp.qa.context import context_of
from session_mcp.qa.report import QAReport, Reads, ReportBuilder
from session_mcp.qa.rules import RuleSet
from session_mcp.qa.stored import Told, encode, fingerprint, told
from session_mcp.qa.verdicts import Verdicts
from session_mcp.sessions.criteria import Scan
from session_mcp.sessions.fetch import Failure, fetch_sessions
from session_mcp.sessions.keep import put_closed
from session_mcp.sessions.outcome import outcome_of
from session_mcp.sessions.pacing import AdaptiveLimiter
from session_mcp.sessions.redact import Redactor, redactor
from session_mcp.sessions.select import Selection, answerable, select
from session_mcp.sessions.window import Window
from session_mcp.store.base import Listed, SessionStore

CHUNK = 128  # sessions whose transcripts are read (and checked) together
KEPT_CHUNK = 1_024  # with a store: the sessions whose kept findings are looked up together
MAX_REVIEW = 1_000

Progress = Callable[[int, int], Awaitable[None]]


@dataclass
class _Chunk:
    """Sessions read together, handed from the reader to the checks; its transcripts may still be coming
    (``read`` is set once they are: what was kept of it is told meanwhile)."""

    ids: list[str]
    kept: dict[str, tuple[str, Listed]]  # findings kept under these rules, row, by id
    read: anyio.Event = field(default_factory=anyio.Event)
    sessions: dict[str, SessionDetail] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)


@dataclass
class Review:
    """A finished review: the report, and how its sessions were found and read."""

    report: QAReport
    scan: Scan | None  # None when the sessions were given by id
    from_store: int = 0  # transcripts read from the store
    fetched: int = 0  # transcripts read from the API
    kept: int = 0  # sessions whose findings were read back from the store: neither read nor checked
    pacer: AdaptiveLimiter | None = None


async def run_review(
    client: CompanionClient,
    selection: Selection,
    rules: RuleSet,
    shown: Redactor,
    *,
    store: SessionStore | None = None,
    select_from: SessionStore | None = None,
    memory_cache: bool = False,
    pacer: AdaptiveLimiter | None = None,
    on_progress: Progress | None = None,
    now: datetime | None = None,
    verdicts: Verdicts | None = None,
    reads: Reads | None = None,
) -> Review:
    """Review the selected sessions; ``CompanionError`` when the list itself cannot be read.

    ``memory_cache`` reads and fills the client's session cache (bounded: a server's repeated
    reviews then re-read only what may still change); off, a one-pass run leaves it alone.
    ``store`` keeps transcripts and findings; ``select_from``, a store the caller caught up for the
    selection (``StoreGate.ready``), chooses the sessions instead of the API's list. ``reads``: what of
    each session the report's writer reads back (all unless said).
    """
    pacer = pacer or AdaptiveLimiter()
    ids, scan, more_match = await choose(client, selection, select_from)
    builder = ReportBuilder.of(rules, verdicts, reads)  # reviewers' verdicts under these rules mark their findings
    rules_key = fingerprint(rules, redacted=shown is not redactor(False))
    reader = _Reader(client, store, rules_key, pacer, memory_cache)
    send, receive = anyio.create_memory_object_stream[_Chunk](1)

    def tell(chunk: _Chunk) -> dict[str, Told]:
        """What the chunk's kept sessions say (``told``), ready for the report in any order."""
        return {i: told(i, *chunk.kept[i], context=builder.reads.context) for i in chunk.ids if i in chunk.kept}

    def check(chunk: _Chunk, said: dict[str, Told] | None) -> list[tuple[str, str]]:
        """Add the chunk to the report (its kept sessions as ``said``, told here when not yet); what to
        keep: each closed session checked now, with its findings."""
        said = tell(chunk) if said is None else said
        checked: list[tuple[str, str]] = []
        for session_id in chunk.ids:
            if session_id in said:  # kept: no model of it made
                builder.add_told(*said[session_id])
            elif (session := chunk.sessions.get(session_id)) is not None:
                as_shown = shown(session)  # the outcome's quote, like the findings', from the text as shown
                findings = rules.review(session, as_shown)
                outcome, context = outcome_of(as_shown), context_of(as_shown, findings)
                builder.add(session, findings, outcome=outcome, context=context)
                if store is not None and session.is_closed:
                    checked.append((session.id, encode(findings, outcome, context)))
        for failure in chunk.failures:
            builder.add_failure(failure)
        return checked

    async with anyio.create_task_group() as group:
        group.start_soon(reader.chunks, ids, send, group)  # reads the next chunk while this one is checked
        done = 0
        async with receive:
            async for chunk in receive:
                said = None
                if not chunk.read.is_set():  # its transcripts still coming: what was kept of it is told meanwhile
                    said = await anyio.to_thread.run_sync(tell, chunk) if chunk.kept else {}
                    await chunk.read.wait()
                checked = await anyio.to_thread.run_sync(check, chunk, said)
                if store is not None and checked:
                    await store.put_findings(rules_key, checked)
                done += len(chunk.ids)
                if on_progress is not None:
                    await on_progress(done, len(ids))
    report = builder.build(
        window=selection.window if scan is not None or stored(selection, select_from) else Window(),
        scanned=scan.scanned if scan is not None else None,
        limit_hit=more_match,
        scan_complete=scan is None or not scan.bound_hit,
        now=now or datetime.now(UTC),
    )
    read = reader.read
    return Review(report, scan, from_store=read["store"], fetched=read["api"], kept=read["kept"], pacer=pacer)


@dataclass
class _Reader:
    """Hands a review's chunks to the checks in order, each as soon as its kept findings are read: its
    transcripts are read meanwhile (the store's, then the API's; a chunk's at a time, as the pacer paces
    them), so the open sessions a re-run reads from the API first do not hold up the kept ones after them."""

    client: CompanionClient
    store: SessionStore | None
    rules_key: str
    pacer: AdaptiveLimiter
    memory_cache: bool
    read: Counter[str] = field(default_factory=Counter)  # sessions kept, read from the store, from the API

    async def chunks(self, ids: list[str], send: MemoryObjectSendStream[_Chunk], group: TaskGroup) -> None:
        async with send:
            store, step = self.store, KEPT_CHUNK if self.store else CHUNK
            reading: anyio.Event | None = None  # set once the last chunk with transcripts to read has them
            for block in blocks(ids, step):
                kept = await store.get_findings(self.rules_key, block) if store else {}
                for part in to_read(block, kept):
                    chunk = _Chunk(part, {i: kept[i] for i in part if i in kept})
                    self.read.update(kept=len(chunk.kept))
                    if len(chunk.kept) == len(part):
                        chunk.read.set()  # nothing to read
                    else:
                        if reading is not None:
                            await reading.wait()
                        group.start_soon(self.read_chunk, chunk)
                        reading = chunk.read
                    await send.send(chunk)

    async def read_chunk(self, chunk: _Chunk) -> None:
        """The chunk's transcripts that were not kept: from the store, else from the API (the closed ones stored)."""
        store, kept = self.store, chunk.kept
        stored = await store.get_sessions([i for i in chunk.ids if i not in kept]) if store else {}
        missing = [i for i in chunk.ids if i not in kept and i not in stored]
        fetched, failures = await fetch_sessions(
            self.client,
            missing,
            concurrency=self.pacer.maximum,
            use_cache=self.memory_cache,
            pacer=self.pacer.slot,
        )
        if store:
            await put_closed(store, [s for s in fetched if s.is_closed])
        self.read.update(store=len(stored), api=len(fetched))
        chunk.sessions.update({**stored, **{s.id: s for s in fetched}})
        chunk.failures.extend(failures)
        chunk.read.set()


def blocks(ids: list[str], step: int) -> Iterator[list[str]]:
    """``ids`` in order, in blocks of ``step``; the first of at most ``CHUNK``: the newest sessions, the open ones
    among them, whose transcripts a re-run asks the API for, are asked for as soon as it is read (reading a block
    of ``KEPT_CHUNK`` kept findings first took longer than one chunk's requests take to start)."""
    start = 0
    while start < len(ids):
        size = min(step, CHUNK) if start == 0 else step
        yield ids[start : start + size]
        start += size


def to_read(block: list[str], kept: Container[str]) -> Iterator[list[str]]:
    """``block`` in order, cut where a part has ``CHUNK`` sessions to read (not in ``kept``): sessions whose
    findings were kept cost neither a read nor a check, so a re-run hands them over a thousand at a time."""
    part: list[str] = []
    reads = 0
    for session_id in block:
        part.append(session_id)
        reads += session_id not in kept
        if reads == CHUNK:
            yield part
            part, reads = [], 0
    if part:
        yield part


async def choose(
    client: CompanionClient, selection: Selection, select_from: SessionStore | None
) -> tuple[list[str], Scan | None, bool]:
    """The ids to review, each once; the scan of the list that found them (none from the store or given
    ids); whether more sessions matched than the limit."""
    if select_from is not None and stored(selection, select_from):
        ids, more_match = await stored_ids(select_from, selection)
        return ids, None, more_match
    # The plain list is scanned too: the newest by start time, and the report says how far it read.
    selected = await select(client, replace(selection, always_scan=True))
    return list(dict.fromkeys(selected.ids)), selected.scan, selected.more_match  # a session given twice: once


def stored(selection: Selection, select_from: SessionStore | None) -> bool:
    """Whether the store chooses the sessions (caught up, and the selection is one it can answer)."""
    return select_from is not None and answerable(selection)


async def stored_ids(store: SessionStore, selection: Selection) -> tuple[list[str], bool]:
    """The sessions ``select`` chooses from ``store``, newest first, as ids (the list rows of 50,000
    sessions would take about 100 MB, and validating them only to take their ids cost a third of a
    re-run); and whether more matched than the selection's limit."""
    ids, total = await store.query_ids(replace(selection.stored_query(None), limit=selection.limit))
    return ids, total > len(ids)
