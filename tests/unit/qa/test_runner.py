"""The review engine with a session store: a closed session is read and checked once per rules, an
open one every time, requests counted at a loopback stand-in of the API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.companion.client import CompanionClient
from session_mcp.companion.models import SessionDetail
from session_mcp.qa import runner
from session_mcp.qa.rules import RuleSet, parse_rules
from session_mcp.qa.runner import Review, blocks, run_review, stored_ids, to_read
from session_mcp.qa.stored import fingerprint
from session_mcp.qa.verdicts import Verdicts
from session_mcp.qa.writers import FORMATS, WRITERS, reads
from session_mcp.sessions.redact import redactor
from session_mcp.sessions.select import Selection, select
from session_mcp.simulator import Simulator, serve_in_thread
from session_mcp.store.base import Annotation
from session_mcp.store.sqlite import SqliteStore
from tests.helpers import ANCHOR
from tests.unit.qa.helpers import SCORED_RULES
from tests.unit.qa.kept import Kept, decode
from tests.upstream import LIST_PATH, HostileUpstream, session

pytestmark = pytest.mark.anyio

CLOSED = [
    session(
        f"sess_{i}",
        "Hi, I need a human please.",
        "The card on file is 4111 1111 1111 1111.",
        startedAt=1_790_000_000 + i,
    )
    for i in range(6)
]
OPEN = session("sess_open", "Hello?", status="started", closedAt=None, startedAt=1_790_000_100)


@pytest.fixture
def upstream() -> Iterator[tuple[HostileUpstream, str]]:
    fake = HostileUpstream()
    fake.clear()
    fake.add(*CLOSED, OPEN)
    with serve_in_thread(fake) as url:
        yield fake, url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "s.sqlite3")
    yield opened
    opened.close()


DEFAULT_RULES = RuleSet()


async def review(url: str, store: SqliteStore | None, rules: RuleSet = DEFAULT_RULES) -> Review:
    async with CompanionClient("key", url) as client:
        tenant = store.for_tenant(client.fingerprint) if store is not None else None
        return await run_review(client, Selection(limit=100), rules, redactor(False), store=tenant)


def detail_requests(fake: HostileUpstream) -> list[str]:
    asked = [path.removeprefix(LIST_PATH + "/") for path in fake.paths if path != LIST_PATH]
    fake.paths.clear()
    return asked


async def test_a_second_review_reads_and_checks_only_the_open_session(
    upstream: tuple[HostileUpstream, str], store: SqliteStore
) -> None:
    fake, url = upstream
    first = await review(url, store)
    assert sorted(detail_requests(fake)) == sorted([s["id"] for s in CLOSED] + ["sess_open"])
    second = await review(url, store)
    assert detail_requests(fake) == ["sess_open"]  # no detail request for a closed session
    assert (second.kept, second.from_store, second.fetched) == (len(CLOSED), 0, 1)
    assert second.report.model_dump(exclude={"generated_at"}) == first.report.model_dump(exclude={"generated_at"})
    assert first.report.flagged == len(CLOSED)  # the open one said nothing to flag
    rules = parse_rules("[checks.escalation_request]\nenabled = false\n")
    third = await review(url, store, rules)
    assert detail_requests(fake) == ["sess_open"]  # other rules: checked again, from the stored transcripts
    assert (third.kept, third.from_store, third.fetched) == (0, len(CLOSED), 1)
    assert "escalation_request" not in {f.check for s in third.report.sessions for f in s.findings}
    assert (await review(url, store, rules)).kept == len(CLOSED)


async def test_findings_kept_in_the_first_format_are_read_not_checked_again(
    upstream: tuple[HostileUpstream, str], store: SqliteStore
) -> None:
    fake, url = upstream
    first = await review(url, store)
    async with CompanionClient("key", url) as client:
        tenant = store.for_tenant(client.fingerprint)
    key = fingerprint(DEFAULT_RULES, redacted=False)
    kept = await tenant.get_findings(key, [s["id"] for s in CLOSED])
    old = {i: decode(i, text, json.dumps({"id": i})) for i, (text, _) in kept.items()}  # the row's copy: never read
    await tenant.put_findings(key, [(i, first_format(k)) for i, k in old.items()])  # as a store of 2b1d103 holds them
    detail_requests(fake)
    again = await review(url, store)
    assert detail_requests(fake) == ["sess_open"] and again.kept == len(CLOSED)
    assert again.report.model_dump(exclude={"generated_at"}) == first.report.model_dump(exclude={"generated_at"})


def first_format(kept: Kept) -> str:
    """A record as the first format wrote it: every field by name, with a copy of the list row."""
    outcome = kept.outcome.model_dump(mode="json") if kept.outcome is not None else None
    findings = [f.model_dump(mode="json") for f in kept.findings]
    context = None if kept.context is None else [t.model_dump(mode="json") for t in kept.context]
    record = {"session": json.loads(kept.row), "findings": findings, "outcome": outcome, "context": context}
    return json.dumps(record, separators=(",", ":"))


async def test_redacted_evidence_is_kept_apart_from_the_plain(
    upstream: tuple[HostileUpstream, str], store: SqliteStore
) -> None:
    _, url = upstream
    await review(url, store)
    async with CompanionClient("key", url) as client:
        redacted = await run_review(
            client, Selection(limit=100), RuleSet(), redactor(True), store=store.for_tenant(client.fingerprint)
        )
    assert redacted.kept == 0  # evidence quoted redacted is not the evidence quoted plain
    evidence = [f.evidence for s in redacted.report.sessions for f in s.findings if f.check == "pii_exposed"]
    assert evidence and all("4111" not in e for e in evidence)


async def test_without_a_store_every_session_is_read_every_time(upstream: tuple[HostileUpstream, str]) -> None:
    fake, url = upstream
    for _ in range(2):
        assert (await review(url, None)).fetched == len(CLOSED) + 1
        assert len(detail_requests(fake)) == len(CLOSED) + 1


async def test_the_store_chooses_the_sessions_as_ids_as_select_does(
    upstream: tuple[HostileUpstream, str], store: SqliteStore
) -> None:
    _, url = upstream
    await review(url, store)  # the closed sessions stored
    async with CompanionClient("key", url) as client:
        tenant = store.for_tenant(client.fingerprint)
        for limit in (None, 3, 4, 5, 8, 100):
            chosen = await select(client, Selection(limit=limit), store=tenant)
            assert await stored_ids(tenant, Selection(limit=limit)) == (chosen.ids, chosen.more_match)
            assert len(chosen.ids) == min(limit or len(CLOSED), len(CLOSED))
        done = await run_review(
            client, Selection(limit=5), DEFAULT_RULES, redactor(False), store=tenant, select_from=tenant
        )
        newest = await select(client, Selection(limit=5), store=tenant)
    assert [session_id for session_id, _, _ in done.report.rows()] == newest.ids
    assert done.report.limit_hit and done.scan is None and done.kept == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text("abc", min_size=1, max_size=3), st.booleans()), unique_by=lambda p: p[0]))
def test_a_block_is_cut_where_a_part_has_a_chunk_to_read(block: list[tuple[str, bool]]) -> None:
    ids, kept = [i for i, _ in block], {i for i, was_kept in block if was_kept}
    parts = list(to_read(ids, kept))
    assert [i for part in parts for i in part] == ids and all(parts)  # in order, each once, none empty
    reads = [sum(i not in kept for i in part) for part in parts]
    assert all(n == runner.CHUNK for n in reads[:-1]) and all(n <= runner.CHUNK for n in reads[-1:])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3_000), st.sampled_from([runner.CHUNK, runner.KEPT_CHUNK, 3]))
def test_ids_are_read_in_blocks_the_first_of_a_chunk_at_most(count: int, step: int) -> None:
    """The first block holds the newest sessions (the open ones a re-run reads from the API): small, so their
    transcripts are asked for before a whole block of kept findings is read."""
    ids = [f"s{i}" for i in range(count)]
    parts = list(blocks(ids, step))
    assert [i for part in parts for i in part] == ids and all(parts)  # in order, each once, none empty
    assert not parts or len(parts[0]) == min(count, step, runner.CHUNK)
    assert all(len(part) == step for part in parts[1:-1])


async def test_kept_sessions_are_handed_over_in_blocks_and_the_report_is_the_same(
    upstream: tuple[HostileUpstream, str], store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = upstream
    first = await review(url, store)
    monkeypatch.setattr(runner, "CHUNK", 1)  # the open session read alone, among blocks of kept ones
    monkeypatch.setattr(runner, "KEPT_CHUNK", 3)
    detail_requests(fake)
    second = await review(url, store)
    assert detail_requests(fake) == ["sess_open"] and second.kept == len(CLOSED)
    assert list(second.report.rows()) == list(first.report.rows())
    assert second.report.model_dump(exclude={"generated_at"}) == first.report.model_dump(exclude={"generated_at"})


class HeldOpen(HostileUpstream):
    """Holds the open session's transcript until ``release`` is set (at most ``HOLD`` seconds): whether it was
    set in that time is ``released``."""

    HOLD = 10.0

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.released: bool | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/sess_open") and self.released is None:
            self.released = await anyio.to_thread.run_sync(self.release.wait, self.HOLD)
        await super().__call__(scope, receive, send)


async def test_the_kept_sessions_after_an_open_one_are_read_while_its_transcript_is_coming(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open session is the newest, so the first to report: its transcript from the API held, the kept
    findings of every block after it are read all the same (they were read only once it came), and the
    report is the same."""
    fake = HeldOpen()
    fake.clear()
    fake.add(OPEN, *CLOSED)  # listed first
    with serve_in_thread(fake) as url:
        fake.release.set()
        first = await review(url, store)
        monkeypatch.setattr(runner, "KEPT_CHUNK", 3)  # [open, 5, 4], [3, 2, 1], [0]: three reads of findings
        reads: list[str] = []

        def traced(statement: str) -> None:
            reads.append(statement)
            if sum("FROM findings" in s for s in reads) == 3:
                fake.release.set()

        fake.release.clear()
        fake.released = None
        store.call(lambda conn: conn.set_trace_callback(traced))
        second = await review(url, store)
    assert fake.released is True  # not after HOLD seconds: all three were read while the open one was held
    assert second.kept == len(CLOSED) and second.fetched == 1
    assert list(second.report.rows()) == list(first.report.rows())
    assert second.report.model_dump(exclude={"generated_at"}) == first.report.model_dump(exclude={"generated_at"})


async def test_a_re_run_writes_every_format_byte_for_byte_as_the_first_run(store: SqliteStore) -> None:
    """The demo sessions reviewed under a phrase rule and a scorecard, with a disputed finding and a note:
    the re-run reads every closed session's findings back (and makes no model of them) and writes the same
    bytes in every format as the run that checked them; a session the API gave no time at all among them."""
    rules = parse_rules(SCORED_RULES, "team.toml")
    demo = Simulator(anchor=ANCHOR).sessions_of("demo")[:99]
    closed = next(wire for wire in demo if wire.get("status") == "closed")
    demo.append({**closed, "id": "sess_00000000000000ff", "createdAt": None, "startedAt": None})
    first = next(f for wire in demo for f in rules.review(SessionDetail.model_validate(wire)) if f.turn_index)
    verdicts = Verdicts(
        [
            Annotation(
                first.session_id, "dispute", "ana", ANCHOR, "", first.check, first.turn_index, rules.fingerprint
            ),
            Annotation(first.session_id, "note", "bo", ANCHOR, "Call back on Monday."),
        ],
        rules.fingerprint,
    )
    fake = HostileUpstream()
    fake.clear()
    fake.add(*demo)
    with serve_in_thread(fake) as url:
        async with CompanionClient("key", url) as client:
            tenant = store.for_tenant(client.fingerprint)
            cold, warm = [
                await run_review(
                    client,
                    Selection(limit=100),
                    rules,
                    redactor(False),
                    store=tenant,
                    now=datetime.fromtimestamp(ANCHOR, UTC),
                    verdicts=verdicts,
                )
                for _ in range(2)
            ]
    assert cold.kept == 0 and warm.kept == len(demo) - warm.fetched > 10
    assert warm.report.disputed == 1 and warm.report.mean_score is not None and warm.report.flagged > 10
    assert cold.report.reviewed == warm.report.reviewed == len(demo)  # the timeless one too
    for form in FORMATS:
        assert "".join(WRITERS[form](warm.report)) == "".join(WRITERS[form](cold.report)), form


@pytest.mark.parametrize("text", [SCORED_RULES, ""], ids=["scorecard", "none"])
async def test_a_review_spooling_what_its_format_reads_writes_it_byte_for_byte(store: SqliteStore, text: str) -> None:
    """A review told what its format reads back (no reviewed rows, no turns around findings where the format
    writes neither) writes the same bytes as one spooling everything: checked, and read back from the store."""
    rules = parse_rules(text, "team.toml") if text else RuleSet()
    fake = HostileUpstream()
    fake.clear()
    fake.add(*Simulator(anchor=ANCHOR).sessions_of("demo")[:60])
    now = datetime.fromtimestamp(ANCHOR, UTC)
    with serve_in_thread(fake) as url:
        async with CompanionClient("key", url) as client:
            tenant = store.for_tenant(client.fingerprint)
            whole = await run_review(client, Selection(limit=60), rules, redactor(False), store=tenant, now=now)
            for form in FORMATS:
                told = reads(form, scored=bool(text))
                for kept_in in (tenant, None):  # read back from the store; checked again
                    trimmed = await run_review(
                        client, Selection(limit=60), rules, redactor(False), store=kept_in, now=now, reads=told
                    )
                    assert trimmed.kept == (whole.report.reviewed - trimmed.fetched if kept_in else 0)
                    assert "".join(WRITERS[form](trimmed.report)) == "".join(WRITERS[form](whole.report)), form
    assert whole.report.flagged > 10 and told.context and not told.rows  # the last format, html, reads the turns
