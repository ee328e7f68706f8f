"""``session-mcp sync`` and ``session-mcp store info|purge`` against the simulator over loopback HTTP."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from session_mcp.cli.main import main
from session_mcp.companion.cache import key_fingerprint
from session_mcp.sessions.window import iso
from session_mcp.simulator import Simulator
from session_mcp.store.sqlite import SqliteStore
from tests.helpers import clean_environment


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def env(process_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The environment of a run against the test's simulator; returns the store's path.

    Retention off: the simulator's sessions are anchored at a fixed date that real time leaves behind
    (test_retention_deletes_old_sessions_and_info_says_so turns it on)."""
    store = str(tmp_path / "data" / "s.sqlite3")
    monkeypatch.setattr(os, "environ", process_env | {"SESSION_MCP_STORE": store, "SESSION_MCP_RETAIN_DAYS": "0"})
    return tmp_path / "data" / "s.sqlite3"


def test_sync_then_info_then_purge(simulator: Simulator, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(["sync"], capsys)
    assert status == 0 and out.startswith("Synced in "), err
    status, out, _ = run(["sync", "--json"], capsys)
    summary = json.loads(out)
    closed = sum(1 for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed"))
    assert status == 0 and summary["stored"] == 0 and summary["store_sessions"] == closed
    status, out, _ = run(["store", "info", "--json"], capsys)
    info = json.loads(out)
    assert (info["sessions"], info["file"]) == (closed, str(env)) and info["last_sync"]
    status, out, _ = run(["store", "info"], capsys)
    assert f"This API key: {closed} sessions" in out and "Last complete sync: " in out
    status, out, _ = run(["store", "purge", "--before", "2026-09-20"], capsys)
    assert status == 0 and out.startswith("Purged ")
    status, out, _ = run(["store", "purge", "--all"], capsys)
    assert status == 0 and json.loads(run(["store", "info", "--json"], capsys)[1])["sessions"] == 0


def test_retention_deletes_old_sessions_and_info_says_so(
    simulator: Simulator, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    days = 5 + (time.time() - simulator.anchor) // 86_400  # the newest 5 days of the simulator's data, and a bit
    horizon = time.time() - days * 86_400
    closed = [s for s in simulator.sessions_of("demo") if s.get("status") in ("closed", "failed")]
    kept = [s for s in closed if s["createdAt"] >= horizon + 60]  # the sync's horizon is a moment later
    at_most = [s for s in closed if s["createdAt"] >= horizon]
    status, _, err = run(["sync", "--retain-days", str(int(days))], capsys)
    assert status == 0, err
    info = json.loads(run(["store", "info", "--json", "--retain-days", str(int(days))], capsys)[1])
    assert 0 < len(kept) <= info["sessions"] <= len(at_most) < len(closed)
    assert info["oldest"] >= iso(datetime.fromtimestamp(horizon, UTC))
    assert info["retain_days"] == days and info["whole_since"] >= iso(datetime.fromtimestamp(horizon, UTC))
    out = run(["store", "info", "--retain-days", str(int(days))], capsys)[1]
    assert f"Retention: {int(days)} days" in out and "Whole from " in out
    assert "Retention: none" in run(["store", "info"], capsys)[1]


def test_sessions_search_reads_the_store(simulator: Simulator, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sync"], capsys)[0] == 0
    status, out, _ = run(["sessions", "search", '"charged twice"', "--role", "user", "--limit", "2"], capsys)
    lines = out.splitlines()
    assert status == 0 and lines[0].startswith("Transcript search: ") and "Searched the session store only" in out
    assert lines[1] == 'Query: "charged twice"' and "] User: " in out and "«charged twice»" in out
    assert "more hits: use --offset 2.]" in out and lines[-1].startswith("session-mcp sessions show sess_")
    status, out, _ = run(["sessions", "search", "charged", "--json", "--status", "failed,closed"], capsys)
    found = json.loads(out)
    assert status == 0 and found["total_hits"] >= len(found["hits"]) > 0
    status, _, err = run(["sessions", "search", "x OR"], capsys)
    assert status == 2 and "OR needs a term on both sides" in err and "query syntax:" in err


def test_a_second_sync_while_one_runs_says_so_and_exits_1(
    simulator: Simulator, env: Path, base_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SqliteStore(env)
    held, done = threading.Event(), threading.Event()

    async def hold() -> None:  # another sync, in its own thread and event loop
        async with store.for_tenant(key_fingerprint("demo", base_url)).sync_lock():
            held.set()
            await anyio.to_thread.run_sync(done.wait)

    holder = threading.Thread(target=anyio.run, args=(hold,))
    holder.start()
    held.wait(10)
    status, out, err = run(["sync"], capsys)
    done.set()
    holder.join(10)
    store.close()
    assert (status, out) == (1, "") and "another sync is running" in err


def test_without_a_store_sync_says_how_to_have_one(
    simulator: Simulator, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["sync", "--no-store"], capsys)
    assert status == 2 and "no session store: --no-store is set" in err
    del os.environ["SESSION_MCP_STORE"]
    status, _, err = run(["--demo", "sync"], capsys)
    assert status == 2 and "--demo uses a store only when --store is given" in err


def test_the_store_is_private_and_a_refused_folder_is_one_line(
    simulator: Simulator, env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["sync"], capsys)[0] == 0
    assert oct(env.parent.stat().st_mode & 0o777) == "0o700"
    assert {oct(f.stat().st_mode & 0o777) for f in env.parent.iterdir()} == {"0o600"}
    # session-mcp's own data folder is checked (a folder the user names with --store is theirs).
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "xdg").mkdir()
    (tmp_path / "xdg" / "session-mcp").symlink_to(tmp_path / "elsewhere")
    others = {k: v for k, v in os.environ.items() if k != "SESSION_MCP_STORE"}
    monkeypatch.setattr(os, "environ", others | {"XDG_DATA_HOME": str(tmp_path / "xdg")})
    status, _, err = run(["sync"], capsys)
    assert status == 2 and err.count("\n") == 1 and "is a symbolic link" in err and "--no-store" in err


def test_the_default_store_is_in_the_data_folder(tmp_path: Path) -> None:
    from session_mcp.config import load_settings

    env = clean_environment(NAPSTER_API_KEY="k", XDG_DATA_HOME=str(tmp_path))
    assert load_settings({}, env).store_path(env) == tmp_path / "session-mcp" / "store.sqlite3"
    assert load_settings({"no_store": True}, env).store_path(env) is None
    assert load_settings({"demo": True}, env).store_path(env) is None
    assert load_settings({"demo": True, "store": "~/s.db"}, env).store_path(env) == Path.home() / "s.db"
