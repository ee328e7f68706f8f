"""``session-mcp sessions list|show|export``: the QA commands, driven for real.

Most tests call ``session_mcp.cli.main.main`` in process (it runs its own event loop, so the tests are
sync) against the simulator served over real HTTP by ``conftest``; what needs a real process (the
exit code, what reaches stderr, ``--demo`` without a key) runs ``python -m session_mcp``. Expected
results are always worked out from the simulator's raw data, never from the code under test.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.cli.main import main
from session_mcp.companion.models import MAX_PAGE_SIZE
from session_mcp.errors import InvalidInputError
from session_mcp.render.common import plural
from session_mcp.sessions.export import exported_so_far
from session_mcp.simulator import Simulator, serve_in_thread
from session_mcp.simulator.app import DETAIL_ONLY
from tests.helpers import (
    ADVERSARIAL,
    DEMO_CLIENT_ID,
    assert_one_clear_error,
    clean_environment,
    listed_ids,
    run_main,
    run_process,
    started_in,
)
from tests.upstream import LIST_PATH, Answer, HostileUpstream
from tests.upstream import session as upstream_session

Wire = dict[str, Any]
Run = Callable[..., tuple[str, str]]

# The column header: a "turns" column only shows up when some counts are known, never here.
COLUMNS = re.compile(r"^id \| companion \| client \| started \(UTC\) \| duration \| (turns \| )?status \| tags$")
TURN_LINE = re.compile(r"^\[(?:\d+:)?\d{2}:\d{2}\] (Agent|User): ")
EMAIL = re.compile(r"[\w.+-]+@example\.com")
CARDS = ("4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881")


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def raw(simulator: Simulator) -> list[Wire]:
    """The demo project's sessions, newest first, exactly as the API sends them."""
    return simulator.sessions_of("demo")


@pytest.fixture
def cli(base_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli("list", ...)`` runs ``session-mcp sessions list ...`` in process; returns (stdout, stderr)."""
    for name in list(os.environ):
        if name.startswith(("NAPSTER_", "SESSION_MCP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NAPSTER_API_KEY", "demo")
    monkeypatch.setenv("NAPSTER_API_BASE_URL", base_url)
    monkeypatch.setenv("SESSION_MCP_TIMEOUT", "10")

    def run(*args: str, status: int = 0) -> tuple[str, str]:
        capsys.readouterr()
        try:
            main(["sessions", *args])
            exited = 0
        except SystemExit as exc:
            assert isinstance(exc.code, int), f"exit with a message (status 1) instead of a status: {exc.code}"
            exited = exc.code
        assert exited == status
        out, err = capsys.readouterr()
        return out, err

    return run


def turn_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if TURN_LINE.match(line)]


def read_export(path: Path) -> list[Wire]:
    """Every line of an export, parsed; fails on a line that is not a complete JSON object."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), "the export does not end with a complete line"
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert all(isinstance(row, dict) for row in rows)
    return rows


def ids_of(rows: list[Wire]) -> list[str]:
    return [row["id"] for row in rows]


def single_gets(simulator: Simulator) -> list[str]:
    """Raw paths of the single-session GETs the simulator received."""
    return [r.raw_path for r in simulator.requests if r.raw_path.startswith("/public/sessions/")]


def gets_of(sessions: list[Wire]) -> list[str]:
    """The single-session GETs that read ``sessions``, sorted."""
    return sorted(f"/public/sessions/{s['id']}" for s in sessions)


def still_open(sessions: list[Wire]) -> list[Wire]:
    """The sessions that were not closed (no close time, no final status): a re-run reads them again."""
    return [s for s in sessions if s.get("closedAt") is None and s.get("status") not in ("closed", "failed")]


def summary_item(session: Wire) -> Wire:
    """A session as a list page carries it: no transcript, no function states."""
    return {k: v for k, v in session.items() if k not in DETAIL_ONLY}


def searchable(session: Wire) -> str:
    parts = [session.get("id"), session.get("companionId"), session.get("externalClientId")]
    parts += [f"{k}:{v}" for k, v in (session.get("tags") or {}).items()]
    parts += [item["text"] for item in (session.get("conversation") or {}).get("items", [])]
    return "\n".join(p for p in parts if p).casefold()


def matching(raw: list[Wire], args: list[str]) -> list[Wire]:
    """The sessions the filter flags ``args`` select, worked out independently from the raw data."""
    companion = external = search = None
    tags: dict[str, str] = {}
    flags = iter(args)
    for flag in flags:
        value = next(flags)
        if flag == "--companion-id":
            companion = value
        elif flag == "--external-client-id":
            external = value
        elif flag == "--search":
            search = value.casefold()
        elif flag == "--tag":
            key, _, tag_value = value.partition("=")
            tags[key] = tag_value
        else:
            raise AssertionError(flag)
    return [
        s
        for s in raw
        if (companion is None or s.get("companionId") == companion)
        and (external is None or s.get("externalClientId") == external)
        and all((s.get("tags") or {}).get(k) == v for k, v in tags.items())
        and (search is None or search in searchable(s))
    ]


def emails_in(session: Wire) -> set[str]:
    return {m for item in (session.get("conversation") or {}).get("items", []) for m in EMAIL.findall(item["text"])}


def first(raw: list[Wire], predicate: Callable[[Wire], bool]) -> Wire:
    return next(s for s in raw if predicate(s))


def all_ints(value: Any, path: str = "") -> Iterator[str]:
    """Paths of every float that holds an integral value: a timestamp turned into a float."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from all_ints(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from all_ints(item, f"{path}[{index}]")
    elif isinstance(value, float) and value.is_integer() and value != 0:
        yield path


FILTERS = [
    pytest.param(["--companion-id", "comp_sales"], id="companion"),
    pytest.param(["--external-client-id", DEMO_CLIENT_ID], id="external-client"),
    pytest.param(["--search", "DR. OKAFOR"], id="search-casefold"),
    pytest.param(["--search", "Kaffee"], id="search-transcript"),
    pytest.param(["--tag", "environment=staging"], id="one-tag"),
    pytest.param(["--tag", "environment=staging", "--tag", "channel=web"], id="two-tags"),
    pytest.param(["--companion-id", "comp_support", "--tag", "escalation=suggested"], id="companion-and-tag"),
]


# -- sessions list ---------------------------------------------------------------------------


def test_list_table_has_a_header_one_line_per_session_and_the_next_page(cli: Run, raw: list[Wire]) -> None:
    out, err = cli("list")
    lines = out.splitlines()
    assert re.match(rf"Sessions 1-20 of {len(raw)}\b.*\(page 0\)", lines[0]), lines[0]
    assert COLUMNS.match(lines[1]), lines[1]
    columns = lines[1].split(" | ")
    rows = lines[2:-1]
    assert [row.split(" | ")[0] for row in rows] == [s["id"] for s in raw[:20]]
    for row, session in zip(rows, raw[:20], strict=True):
        cells = row.split(" | ")
        assert len(cells) == len(columns), row
        assert cells[columns.index("companion")] == session["companionId"]
        assert cells[columns.index("client")] == (session.get("externalClientId") or "-")
        assert cells[columns.index("status")].split("/")[0] == session["status"]
    assert lines[-1] == "More: use --page-index 1 and the same filters."
    assert "list_sessions" not in out  # the MCP hint was rewritten for the command line
    assert err == ""


def test_list_next_and_last_pages(cli: Run, raw: list[Wire]) -> None:
    out, _ = cli("list", "--page-index", "1", "--page-size", "100")
    assert listed_ids(out) == [s["id"] for s in raw[100:200]]
    assert re.match(rf"Sessions 101-200 of {len(raw)}\b.*\(page 1\)", out.splitlines()[0]), out
    assert out.splitlines()[-1] == "More: use --page-index 2 and the same filters."

    last = (len(raw) - 1) // 100
    out, _ = cli("list", "--page-index", str(last), "--page-size", "100")
    assert listed_ids(out) == [s["id"] for s in raw[last * 100 :]]
    assert re.match(rf"Sessions {last * 100 + 1}-{len(raw)} of {len(raw)}\b", out.splitlines()[0]), out
    assert out.splitlines()[-1] == "Last page."
    assert "More:" not in out


@pytest.mark.parametrize("args", FILTERS)
def test_list_filters_give_exactly_the_matching_sessions(cli: Run, raw: list[Wire], args: list[str]) -> None:
    expected = [s["id"] for s in matching(raw, args)]
    assert 0 < len(expected) < len(raw), "the filter must select some sessions, not all of them"
    out, _ = cli("list", "--page-size", "100", *args)
    assert listed_ids(out) == expected[:100]
    shown = min(100, len(expected))
    assert re.match(rf"Sessions 1-{shown} of {len(expected)}\b", out.splitlines()[0]), out.splitlines()[0]
    assert out.splitlines()[-1] == (
        "Last page." if len(expected) <= 100 else "More: use --page-index 1 and the same filters."
    )


def test_list_filter_that_matches_nothing(cli: Run, raw: list[Wire]) -> None:
    out, _ = cli("list", "--companion-id", "comp_nobody")
    assert listed_ids(out) == []
    assert "No sessions match" in out
    assert str(len(raw)) in out


def test_list_json_is_the_wire_page(cli: Run, raw: list[Wire]) -> None:
    out, err = cli("list", "--page-size", "30", "--json")
    page = json.loads(out)
    assert page == {
        "items": [summary_item(s) for s in raw[:30]],
        "filteredCount": len(raw),
        "totalCount": len(raw),
        "pageIndex": 0,
        "pageSize": 30,
    }
    assert err == ""
    # camelCase only, and integers stay integers (1 == 1.0 would pass the equality above)
    keys = {key for item in page["items"] for key in item}
    assert {"companionId", "createdAt", "externalClientId", "faqIds"} <= keys
    assert not [key for key in keys if "_" in key]
    assert list(all_ints(page)) == []
    assert all(type(item["createdAt"]) is int for item in page["items"])
    # the pages of the raw data include the awkward cases this is about
    assert any("sentiment" in item for item in page["items"])
    assert any("tags" not in item for item in page["items"])
    assert any(item.get("status") == "pending" for item in page["items"])


def test_list_json_with_filters(cli: Run, raw: list[Wire]) -> None:
    args = ["--tag", "environment=staging", "--tag", "channel=web"]
    expected = matching(raw, args)
    out, _ = cli("list", "--json", "--page-size", "5", *args)
    page = json.loads(out)
    assert page["filteredCount"] == len(expected)
    assert page["items"] == [summary_item(s) for s in expected[:5]]


def test_list_bad_tag_is_a_clean_error(cli: Run, simulator: Simulator) -> None:
    _, err = cli("list", "--tag", "environment", status=2)
    assert err.startswith("session-mcp: --tag takes KEY=VALUE, e.g. --tag channel=web (tag 1 is not")
    assert list(simulator.requests) == []


# -- sessions show ---------------------------------------------------------------------------


def test_show_table_has_a_header_and_every_turn(cli: Run, raw: list[Wire]) -> None:
    session = first(raw, lambda s: s["status"] == "closed" and len(s["conversation"]["items"]) >= 6)
    items = session["conversation"]["items"]
    out, err = cli("show", session["id"])
    lines = out.splitlines()
    assert lines[0].startswith(f"# Session {session['id']} — closed"), lines[0]
    assert f"companion {session['companionId']}" in lines[1]
    assert f"Transcript ({len(items)} turns):" in lines
    turns = turn_lines(out)
    assert len(turns) == len(items)
    for line, item in zip(turns, items, strict=True):
        assert line.split("] ", 1)[1] == f"{item['role'].capitalize()}: {item['text']}"
    assert turns[0].startswith(f"[00:{items[0]['timestamp'] - session['startedAt']:02d}] ")
    assert err == ""


def test_show_prints_the_whole_marathon_transcript(cli: Run, raw: list[Wire]) -> None:
    marathon = max(raw, key=lambda s: len((s.get("conversation") or {}).get("items", [])))
    items = marathon["conversation"]["items"]
    assert len(items) >= 2_000
    out, _ = cli("show", marathon["id"])
    turns = turn_lines(out)
    assert len(turns) == len(items)
    assert f"Transcript ({len(items)} turns):" in out
    assert turns[-1].endswith(items[-1]["text"])
    assert "[cut:" not in out
    assert "get_session_transcript" not in out
    assert turns[-1].startswith("[1:"), turns[-1]  # offsets past an hour read h:mm:ss


def test_show_session_without_transcript(cli: Run, raw: list[Wire]) -> None:
    pending = first(raw, lambda s: "conversation" not in s)
    out, _ = cli("show", pending["id"])
    assert out.startswith(f"# Session {pending['id']} — pending")
    assert "never started" in out
    assert "No transcript" in out
    assert turn_lines(out) == []


@pytest.mark.parametrize(
    "which",
    [
        pytest.param(lambda s: "sentiment" in s, id="unknown-fields"),
        pytest.param(lambda s: "functionStates" in s, id="function-states"),
        pytest.param(lambda s: len((s.get("conversation") or {}).get("items", [])) > 2_000, id="marathon"),
        pytest.param(lambda s: "conversation" not in s, id="pending"),
        pytest.param(lambda s: "tags" not in s, id="no-tags"),
        pytest.param(lambda s: s["status"] == "started", id="open"),
    ],
)
def test_show_json_round_trips_the_session(cli: Run, raw: list[Wire], which: Callable[[Wire], bool]) -> None:
    session = first(raw, which)
    out, _ = cli("show", session["id"], "--json")
    shown = json.loads(out)
    assert shown == session
    assert list(all_ints(shown)) == list(all_ints(session)) == []


def test_show_json_keeps_fields_from_a_future_api(cli: Run, raw: list[Wire]) -> None:
    session = first(raw, lambda s: "sentiment" in s)
    shown = json.loads(cli("show", session["id"], "--json")[0])
    assert shown["sentiment"] == {"overall": "positive", "score": 0.82}
    assert shown["region"] == "eu-west"
    table = cli("show", session["id"])[0]
    assert "other fields:" in table
    assert "sentiment=" in table


def test_show_unknown_id_is_one_clear_line(process_env: dict[str, str], simulator: Simulator) -> None:
    done = run_main("sessions", "show", "sess_0000000000dead", env=process_env)
    line = assert_one_clear_error(done, "sess_0000000000dead")
    assert "404" in line or "No session" in line
    assert single_gets(simulator) == ["/public/sessions/sess_0000000000dead"]


@pytest.mark.parametrize("hostile", ["../x", "..", "a/b", "../../public/sessions", "x?y=1", "x#y", "%2e%2e", "a b"])
def test_show_refuses_a_hostile_id_without_a_request(cli: Run, simulator: Simulator, hostile: str) -> None:
    _, message = cli("show", hostile, status=2)
    assert message.startswith("session-mcp: ")
    assert message.count("\n") == 1 and message.endswith("\n")
    assert "is not a session id" in message
    assert list(simulator.requests) == []


def test_show_hostile_id_in_a_real_process(process_env: dict[str, str], simulator: Simulator) -> None:
    done = run_process("sessions", "show", "../x", env=process_env)
    assert_one_clear_error(done, "'../x'")
    assert list(simulator.requests) == []


# -- sessions export -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "limit"),
    [
        pytest.param([], 25, id="limit"),
        pytest.param([], None, id="everything"),
        pytest.param(["--companion-id", "comp_booking"], None, id="companion"),
        pytest.param(["--tag", "environment=staging", "--tag", "channel=ios"], 500, id="tags-limit-above-matches"),
        pytest.param(["--search", "refund"], 3, id="search-limit"),
        pytest.param(["--external-client-id", DEMO_CLIENT_ID], None, id="external-client"),
    ],
)
def test_export_writes_full_sessions_in_list_order(
    cli: Run, raw: list[Wire], tmp_path: Path, args: list[str], limit: int | None
) -> None:
    matches = matching(raw, args)
    expected = matches if limit is None else matches[:limit]
    assert expected
    out_file = tmp_path / "sessions.jsonl"
    limit_args = [] if limit is None else ["--limit", str(limit)]
    out, err = cli("export", "--out", str(out_file), *args, *limit_args)
    rows = read_export(out_file)
    assert len(rows) == min(limit or len(matches), len(matches))
    assert rows == expected  # each a full session, conversation included, in list order
    assert list(all_ints(rows)) == []
    assert out == f"Exported {plural(len(expected), 'session')} to {out_file}.\n"
    assert err == ""  # stderr is not a terminal: no progress bar


def test_export_everything_includes_the_transcripts(cli: Run, raw: list[Wire], tmp_path: Path) -> None:
    out_file = tmp_path / "all.jsonl"
    cli("export", "--out", str(out_file), "--limit", "60")
    rows = {row["id"]: row for row in read_export(out_file)}
    marathon = max(raw[:60], key=lambda s: len((s.get("conversation") or {}).get("items", [])))
    assert len(rows[marathon["id"]]["conversation"]["items"]) == len(marathon["conversation"]["items"]) > 2_000
    assert sum("conversation" in row for row in rows.values()) == sum("conversation" in s for s in raw[:60])


def test_export_rerun_writes_nothing_and_reports_what_is_there(
    cli: Run, simulator: Simulator, raw: list[Wire], tmp_path: Path
) -> None:
    out_file = tmp_path / "x.jsonl"
    cli("export", "--out", str(out_file), "--limit", "12", "--tag", "environment=production")
    before = out_file.read_bytes()
    assert len(read_export(out_file)) == 12
    simulator.requests.clear()

    out, _ = cli("export", "--out", str(out_file), "--limit", "12", "--tag", "environment=production")
    assert out_file.read_bytes() == before  # the open ones read again are unchanged: the file is left alone
    assert out == f"Exported 0 sessions to {out_file} (12 were already there).\n"
    assert still_open(read_export(out_file))
    assert sorted(single_gets(simulator)) == gets_of(still_open(read_export(out_file)))  # only those fetched again

    out, _ = cli("export", "--out", str(out_file), "--limit", "12", "--tag", "environment=production", "--json")
    assert json.loads(out) == {"file": str(out_file), "written": 0, "already_there": 12, "updated": 0, "failed": []}
    assert out_file.read_bytes() == before


def test_export_resumes_where_a_smaller_run_stopped(
    cli: Run, simulator: Simulator, raw: list[Wire], tmp_path: Path
) -> None:
    out_file = tmp_path / "x.jsonl"
    cli("export", "--out", str(out_file), "--limit", "10")
    assert ids_of(read_export(out_file)) == [s["id"] for s in raw[:10]]
    simulator.requests.clear()

    out, _ = cli("export", "--out", str(out_file), "--limit", "30", "--json")
    rows = read_export(out_file)
    assert len(rows) == 30
    assert len(set(ids_of(rows))) == 30
    assert rows == raw[:30]
    summary = json.loads(out)
    assert (summary["written"], summary["already_there"], summary["failed"]) == (20, 10, [])
    assert sorted(single_gets(simulator)) == gets_of(raw[10:30] + still_open(raw[:10]))


def test_export_rerun_updates_in_place_the_sessions_that_were_still_open(
    cli: Run, simulator: Simulator, tmp_path: Path
) -> None:
    real = tmp_path / "exports" / "x.jsonl"
    real.parent.mkdir()
    out_file = tmp_path / "x.jsonl"
    out_file.symlink_to(real)  # written through: the target is rewritten, the link kept
    cli("export", "--out", str(out_file), "--limit", "10")
    raw = simulator.sessions_of("demo")
    first = read_export(real)
    assert first == raw[:10] and len(still_open(first)) >= 2
    real.chmod(0o640)
    inode = real.stat().st_ino
    ending, later = still_open(raw[:10])[:2]
    turns = ending["conversation"]["items"]  # the call goes on, then ends, between two runs
    turns.append({**turns[-1], "text": "Is there anything else I can do?", "role": "agent"})
    ending.update(status="closed", closedAt=ending["startedAt"] + 300)

    simulator.requests.clear()
    out, _ = cli("export", "--out", str(out_file), "--limit", "10", "--json")
    assert read_export(real) == raw[:10]  # its line updated where it was, the others as they were
    assert json.loads(out) == {"file": str(out_file), "written": 0, "already_there": 10, "updated": 1, "failed": []}
    assert sorted(single_gets(simulator)) == gets_of(still_open(first))
    assert out_file.readlink() == real and real.stat().st_ino != inode  # one atomic rewrite of the target
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["x.jsonl"]

    later.update(status="failed", closedAt=later.get("startedAt") or later["createdAt"])
    simulator.requests.clear()
    out, _ = cli("export", "--out", str(out_file), "--limit", "12")
    assert out == f"Exported 2 sessions to {out_file} (10 were already there, 1 of them updated).\n"
    assert read_export(real) == raw[:12]
    assert f"/public/sessions/{ending['id']}" not in single_gets(simulator)  # closed when written: done


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(exclude_categories=["Cs"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
EXPORTED = st.fixed_dictionaries(
    {"id": st.text(st.characters(exclude_categories=["Cs"]), max_size=12)},
    optional={"status": JSON, "closedAt": JSON, "conversation": JSON},
)


@settings(ADVERSARIAL, max_examples=150)
@given(rows=st.lists(EXPORTED, max_size=6, unique_by=lambda row: row["id"]))
def test_reading_an_export_back_is_a_result_or_a_clear_error(tmp_path: Path, rows: list[Wire]) -> None:
    """Any status or close time in a line (numbers, NaN, objects...): the line is read, or the file refused."""
    path = tmp_path / "x.jsonl"
    lines = [(json.dumps(row, ensure_ascii=False) + "\n").encode() for row in rows]
    path.write_bytes(b"".join(lines))
    try:
        found = exported_so_far(path, max_line=1 << 20)
    except InvalidInputError as exc:
        assert "not an exported session" in str(exc)
        return
    assert found.ids == {row["id"] for row in rows}
    data = path.read_bytes()
    for session_id, (offset, length) in found.still_open.items():
        assert json.loads(data[offset : offset + length])["id"] == session_id  # exactly its line


class SecondPageFails(HostileUpstream):
    """A list that breaks after its first page, as an API (or a network) can in the middle of a run."""

    broken = True

    def answer_for(self, path: str, query: dict[str, str]) -> Answer:
        if self.broken and path == LIST_PATH and query["pageIndex"] != "0":
            return Answer(b'{"code": "InternalError", "description": "try again"}', 500)
        return super().answer_for(path, query)


def test_an_export_stopped_before_its_update_leaves_the_file_whole_and_resumable(
    cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sessions = [upstream_session(f"sess_{n:03d}", "Hello.", "Hi, how can I help?") for n in range(MAX_PAGE_SIZE + 1)]
    sessions[0].update(status="started", closedAt=None)
    upstream = SecondPageFails()
    upstream.clear()
    upstream.paged = True
    upstream.add(*sessions)
    out_file = tmp_path / "x.jsonl"
    with serve_in_thread(upstream) as url:
        monkeypatch.setenv("NAPSTER_API_BASE_URL", url)
        upstream.broken = False
        cli("export", "--out", str(out_file))
        before = out_file.read_bytes()
        sessions[0]["conversation"]["items"].append(
            {"role": "user", "text": "Thanks, bye.", "timestamp": 1_790_000_009}
        )
        sessions[0].update(status="closed", closedAt=1_790_000_010)
        upstream.broken = True
        _, message = cli("export", "--out", str(out_file), status=2)  # stops at the second page
        assert "500" in message
        assert out_file.read_bytes() == before  # the old file, whole: nothing half rewritten
        upstream.broken = False
        out, _ = cli("export", "--out", str(out_file), "--json")
    assert read_export(out_file) == sessions
    assert json.loads(out)["updated"] == 1


@pytest.mark.parametrize("keep", ["one byte", "half", "all but the newline"])
def test_export_repairs_a_last_line_cut_short(cli: Run, raw: list[Wire], tmp_path: Path, keep: str) -> None:
    out_file = tmp_path / "x.jsonl"
    cli("export", "--out", str(out_file), "--limit", "6")
    complete = out_file.read_bytes()
    lines = complete.splitlines(keepends=True)
    last = lines[-1]
    cut = {"one byte": 1, "half": len(last) // 2, "all but the newline": len(last) - 1}[keep]
    out_file.write_bytes(b"".join(lines[:-1]) + last[:cut])

    out, _ = cli("export", "--out", str(out_file), "--limit", "6", "--json")
    summary = json.loads(out)
    # A cut line is dropped and that session exported again; a whole one only missing its newline is kept.
    expected = (0, 6) if keep == "all but the newline" else (1, 5)
    assert (summary["written"], summary["already_there"]) == expected
    rows = read_export(out_file)
    assert len(set(ids_of(rows))) == len(rows) == 6
    assert out_file.read_bytes() == complete


def test_export_repairs_a_cut_line_inside_a_multibyte_character(cli: Run, raw: list[Wire], tmp_path: Path) -> None:
    out_file = tmp_path / "x.jsonl"
    # export up to the first session whose JSON holds a non-ASCII character, so the last line has one
    count = 1 + next(i for i, s in enumerate(raw) if not json.dumps(s, ensure_ascii=False).isascii())
    cli("export", "--out", str(out_file), "--limit", str(count))
    complete = out_file.read_bytes()
    last_start = complete.rstrip(b"\n").rfind(b"\n") + 1
    multibyte = next(i for i in range(last_start, len(complete)) if complete[i] >= 0xC0)
    out_file.write_bytes(complete[: multibyte + 1])  # half a UTF-8 character at the end

    cli("export", "--out", str(out_file), "--limit", str(count))
    assert out_file.read_bytes() == complete
    assert ids_of(read_export(out_file)) == [s["id"] for s in raw[:count]]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"not json at all\n", id="text"),
        pytest.param(b'{"name": "a config file"}\n', id="json-without-id"),
        pytest.param(b"[1, 2, 3]\n", id="json-array"),
        pytest.param(b'"sess_0000"\n', id="json-string"),
        pytest.param(b"{\n", id="pretty-json-start"),
        pytest.param(b'{"id": "sess_1"}\ngarbage\n', id="export-then-garbage"),
        pytest.param(b'{"id": "sess_1"}\n\n', id="blank-line"),
        pytest.param(b"\xff\xfe\x00binary\n", id="binary"),
    ],
)
def test_export_refuses_a_file_that_is_not_an_export(
    cli: Run, simulator: Simulator, tmp_path: Path, content: bytes
) -> None:
    out_file = tmp_path / "notes.txt"
    out_file.write_bytes(content)
    _, message = cli("export", "--out", str(out_file), "--limit", "3", status=2)
    assert message.startswith("session-mcp: ")
    assert "not an exported session" in message
    assert str(out_file) in message
    assert out_file.read_bytes() == content
    assert list(simulator.requests) == []


def test_export_refusal_in_a_real_process(process_env: dict[str, str], simulator: Simulator, tmp_path: Path) -> None:
    out_file = tmp_path / "notes.txt"
    content = b"my notes\nline two\n"
    out_file.write_bytes(content)
    done = run_process("sessions", "export", "--out", str(out_file), env=process_env)
    assert_one_clear_error(done, "not an exported session")
    assert out_file.read_bytes() == content


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"my notes", id="text"),
        pytest.param(b'[{"a": 1}]', id="compact-json"),
        pytest.param(b"{", id="a-lone-brace"),
        pytest.param(b'{"id": "sess_1", "companionId": "c', id="only-a-cut-line"),
    ],
)
def test_export_never_clobbers_a_one_line_file_without_newline(
    cli: Run, simulator: Simulator, tmp_path: Path, content: bytes
) -> None:
    out_file = tmp_path / "notes.txt"
    out_file.write_bytes(content)
    _, message = cli("export", "--out", str(out_file), "--limit", "2", status=2)
    assert message.startswith("session-mcp: ")
    assert out_file.read_bytes() == content


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"id":"a","v":1}\n{"id":"b","v', id="compact-lines"),
        pytest.param(b'{"v": 1, "id": "a"}\n{"id": "b", "v', id="id-not-first"),
        pytest.param(b'{"id": 7}\n{"id": "b", "v', id="id-not-a-string"),
        pytest.param(b'{"id": "a", "t": "\\u00e9"}\n{"id": "b", "v', id="ascii-escapes"),
        pytest.param(b'{"id": "a"}\n{"id":"b","v":1}\n{"id": "c", "v', id="one-foreign-line-in-the-middle"),
    ],
)
def test_export_refuses_a_foreign_jsonl_whose_last_line_is_cut(
    cli: Run, simulator: Simulator, tmp_path: Path, content: bytes
) -> None:
    """An id on the first line is not enough: only a file written exactly as the export writes is its own."""
    out_file = tmp_path / "theirs.jsonl"
    out_file.write_bytes(content)
    _, message = cli("export", "--out", str(out_file), "--limit", "3", status=2)
    assert "not an exported session" in message
    assert out_file.read_bytes() == content  # not "repaired", nothing appended
    assert list(simulator.requests) == []


@pytest.mark.parametrize("limit", ["0", "-5", "many", "1.5"])
def test_limits_must_be_positive_whole_numbers(
    cli: Run, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    out_file = tmp_path / "x.jsonl"
    for args, bounds in (
        (["export", "--out", str(out_file), "--limit", limit], "of at least 1"),
        (["list", "--page-size", limit], "from 1 to 100"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["sessions", *args])
        assert exited.value.code == 2  # a usage error, not an empty export that exits 0
        assert f"must be a whole number {bounds}, not {limit!r}" in capsys.readouterr().err
    assert not out_file.exists()
    assert list(simulator.requests) == []


def limited_memory() -> None:
    """In the child: at most 1.5 GiB of address space, so a read that never ends fails, not the machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024, 1536 * 1024 * 1024))


def test_export_to_a_device_that_never_ends_a_line_fails_at_once(process_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "session_mcp", "sessions", "export", "--out", "/dev/zero", "--limit", "2"],
        env=process_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, check=False,
        preexec_fn=limited_memory,
    )  # fmt: skip
    assert_one_clear_error(done, "/dev/zero", "not an exported session")


def test_export_to_stdout_into_a_pipe_streams_the_sessions(process_env: dict[str, str], raw: list[Wire]) -> None:
    done = run_process("sessions", "export", "--out", "/dev/stdout", "--limit", "3", env=process_env)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == raw[:3]  # nothing but the sessions
    assert done.stderr == "Exported 3 sessions to /dev/stdout.\n"  # the summary stays out of the stream


def test_export_keeps_going_when_one_session_fails(
    cli: Run, simulator: Simulator, raw: list[Wire], tmp_path: Path
) -> None:
    target = raw[3]["id"]
    simulator.fail_next(500, path_prefix=f"/public/sessions/{target}")
    out_file = tmp_path / "x.jsonl"
    out, _ = cli("export", "--out", str(out_file), "--limit", "8", "--json", status=1)  # incomplete: status 1
    summary = json.loads(out)
    assert summary["written"] == 7
    assert summary["already_there"] == 0
    assert [f["session_id"] for f in summary["failed"]] == [target]
    assert "500" in summary["failed"][0]["reason"]
    assert ids_of(read_export(out_file)) == [s["id"] for s in raw[:8] if s["id"] != target]

    # the next run fetches only the missing one (and those still open when they were written)
    simulator.requests.clear()
    out, _ = cli("export", "--out", str(out_file), "--limit", "8")
    assert out == f"Exported 1 session to {out_file} (7 were already there).\n"
    assert sorted(single_gets(simulator)) == gets_of([raw[3], *still_open(raw[:8])])
    rows = read_export(out_file)
    assert sorted(ids_of(rows)) == sorted(s["id"] for s in raw[:8])
    assert len(set(ids_of(rows))) == 8


def test_export_failure_is_reported_in_the_text_summary(
    cli: Run, simulator: Simulator, raw: list[Wire], tmp_path: Path
) -> None:
    target = raw[1]["id"]
    simulator.fail_next(500, path_prefix=f"/public/sessions/{target}")
    out_file = tmp_path / "x.jsonl"
    out, _ = cli("export", "--out", str(out_file), "--limit", "4", status=1)
    lines = out.splitlines()
    assert lines[0] == f"Exported 3 sessions to {out_file}."
    assert len(lines) == 2
    assert lines[1].startswith(f"Not exported: {target}: ")
    assert "500" in lines[1]
    assert target not in out_file.read_text(encoding="utf-8")


def test_export_stops_cleanly_when_the_list_fails_and_resumes_after(
    cli: Run, simulator: Simulator, raw: list[Wire], tmp_path: Path
) -> None:
    simulator.fail_next(500, path_prefix="/public/sessions")  # the first request: the list page
    out_file = tmp_path / "x.jsonl"
    _, message = cli("export", "--out", str(out_file), "--limit", "5", status=2)
    assert message.startswith("session-mcp: ")
    assert "500" in message
    assert single_gets(simulator) == []
    assert not out_file.exists() or out_file.read_bytes() == b""

    out, _ = cli("export", "--out", str(out_file), "--limit", "5")
    assert out == f"Exported 5 sessions to {out_file}.\n"
    assert read_export(out_file) == raw[:5]


def test_export_redact_pii_masks_the_emails(cli: Run, raw: list[Wire], tmp_path: Path) -> None:
    with_email = [s for s in raw if emails_in(s)]
    assert len(with_email) >= 10
    plain_file, masked_file = tmp_path / "plain.jsonl", tmp_path / "masked.jsonl"
    cli("export", "--out", str(plain_file), "--search", "@example.com")
    cli("export", "--out", str(masked_file), "--search", "@example.com", "--redact-pii")

    plain = read_export(plain_file)
    assert plain == with_email  # the search finds exactly the sessions with an email, unmasked
    masked = read_export(masked_file)
    assert ids_of(masked) == ids_of(with_email)
    text = masked_file.read_text(encoding="utf-8")
    assert "@example.com" not in text
    for email in set().union(*(emails_in(s) for s in with_email)):
        assert email not in text
    assert text.count("[EMAIL]") >= sum(
        len(EMAIL.findall(i["text"])) for s in with_email for i in s["conversation"]["items"]
    )
    for row, session in zip(masked, with_email, strict=True):  # only the transcript text changes
        assert {k: v for k, v in row.items() if k != "conversation"} == {
            k: v for k, v in session.items() if k != "conversation"
        }
        assert [(i["role"], i["timestamp"]) for i in row["conversation"]["items"]] == [
            (i["role"], i["timestamp"]) for i in session["conversation"]["items"]
        ]


def test_export_redact_pii_masks_cards_and_phones(cli: Run, raw: list[Wire], tmp_path: Path) -> None:
    masked_file = tmp_path / "masked.jsonl"
    cli("export", "--out", str(masked_file), "--redact-pii", "--companion-id", "comp_support")
    text = masked_file.read_text(encoding="utf-8")
    raw_text = json.dumps(matching(raw, ["--companion-id", "comp_support"]), ensure_ascii=False)
    present = [card for card in CARDS if card in raw_text]
    assert present, "the demo data should hold a card number"
    for card in present:
        assert card not in text
    assert "[CARD]" in text
    assert "[PHONE]" in text


def test_show_redact_pii_masks_the_emails(cli: Run, raw: list[Wire]) -> None:
    session = first(raw, lambda s: bool(emails_in(s)))
    email = sorted(emails_in(session))[0]
    assert email in cli("show", session["id"])[0]
    assert email in cli("show", session["id"], "--json")[0]

    table = cli("show", session["id"], "--redact-pii")[0]
    assert email not in table
    assert "[EMAIL]" in table
    assert len(turn_lines(table)) == len(session["conversation"]["items"])

    shown = json.loads(cli("show", session["id"], "--redact-pii", "--json")[0])
    assert email not in json.dumps(shown, ensure_ascii=False)
    assert any("[EMAIL]" in item["text"] for item in shown["conversation"]["items"])
    assert {k: v for k, v in shown.items() if k != "conversation"} == {
        k: v for k, v in session.items() if k != "conversation"
    }


def test_export_in_a_real_process_is_quiet_on_a_non_terminal(
    process_env: dict[str, str], raw: list[Wire], tmp_path: Path
) -> None:
    out_file = tmp_path / "x.jsonl"
    done = run_process("sessions", "export", "--out", str(out_file), "--limit", "5", "--json", env=process_env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    summary = json.loads(done.stdout)
    assert summary == {"file": str(out_file), "written": 5, "already_there": 0, "updated": 0, "failed": []}
    assert read_export(out_file) == raw[:5]


@pytest.mark.parametrize("where", ["missing-directory", "a-directory"])
def test_export_to_an_unusable_path_is_one_clear_line(process_env: dict[str, str], tmp_path: Path, where: str) -> None:
    out_file = tmp_path / "missing" / "x.jsonl" if where == "missing-directory" else tmp_path
    done = run_main("sessions", "export", "--out", str(out_file), "--limit", "2", env=process_env)
    assert_one_clear_error(done)


def test_export_already_there_counts_only_the_sessions_asked_for(cli: Run, tmp_path: Path) -> None:
    out_file = tmp_path / "x.jsonl"
    cli("export", "--out", str(out_file), "--limit", "10")
    summary = json.loads(cli("export", "--out", str(out_file), "--limit", "3", "--json")[0])
    assert summary["written"] == 0
    assert summary["already_there"] == 3


# -- --demo and the key ----------------------------------------------------------------------


def test_demo_works_without_a_key(simulator: Simulator, tmp_path: Path) -> None:
    env = clean_environment()
    assert "NAPSTER_API_KEY" not in env

    listed = run_main("sessions", "list", "--demo", "--page-size", "3", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    ids = listed_ids(listed.stdout)
    assert len(ids) == 3
    assert COLUMNS.match(listed.stdout.splitlines()[1])

    shown = run_main("sessions", "show", "--demo", ids[2], env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"# Session {ids[2]} ")
    assert turn_lines(shown.stdout)

    out_file = tmp_path / "demo.jsonl"
    exported = run_main("sessions", "export", "--demo", "--out", str(out_file), "--limit", "4", env=env)
    assert exported.returncode == 0, exported.stderr
    rows = read_export(out_file)
    assert ids_of(rows)[:3] == ids
    assert len(rows) == 4
    assert all(isinstance(row.get("conversation", {}), dict) for row in rows)
    assert list(simulator.requests) == []  # --demo never reached the test's simulator


def test_missing_key_is_one_clear_line(tmp_path: Path) -> None:
    done = run_main("sessions", "list", env=clean_environment())
    assert_one_clear_error(done, "NAPSTER_API_KEY")
    out_file = tmp_path / "x.jsonl"
    done = run_main("sessions", "export", "--out", str(out_file), env=clean_environment())
    assert_one_clear_error(done, "NAPSTER_API_KEY")
    assert not out_file.exists()


def test_connection_flags_work_before_the_subcommand_too(
    process_env: dict[str, str], simulator: Simulator, tmp_path: Path
) -> None:
    env = {k: v for k, v in process_env.items() if k != "NAPSTER_API_KEY"}  # --demo must take effect
    out_file = tmp_path / "x.jsonl"
    done = run_main(
        "--demo", "--redact-pii", "sessions", "export", "--search", "@example.com", "--limit", "5",
        "--out", str(out_file), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    exported = out_file.read_text(encoding="utf-8")
    assert len(exported.splitlines()) == 5
    assert "[EMAIL]" in exported
    assert "@example.com" not in exported  # --redact-pii given before the subcommand was applied


def test_export_reports_a_failed_session_whose_id_is_long(cli: Run, simulator: Simulator, tmp_path: Path) -> None:
    long_id = "sess_" + "x" * 120  # a valid id (at most 256), longer than a failure shows
    newest = simulator.sessions_of("demo")[0]
    simulator.projects["demo"].sessions[long_id] = {**newest, "id": long_id, "createdAt": newest["createdAt"] + 1}
    simulator.fail_next(500, path_prefix=f"/public/sessions/{long_id}")
    out_file = tmp_path / "x.jsonl"
    out, _ = cli("export", "--out", str(out_file), "--limit", "3", "--json", status=1)
    summary = json.loads(out)
    assert summary["written"] == 2
    assert len(summary["failed"]) == 1  # reported, not silently dropped
    assert summary["failed"][0]["session_id"].startswith("sess_xxx")


# -- time windows and client-side filters -------------------------------------------------------


SEP_20, SEP_21 = datetime(2026, 9, 20, tzinfo=UTC), datetime(2026, 9, 21, tzinfo=UTC)


def test_list_by_window_and_status_pages_with_a_cursor(cli: Run, raw: list[Wire]) -> None:
    since = datetime(2026, 9, 14, tzinfo=UTC)
    expected = [s["id"] for s in raw if started_in(s, since, SEP_21) and s["status"] in ("closed", "failed")]
    args = ["--since", "2026-09-14", "--until", "2026-09-21", "--status", "closed,failed", "--page-size", "40"]
    seen: list[str] = []
    out, _ = cli("list", *args)
    while True:
        lines = out.splitlines()
        assert lines[1].startswith("Window (UTC): 2026-09-14T00:00:00Z to 2026-09-21T00:00:00Z")
        seen += listed_ids(out)
        if lines[-1] == "Last page.":
            assert re.match(rf"Sessions \d+-{len(expected)} of {len(expected)} matching", lines[0]), lines[0]
            break
        match = re.fullmatch(r"More: use --cursor (\S+) and the same filters\.", lines[-1])
        assert match, lines[-1]
        out, _ = cli("list", *args, "--cursor", match.group(1))
    assert seen == expected


def test_list_json_with_a_window_is_the_wire_items_and_the_scan(cli: Run, raw: list[Wire]) -> None:
    out, _ = cli("list", "--json", "--since", "2026-09-20", "--until", "2026-09-21", "--modality", "audio")
    page = json.loads(out)
    expected = [s for s in raw if started_in(s, SEP_20, SEP_21) and s["modality"] == "audio"]
    assert page["items"] == [summary_item(s) for s in expected]
    assert page["nextCursor"] is None
    assert page["scan"]["complete"] is True and page["scan"]["filters"] == "modality audio"


def test_export_of_a_window_writes_only_its_sessions_and_says_the_window(
    cli: Run, raw: list[Wire], tmp_path: Path
) -> None:
    out_file = tmp_path / "day.jsonl"
    out, _ = cli("export", "--out", str(out_file), "--since", "2026-09-20", "--until", "2026-09-21")
    expected = [s for s in raw if started_in(s, SEP_20, SEP_21)]
    assert read_export(out_file) == expected  # whole sessions, transcripts included, in list order
    assert out.splitlines()[0] == f"Exported {plural(len(expected), 'session')} to {out_file}."
    assert out.splitlines()[1].startswith("Window (UTC): 2026-09-20T00:00:00Z to 2026-09-21T00:00:00Z")
    out, _ = cli("export", "--out", str(out_file), "--since", "2026-09-20", "--until", "2026-09-21", "--json")
    summary = json.loads(out)
    assert (summary["written"], summary["already_there"]) == (0, len(expected))
    assert summary["scan"]["stopped_early"] is True


def test_export_with_a_status_filter_and_a_limit(cli: Run, raw: list[Wire], tmp_path: Path) -> None:
    out_file = tmp_path / "failed.jsonl"
    cli("export", "--out", str(out_file), "--status", "failed", "--limit", "4")
    assert ids_of(read_export(out_file)) == [s["id"] for s in raw if s["status"] == "failed"][:4]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--since", "last fortnight"], "ISO 8601"),  # "last week" is a window now
        (["--since", "2026-09-21", "--until", "2026-09-20"], "until is exclusive"),
        (["--status", "open"], "pending, started, closed, failed"),
        (["--status", "failed", "--page-index", "2"], "--cursor"),
        (["--status", "failed", "--cursor", "w1.x"], "cursor"),
    ],
)
def test_bad_windows_and_filters_are_one_clear_line(
    cli: Run, simulator: Simulator, args: list[str], needle: str
) -> None:
    _, err = cli("list", *args, status=2)
    assert err.startswith("session-mcp: ") and needle in err and err.count("\n") == 1, err
    assert not simulator.requests
