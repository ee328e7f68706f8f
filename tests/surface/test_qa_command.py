"""``session-mcp qa`` against the simulator over HTTP: every format, the exit statuses, the session store."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import anyio
import pytest

from session_mcp.cli.main import main
from session_mcp.cli.qa import run_unwrapped
from session_mcp.qa.checks import CHECK_IDS, Finding
from session_mcp.simulator import Simulator, serve_in_thread
from session_mcp.store.base import StoreError
from tests.upstream import HostileUpstream, session

FINDING_FIELDS = list(Finding.model_fields)


@pytest.fixture
def api(base_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The environment of a real run against the test simulator (the default store in a temporary
    data folder); returns a folder for a store of the test's own."""
    monkeypatch.setenv("NAPSTER_API_KEY", "demo")
    monkeypatch.setenv("NAPSTER_API_BASE_URL", base_url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "store"


def details(simulator: Simulator) -> int:
    """Transcript requests that reached the simulator (and forgets them)."""
    count = sum(1 for r in simulator.requests if r.raw_path.startswith("/public/sessions/"))
    simulator.requests.clear()
    return count


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(["qa", *argv])
    code = done.value.code
    return code if isinstance(code, int) else 1


def test_text_is_a_table_then_the_flagged_sessions(api: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--limit", "60", "--no-cache") == 0
    out = capsys.readouterr().out
    assert out.startswith("QA review of 60 sessions: ")
    for check in CHECK_IDS:
        assert f"\n{check} " in out
    assert "Flagged sessions, worst first:" in out
    assert re.search(r"\] The agent (?:says personal data aloud|reads back what the user gave)", out)


def test_jsonl_has_one_finding_per_line_with_exactly_its_fields(
    api: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--format", "jsonl", "--no-cache") == 0
    lines = capsys.readouterr().out.splitlines()
    findings = [json.loads(line) for line in lines]
    assert findings and all(list(f) == FINDING_FIELDS for f in findings)
    expected = simulator.expected_findings["demo"]
    assert {(f["session_id"], f["check"]) for f in findings} == {(i, c) for i, cs in expected.items() for c in cs}


def test_junit_has_a_case_per_session_and_check_and_a_failure_per_finding(
    api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "qa.xml"
    assert run("--format", "junit", "--out", str(out), "--limit", "50", "--no-cache") == 0
    assert "Reviewed 50 sessions" in capsys.readouterr().err
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 50 * len(CHECK_IDS) == int(suite.get("tests", "0"))
    failures = [f for case in cases for f in case.findall("failure")]
    assert failures and len(failures) == int(suite.get("failures", "0"))
    assert {f.get("type") for f in failures} <= {"info", "warning", "critical"}


def test_json_and_html_carry_the_whole_report(api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--format", "json", "--limit", "40", "--no-cache") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reviewed"] == 40 and len(report["reviewed_ids"]) == 40
    page = tmp_path / "report.html"
    assert run("--format", "html", "--out", str(page), "--limit", "40", "--no-cache") == 0
    html = page.read_text()
    assert html.startswith("<!doctype html>") and 'id="qa-data"' in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from anywhere


def test_the_client_side_filters_are_written_as_for_sessions_list(
    api: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--status failed,closed`` (a list, as ``sessions list`` takes it) equals two flags; an unknown one is exit 2."""
    assert run("--no-cache", "--format", "json", "--status", "failed,closed") == 0
    listed = json.loads(capsys.readouterr().out)
    assert run("--no-cache", "--format", "json", "--status", "failed", "--status", "closed") == 0
    repeated = json.loads(capsys.readouterr().out)
    wanted = sum(1 for s in simulator.sessions_of("demo") if s.get("status") in ("failed", "closed"))
    assert listed["reviewed"] == repeated["reviewed"] == wanted
    assert run("--no-cache", "--status", "bogus") == 2
    error = capsys.readouterr().err
    assert error.startswith("session-mcp: status 'bogus' does not exist")
    assert "pending, started, closed, failed" in error


def test_fail_on_sets_the_exit_status(api: Path, tmp_path: Path) -> None:
    rules = tmp_path / "quiet.toml"
    rules.write_text("".join(f"[checks.{check}]\nseverity = 'info'\n" for check in CHECK_IDS))
    some = ("--no-cache", "--format", "jsonl", "--limit", "40")
    assert run("--fail-on", "critical", *some) == 1
    assert run("--fail-on", "warning", "--rules", str(rules), *some) == 0  # everything is info now
    assert run(*some) == 0  # no gate: findings are not a failure


def test_fail_on_warning_fails_on_warnings_alone(api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "no-critical.toml"
    rules.write_text("".join(f"[checks.{check}]\nseverity = 'warning'\n" for check in CHECK_IDS))
    some = ("--no-cache", "--format", "json", "--limit", "40", "--rules", str(rules))
    assert run("--fail-on", "warning", *some) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["by_severity"]["critical"] == 0 < report["by_severity"]["warning"]
    assert run("--fail-on", "critical", *some) == 0


def test_an_out_folder_that_is_missing_is_refused_before_the_review(
    api: Path, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    simulator.requests.clear()
    assert run("--out", str(tmp_path / "missing" / "qa.html"), "--format", "html", "--no-cache") == 2
    err = capsys.readouterr().err
    assert f"the folder {tmp_path / 'missing'} does not exist; create it or pass another --out" in err
    assert err.count("\n") == 1 and ".tmp" not in err and not simulator.requests  # nothing was reviewed
    assert run("--out", str(tmp_path), "--no-cache") == 2
    assert "is a folder: give a file name in it" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "last tuesday"], "since: cannot read 'last tuesday' as a time"),
        (["--since", "2h", "--until", "3h"], "is not after since"),
        (["--rules", "/nonexistent/rules.toml"], "cannot read the rules file"),
        (["--tag", "channel"], "--tag takes KEY=VALUE"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    api: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*argv, "--no-cache") == 2
    err = capsys.readouterr().err
    assert err.startswith("session-mcp: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_bad_arguments_exit_2(api: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Past 1,000 sessions a review needs the store (behaviour changed: it was refused with or without one)."""
    assert run("--limit", "1001", "--no-store") == 2
    assert "without a session store a review takes at most 1000 sessions" in capsys.readouterr().err
    assert run("--limit", "0") == 2
    assert "must be a whole number of at least 1" in capsys.readouterr().err
    assert run("--format", "pdf") == 2


def test_an_unreachable_api_is_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NAPSTER_API_KEY", "demo")
    monkeypatch.setenv("NAPSTER_API_BASE_URL", "http://127.0.0.1:9")
    assert run("--no-cache", "--timeout", "2") == 2
    assert "Could not reach the Companion API" in capsys.readouterr().err


def test_a_second_run_makes_no_detail_request_for_a_closed_session(
    api: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ("--store", str(api / "s.sqlite3"), "--format", "json")
    assert run(*store) == 0
    first = capsys.readouterr()
    assert details(simulator) == len(simulator.sessions_of("demo"))
    assert run(*store) == 0
    second = capsys.readouterr()
    still_open = [s for s in simulator.sessions_of("demo") if s.get("status") in ("pending", "started")]
    assert details(simulator) == len(still_open)  # only what may still change is read again
    closed = len(simulator.sessions_of("demo")) - len(still_open)
    assert f"{len(still_open)} read from the API, 0 from the store, {closed} reviewed before" in second.err
    same = json.loads(first.out) | {"generated_at": None}
    assert json.loads(second.out) | {"generated_at": None} == same  # the report is the same, to the last finding


def test_a_changed_rules_file_checks_again_from_the_stored_transcripts(
    api: Path, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ("--store", str(api / "s.sqlite3"), "--format", "jsonl", "--limit", "50")
    assert run(*store) == 0
    before = {json.loads(line)["check"] for line in capsys.readouterr().out.splitlines()}
    details(simulator)
    rules = tmp_path / "team.toml"
    rules.write_text('[[rules]]\nid = "disclosure"\ntype = "required_phrase"\nphrase = "zebra crossing"\n')
    assert run(*store, "--rules", str(rules)) == 0
    changed = capsys.readouterr()
    assert "disclosure" in {json.loads(line)["check"] for line in changed.out.splitlines()} - before
    assert " 0 reviewed before under the same rules" in changed.err  # every session checked again...
    still_open = sum(1 for s in simulator.sessions_of("demo")[:50] if s.get("status") in ("pending", "started"))
    assert details(simulator) <= still_open  # ...from the transcripts the store holds
    moved = tmp_path / "moved.toml"
    moved.write_text(rules.read_text())
    assert run(*store, "--rules", str(moved)) == 0
    assert " 0 reviewed before" not in capsys.readouterr().err  # the same rules in another file: kept


def test_cache_dir_is_an_alias_of_a_store_in_that_folder_and_says_it_is_deprecated(
    api: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    some = ("--cache-dir", str(api), "--format", "jsonl", "--limit", "30")
    assert run(*some) == 0
    err = capsys.readouterr().err
    assert f"session-mcp: --cache-dir is deprecated: use --store {api / 'store.sqlite3'}\n" in err
    assert (api / "store.sqlite3").exists()
    details(simulator)
    assert run(*some) == 0
    still_open = sum(1 for s in simulator.sessions_of("demo")[:30] if s.get("status") in ("pending", "started"))
    assert details(simulator) == still_open


def test_a_scan_bound_that_hides_part_of_the_window_exits_1_saying_how_to_widen_it(
    api: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """SESSION_MCP_MAX_SCAN is honoured (it was ignored) and a cut review is no success (it was exit 0)."""
    monkeypatch.setenv("SESSION_MCP_MAX_SCAN", "100")
    assert run("--no-store", "--since", "2026-01-01", "--format", "json") == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["scan_complete"] is False
    last = captured.err.splitlines()[-1]
    assert last.startswith("session-mcp: the scan bound (100 list rows) stopped before the window's start")
    assert "Raise SESSION_MCP_MAX_SCAN" in last
    monkeypatch.setenv("SESSION_MCP_MAX_SCAN", "100000")
    assert run("--no-store", "--since", "2026-01-01", "--format", "json") == 0


def test_sessions_that_cannot_be_read_fail_a_gated_run(
    api: Path, simulator: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = tmp_path / "quiet.toml"
    quiet.write_text("".join(f"[checks.{check}]\nseverity = 'info'\n" for check in CHECK_IDS))
    some = ("--limit", "30", "--no-cache", "--rules", str(quiet))
    simulator.fail_next(500, times=2, path_prefix="/public/sessions/")
    assert run(*some, "--format", "json") == 0  # no gate: reported, not failed
    report = json.loads(capsys.readouterr().out)
    assert len(report["unread"]) == 2 and report["reviewed"] == 28
    assert run(*some, "--format", "jsonl", "--fail-on", "warning") == 0  # all read, nothing above info
    simulator.fail_next(500, times=1, path_prefix="/public/sessions/")
    assert run(*some, "--format", "junit", "--fail-on", "warning") == 1  # incomplete: it proves nothing
    assert "<error message=" in capsys.readouterr().out


def test_the_rules_file_of_the_environment_applies_unless_rules_is_given(
    api: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    disclosure = tmp_path / "team.toml"
    disclosure.write_text('[[rules]]\nid = "disclosure"\ntype = "required_phrase"\nphrase = "zebra crossing"\n')
    monkeypatch.setenv("SESSION_MCP_QA_RULES", str(disclosure))
    some = ("--no-cache", "--format", "jsonl", "--limit", "20")
    assert run(*some) == 0
    assert "disclosure" in {json.loads(line)["check"] for line in capsys.readouterr().out.splitlines()}
    other = tmp_path / "other.toml"
    other.write_text("[checks.slow_response]\nseconds = 5\n")
    assert run(*some, "--rules", str(other)) == 0
    assert "disclosure" not in {json.loads(line)["check"] for line in capsys.readouterr().out.splitlines()}


def test_the_one_error_of_a_task_group_is_raised_as_itself() -> None:
    async def fail() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep, 0)
            raise StoreError("the store is gone")

    with pytest.raises(StoreError, match="the store is gone"):
        run_unwrapped(anyio.run, fail)


def test_the_same_key_at_two_base_urls_never_shares_the_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Staging and production (two stand-ins here) hold a session of the same id with other words."""
    monkeypatch.setenv("NAPSTER_API_KEY", "one-key-for-both")
    some = ("--store", str(tmp_path / "s.sqlite3"), "--format", "jsonl", "--since", "2026-09-01")
    clean = session("sess_same", "Hello, I need help.", "Happy to help: what is the order number?")
    leaky = session("sess_same", "Hello, I need help.", "The card on file is 4111 1111 1111 1111.")
    staging, production = HostileUpstream(), HostileUpstream()
    for upstream, served in ((staging, clean), (production, leaky)):
        upstream.clear()
        upstream.add(served)
    with serve_in_thread(staging) as staging_url, serve_in_thread(production) as production_url:
        monkeypatch.setenv("NAPSTER_API_BASE_URL", staging_url)
        assert run(*some) == 0
        assert capsys.readouterr().out == ""  # staging's words: nothing to flag
        monkeypatch.setenv("NAPSTER_API_BASE_URL", production_url)
        assert run(*some) == 0
        captured = capsys.readouterr()
    assert [json.loads(line)["check"] for line in captured.out.splitlines()] == ["pii_exposed"]
    assert "1 read from the API, 0 from the store, 0 reviewed before" in captured.err


@pytest.mark.parametrize("refused", ["a link", "another user's"])
def test_a_refused_store_folder_is_one_line_and_the_review_goes_on(
    api: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], refused: str
) -> None:
    if refused == "a link":
        (tmp_path / "elsewhere").mkdir()
        api.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    else:
        api.mkdir(mode=0o700)
        os.chown(api, 4321, 4321)
    assert run("--cache-dir", str(api), "--format", "jsonl", "--limit", "10") == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") > 0
    warned = [line for line in captured.err.splitlines() if "going on without the store" in line]
    assert len(warned) == 1 and warned[0].startswith("session-mcp: ")
    assert "10 read from the API, 0 from the store" in captured.err and "Traceback" not in captured.err
    assert not list(tmp_path.glob("elsewhere/*"))
