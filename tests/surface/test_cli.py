"""The command line as people expect it: help that names the environment, a table on a terminal,
exit statuses 0/1/2, plurals, and the terminal banner's HTTP hint.

What depends on a real terminal runs ``python -m session_mcp`` with a pseudo-terminal (``pty``)
as its stdout or stdin.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_mcp.cli.main import SETTING_FLAGS, build_parser
from session_mcp.cli.sessions import format_export_summary
from session_mcp.companion.models import SessionSummary
from session_mcp.config import ENVIRONMENT
from session_mcp.render.transcript import cut_note
from session_mcp.server.transport import attach_hint, install_source, source_of
from session_mcp.simulator import Simulator
from session_mcp.simulator.data import DEFAULT_SESSION_COUNT
from session_mcp.stats.figures import session_stats
from session_mcp.stats.text import render_stats
from tests.helpers import ROOT, clean_environment, run_main, run_process

SETTINGS_PAGE = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
DEMO_IDS = [s["id"] for s in Simulator(api_keys={"demo": 7}).sessions_of("demo")]


def every_parser(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """The parser and all its subcommands' parsers, each with its command path."""
    found = [(parser.prog, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += every_parser(sub)
    return found


def test_every_flag_has_help_and_every_setting_flag_names_its_variable() -> None:
    checked = 0
    for prog, parser in every_parser(build_parser()):
        for action in parser._actions:
            if not action.option_strings or action.dest in ("help", "version"):
                continue
            flag = f"{prog} {action.option_strings[0]}"
            assert action.help and len(action.help) > 10, f"{flag} has no help"
            if action.dest in SETTING_FLAGS:
                assert ENVIRONMENT[action.dest] in action.help, f"{flag} does not name {ENVIRONMENT[action.dest]}"
            checked += 1
    assert checked > 40


def test_every_variable_is_documented() -> None:
    for variable in ENVIRONMENT.values():
        assert f"`{variable}`" in SETTINGS_PAGE, variable


@pytest.mark.parametrize(
    ("command", "says"),
    [("list", "filteredCount"), ("show", "transcript included"), ("export", "already_there")],
)
def test_json_help_says_what_each_command_prints(command: str, says: str) -> None:
    parsers = dict(every_parser(build_parser()))
    (json_flag,) = [a for a in parsers[f"session-mcp sessions {command}"]._actions if "--json" in a.option_strings]
    assert json_flag.help is not None and says in json_flag.help


# -- exit status ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "status", "says"),
    [
        (["sessions", "list", "--demo", "--page-size", "2"], {}, 0, ""),
        (["sessions", "list", "--demo", "--page-size", "two"], {}, 2, "must be a whole number"),  # argparse
        (["sessions", "list", "--demo", "--tag", "channel"], {}, 2, "--tag takes KEY=VALUE"),
        (["sessions", "list"], {}, 2, "NAPSTER_API_KEY is not set"),
        (["sessions", "list", "--demo"], {"SESSION_MCP_TIMEOUT": "soon"}, 2, "SESSION_MCP_TIMEOUT must be a number"),
        (["sessions", "show", "--demo", "sess_0000000000dead"], {}, 2, "No session"),
        (["--demo", "--transport", "carrier-pigeon"], {}, 2, "invalid choice"),
        (["--demo"], {"SESSION_MCP_TRANSPORT": "pigeon"}, 2, "SESSION_MCP_TRANSPORT must be stdio or http"),
    ],
    ids=["ok", "bad-int", "bad-tag", "no-key", "bad-setting", "unknown-session", "bad-choice", "bad-env-choice"],
)
def test_exit_status(args: list[str], env: dict[str, str], status: int, says: str) -> None:
    done = run_main(*args, env=clean_environment(**env))
    assert done.returncode == status, done
    assert "Traceback" not in done.stderr
    assert says in done.stderr
    if status == 0:
        assert done.stdout.startswith(f"Sessions 1-2 of {DEFAULT_SESSION_COUNT}")


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (["sessions", "list", "--demo", "--page-size", "100", "--json"], 0, ""),
        (["sessions", "list", "--demo", "--page-size", "two"], 2, "must be a whole number"),
        (["sessions", "show", "--demo", "sess_0000000000dead"], 2, "No session"),
    ],
    ids=["ok", "usage", "fatal"],
)
def test_the_process_exits_with_main_s_status_and_all_its_output(args: list[str], status: int, says: str) -> None:
    """``entry`` skips the interpreter's teardown (``os._exit``): the status and every byte written get out."""
    done = run_process(*args, env=clean_environment())
    assert done.returncode == status, done
    assert says in done.stderr and "Traceback" not in done.stderr
    if status == 0:  # a page of 100 sessions as JSON, ~50 KB through a pipe: whole, or it would not parse
        assert len(json.loads(done.stdout)["items"]) == 100


@pytest.mark.parametrize(
    ("args", "closed", "status"),
    [(["sessions", "list", "--page-size", "2"], ">&-", 0), (["sessions", "list", "--page-size", "2"], "2>&-", 0),
     (["sessions", "show", "sess_0000000000dead"], "2>&-", 2), (["sessions", "list", "--page-size", "two"], ">&-", 2)],
    ids=["stdout-ok", "stderr-ok", "stderr-fatal", "stdout-usage"],
)  # fmt: skip
def test_the_process_exits_with_main_s_status_when_started_with_stdout_or_stderr_closed(
    args: list[str], closed: str, status: int
) -> None:
    """Python gives a closed descriptor's stream as None: nothing to flush there, the status is main's."""
    command = " ".join(shlex.quote(part) for part in [sys.executable, "-m", "session_mcp", "--demo", *args])
    done = subprocess.run(
        ["sh", "-c", f"{command} {closed}"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == status, done
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(("exit_with", "status", "says"), [("'stopped: go on later'", 1, "stopped: go on later"),
                                                             ("None", 0, ""), ("3", 3, "")])  # fmt: skip
def test_the_process_exits_as_the_interpreter_would_on_any_system_exit(exit_with: str, status: int, says: str) -> None:
    """A ``sys.exit`` with a message (as Ctrl+C's) prints it and exits 1; ``None`` is 0; a number is itself."""
    program = f"import sys; import session_mcp.cli.main as m; m.main = lambda: sys.exit({exit_with}); m.entry()"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == status, done
    assert done.stderr.strip() == says


def test_a_partial_export_exits_1(process_env: dict[str, str], simulator: Simulator, tmp_path: Path) -> None:
    target = simulator.sessions_of("demo")[1]["id"]
    simulator.fail_next(500, path_prefix=f"/public/sessions/{target}")
    done = run_main("sessions", "export", "--limit", "3", "--out", str(tmp_path / "x.jsonl"), env=process_env)
    assert done.returncode == 1, done
    assert f"Not exported: {target}" in done.stdout


def test_the_simulator_on_a_taken_port_exits_2() -> None:
    from session_mcp.simulator import bind_loopback

    with bind_loopback() as taken:
        port = taken.getsockname()[1]
        # SO_REUSEADDR lets a second socket bind a port only when the first is not listening: it is.
        done = run_process("simulator", "--port", str(port), env=clean_environment())
    assert done.returncode == 2, done
    assert done.stderr.startswith(f"session-mcp: cannot listen on 127.0.0.1:{port}")


# -- a terminal -----------------------------------------------------------------------------


def read_pty(fd: int, until: bytes, deadline: float) -> bytes:
    """What the pseudo-terminal shows, until ``until`` appears or the process closes it."""
    seen = b""
    while until not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other side closed (EIO on Linux)
            break
        if not chunk:
            break
        seen += chunk
    return seen


def list_on_a_terminal(*args: str) -> list[str]:
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "session_mcp", "sessions", "list", "--demo", *args],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=subprocess.PIPE,
            env=clean_environment(COLUMNS="300"),
        )
        os.close(terminal)
        shown = read_pty(controller, b"page.", time.monotonic() + 30)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    finally:
        os.close(controller)
    return shown.decode("utf-8").replace("\r\n", "\n").splitlines()


def test_list_is_an_aligned_table_on_a_terminal() -> None:
    lines = list_on_a_terminal("--page-size", "6")
    assert lines[0] == f"Sessions 1-6 of {DEFAULT_SESSION_COUNT}, newest first (page 0)."
    header, rows = lines[1], lines[2:8]
    assert " | " not in header and all(" | " not in row for row in rows)
    assert re.split(r"\s{2,}", header) == ["id", "companion", "client", "started (UTC)", "duration", "status", "tags"]
    assert [row.split()[0] for row in rows] == DEMO_IDS[:6]
    # Every column starts at the same place on every line.
    starts = [match.start() for match in re.finditer(r"(?<=\s\s)\S", header)]
    for row in rows:
        assert all(row[start - 2 : start] == "  " and row[start] != " " for start in starts), (header, row)
    assert lines[8] == "More: use --page-index 1 and the same filters."


def test_list_piped_is_one_compact_line_per_session(process_env: dict[str, str], simulator: Simulator) -> None:
    done = run_process("sessions", "list", "--page-size", "3", env=process_env)
    lines = done.stdout.splitlines()
    assert lines[1] == "id | companion | client | started (UTC) | duration | status | tags"
    assert [line.split(" | ")[0] for line in lines[2:5]] == [s["id"] for s in simulator.sessions_of("demo")[:3]]


@pytest.mark.parametrize(("args", "env"), [(["--demo"], {}), ([], {"SESSION_MCP_DEMO": "1"})], ids=["flag", "env"])
def test_the_terminal_banner_keeps_demo_in_its_http_hint(args: list[str], env: dict[str, str]) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "session_mcp", *args],
        stdin=terminal,
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env=clean_environment(**env),
    )
    try:
        os.close(terminal)
        banner = read_pty(controller, b"Ctrl+C", time.monotonic() + 30).decode("utf-8")
    finally:
        process.kill()
        process.wait(timeout=10)
        os.close(controller)
    (hint,) = [line for line in banner.splitlines() if line.startswith("Or serve it over HTTP:")]
    assert hint.endswith(" --demo --transport http --port 8000")


def test_the_http_hint_has_no_demo_without_demo_mode() -> None:
    (hint,) = [line for line in attach_hint(["--read-only"]).splitlines() if "over HTTP" in line]
    assert "--demo" not in hint and hint.endswith(" --transport http --port 8000")


UV_CACHE = "/home/ann/.cache/uv"


@pytest.mark.parametrize(
    ("program", "prefix", "cache_dir"),
    [
        (f"{UV_CACHE}/archive-v0/Xq3aQ9/bin/session-mcp", f"{UV_CACHE}/archive-v0/Xq3aQ9", None),
        (f"{UV_CACHE}/environments-v2/session-mcp-0f1e2d/bin/session-mcp", "/usr", None),
        ("/opt/x/session_mcp/__main__.py", f"{UV_CACHE}/archive-v0/Xq3aQ9", None),  # python -m under uvx
        ("/srv/uv-store/archive-v0/Xq3aQ9/bin/session-mcp", "/srv/uv-store/archive-v0/Xq3aQ9", "/srv/uv-store"),
    ],
    ids=["archive", "environments", "python -m", "UV_CACHE_DIR"],
)
def test_under_uvx_the_attach_hint_gives_the_uvx_form_not_the_cache_path(
    monkeypatch: pytest.MonkeyPatch, program: str, prefix: str, cache_dir: str | None
) -> None:
    monkeypatch.setattr(sys, "argv", [program])
    monkeypatch.setattr(sys, "prefix", prefix)
    if cache_dir:
        monkeypatch.setenv("UV_CACHE_DIR", cache_dir)
    else:
        monkeypatch.delenv("UV_CACHE_DIR", raising=False)
    hint = attach_hint(["--read-only"], demo=True)
    source = install_source()
    snippet = next(line.strip() for line in hint.splitlines() if line.strip().startswith('{"mcpServers"'))
    config = json.loads(snippet)["mcpServers"]["napster-sessions"]
    assert config == {"command": "uvx", "args": ["--from", source, "session-mcp", "--read-only"]}
    uvx = shlex.join(["uvx", "--from", source, "session-mcp"])
    assert f"claude mcp add napster-sessions -- {uvx} --read-only" in hint
    assert f"npx @modelcontextprotocol/inspector {uvx} --read-only" in hint
    assert f"Or serve it over HTTP: {uvx} --demo --transport http --port 8000" in hint
    assert "-v0" not in hint and "-v2" not in hint


@pytest.mark.parametrize(
    ("program", "prefix"),
    [
        ("/home/ann/proj/.venv/bin/session-mcp", "/home/ann/proj/.venv"),
        ("/home/ann/.local/share/uv/tools/session-mcp/bin/session-mcp", "/home/ann/.local/share/uv/tools/session-mcp"),
        ("/home/ann/archive-v0/bin/session-mcp", "/home/ann/archive-v0"),  # looks like a bucket, is not uv's
    ],
    ids=["venv", "uv tool install", "lookalike"],
)
def test_outside_uvs_cache_the_attach_hint_gives_the_program_path(
    monkeypatch: pytest.MonkeyPatch, program: str, prefix: str
) -> None:
    monkeypatch.setattr(sys, "argv", [program])
    monkeypatch.setattr(sys, "prefix", prefix)
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)
    hint = attach_hint(["--read-only"])
    assert f"claude mcp add napster-sessions -- {program} --read-only" in hint
    assert "uvx" not in hint


@pytest.mark.parametrize(
    ("direct_url", "source"),
    [
        (None, "session-mcp"),  # from the package index
        (
            {
                "url": "https://github.com/o/session-mcp",
                "vcs_info": {"vcs": "git", "commit_id": "9f3e1c", "requested_revision": "v0.1.0"},
            },
            "git+https://github.com/o/session-mcp@v0.1.0",
        ),
        (
            {"url": "https://github.com/o/session-mcp", "vcs_info": {"vcs": "git", "commit_id": "9f3e1c"}},
            "git+https://github.com/o/session-mcp@9f3e1c",
        ),
        ({"url": "file:///home/ann/session%20mcp", "dir_info": {}}, "/home/ann/session mcp"),
        (
            {"url": "https://example.com/session_mcp-0.1.0-py3-none-any.whl", "archive_info": {}},
            "https://example.com/session_mcp-0.1.0-py3-none-any.whl",
        ),
        ({"url": 7, "dir_info": {}}, "session-mcp"),
        ({"url": "file://host", "dir_info": {}}, "session-mcp"),
    ],
    ids=["index", "git tag", "git commit", "folder", "wheel URL", "malformed", "no path"],
)
def test_the_uvx_source_is_where_this_install_came_from(direct_url: dict[str, Any] | None, source: str) -> None:
    assert source_of(direct_url) == source


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["url", "vcs_info", "dir_info", "archive_info"]) | st.text(),
        JSON | st.text().map("file:".__add__),
    )
)
def test_any_direct_url_json_gives_a_source(direct_url: dict[str, Any]) -> None:
    """A damaged ``direct_url.json`` still gives a word for ``uvx --from``, never an exception."""
    source = source_of(direct_url)
    assert isinstance(source, str) and source


# -- plurals --------------------------------------------------------------------------------


def test_one_is_singular() -> None:
    assert "[cut: 1 more turn. " in cut_note("sess_1", 11, 10)
    assert "[cut: 2 more turns. " in cut_note("sess_1", 12, 10)
    summary = {"file": "x.jsonl", "written": 1, "already_there": 1, "failed": []}
    assert format_export_summary(summary) == "Exported 1 session to x.jsonl (1 was already there)."
    one = SessionSummary.model_validate({"id": "sess_1", "companionId": "comp_1", "status": "closed"})
    assert render_stats(session_stats([one], {}, matched=1, limit=5)).startswith("Statistics over 1 session of 1 ")
