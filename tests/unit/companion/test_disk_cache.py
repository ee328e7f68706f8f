"""The disk cache of closed sessions: per key, bounded, private, and safe under concurrent processes."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from session_mcp.companion.cache import key_fingerprint
from session_mcp.companion.disk_cache import DiskCache, DiskCacheBusyError, DiskCacheError, default_cache_dir
from session_mcp.companion.models import SessionDetail
from session_mcp.simulator import Simulator
from tests.helpers import ANCHOR, ROOT

DEMO = [SessionDetail.model_validate(s) for s in Simulator(anchor=ANCHOR, session_count=60).sessions_of("demo")]
CLOSED = [s for s in DEMO if s.is_closed]
OPEN = [s for s in DEMO if not s.is_closed]


def test_closed_sessions_round_trip_and_open_ones_are_not_kept(tmp_path: Path) -> None:
    with DiskCache(tmp_path, "fp1") as cache:
        assert cache.put_many(DEMO) == len(CLOSED) and OPEN
        found = cache.get_many([s.id for s in DEMO] + ["sess_unknown"])
    assert set(found) == {s.id for s in CLOSED}
    for session in CLOSED:
        assert found[session.id].to_wire() == session.to_wire()


def test_each_key_has_its_own_file(tmp_path: Path) -> None:
    one, other = (
        key_fingerprint("key-one", "https://api.example.com"),
        key_fingerprint("key-two", "https://api.example.com"),
    )
    with DiskCache(tmp_path, one) as cache:
        cache.put_many(CLOSED[:3])
    with DiskCache(tmp_path, other) as cache:
        assert cache.get_many([s.id for s in CLOSED[:3]]) == {}
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == sorted(
        [f"sessions-{one}.sqlite3", f"sessions-{other}.sqlite3"]
    )


def test_bounded_in_entries_and_bytes_oldest_first(tmp_path: Path) -> None:
    with DiskCache(tmp_path, "fp", max_entries=5) as cache:
        for session in CLOSED[:8]:
            cache.put_many([session])
        assert cache.stats()[0] == 5
        assert set(cache.get_many([s.id for s in CLOSED[:8]])) == {s.id for s in CLOSED[3:8]}
    small = CLOSED[0]
    size = len(small.model_dump_json(by_alias=True, exclude_unset=True)) * 3
    with DiskCache(tmp_path, "fp-bytes", max_bytes=size) as cache:
        cache.put_many(CLOSED[:10])
        entries, stored = cache.stats()
        assert stored <= size and 1 <= entries < 10


def test_files_are_private(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    with DiskCache(directory, "fp") as cache:
        cache.put_many(CLOSED[:1])
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_a_damaged_entry_is_dropped_and_a_broken_file_moved_aside(tmp_path: Path) -> None:
    with DiskCache(tmp_path, "fp") as cache:
        cache.put_many(CLOSED[:2])
        raw = sqlite3.connect(cache.path)
        with raw:
            raw.execute("UPDATE sessions SET body = ? WHERE id = ?", (b'{"id": 12}', CLOSED[0].id))
        raw.close()
        assert set(cache.get_many([CLOSED[0].id, CLOSED[1].id])) == {CLOSED[1].id}
        assert cache.stats()[0] == 1
        path = cache.path
    path.write_bytes(b"this is not a database" * 100)
    with DiskCache(tmp_path, "fp") as cache:
        assert cache.stats() == (0, 0)
        cache.put_many(CLOSED[:1])
    assert path.with_suffix(".broken").exists()


def test_an_entry_an_older_version_wrote_is_read_through_the_ingestion_boundary(tmp_path: Path) -> None:
    with DiskCache(tmp_path, "fp") as cache:
        cache.put_many(CLOSED[:2])
        old = (
            b'{"id": "%s", "status": "closed", "closedAt": NaN, "companionId": "c\\ud83d\\nx"}' % CLOSED[0].id.encode()
        )
        raw = sqlite3.connect(cache.path)
        with raw:
            raw.execute("UPDATE sessions SET body = ? WHERE id = ?", (old, CLOSED[0].id))
            raw.execute("UPDATE sessions SET body = ? WHERE id = ?", (b'{"x": ' + b"[" * 100_000, CLOSED[1].id))
        raw.close()
        found = cache.get_many([CLOSED[0].id, CLOSED[1].id])
    assert list(found) == [CLOSED[0].id]  # the one nested too deep is dropped, without a RecursionError
    assert found[CLOSED[0].id].closed_at is None
    assert found[CLOSED[0].id].companion_id == "c\ufffd x"


def test_an_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DiskCacheError, match=r"cannot use the cache directory .*--cache-dir"):
        DiskCache(blocker / "sub", "fp")


def test_the_default_directory_follows_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/x/cache"}) == Path("/x/cache/session-mcp")
    assert default_cache_dir({}, "linux") == Path.home() / ".cache" / "session-mcp"
    assert default_cache_dir({}, "darwin") == Path.home() / "Library" / "Caches" / "session-mcp"
    assert default_cache_dir({"LOCALAPPDATA": "/c/Local"}, "win32") == Path("/c/Local/session-mcp")
    assert default_cache_dir({}, "win32") == Path.home() / "AppData" / "Local" / "session-mcp"
    assert default_cache_dir({"XDG_CACHE_HOME": "/x/cache"}, "darwin") == Path("/x/cache/session-mcp")


WRITER = """
import sys
from session_mcp.companion.disk_cache import DiskCache
from session_mcp.companion.models import SessionDetail
from session_mcp.simulator import Simulator
sessions = [SessionDetail.model_validate(s) for s in Simulator(anchor=1_790_000_000, session_count=60,
            api_keys={"demo": int(sys.argv[2])}).sessions_of("demo")]
with DiskCache(__import__("pathlib").Path(sys.argv[1]), "shared") as cache:
    for session in sessions:  # one transaction per session: as many lock handovers as possible
        cache.put_many([session])
        cache.get_many([session.id])
"""


def test_concurrent_processes_share_one_cache(tmp_path: Path) -> None:
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(seed)], env=env, stderr=subprocess.PIPE)
        for seed in (1, 2, 3)
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors.decode()
    with DiskCache(tmp_path, "shared") as cache:
        entries, _ = cache.stats()
    expected = {
        s["id"]
        for seed in (1, 2, 3)
        for s in Simulator(anchor=ANCHOR, session_count=60, api_keys={"demo": seed}).sessions_of("demo")
        if SessionDetail.model_validate(s).is_closed
    }
    assert entries == len(expected)


def _locked(path: Path) -> sqlite3.Connection:
    """A second connection holding an exclusive lock on ``path``, as another process would."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def test_a_busy_cache_is_skipped_with_a_warning_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with DiskCache(tmp_path, "fp", busy_timeout=0.05) as cache:
        cache.put_many(CLOSED[:1])
        holder = _locked(cache.path)
        try:
            assert cache.put_many(CLOSED[1:3]) == 0
            assert set(cache.get_many([s.id for s in CLOSED[:3]])) <= {CLOSED[0].id}  # WAL: reads go on
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert "could not write" in caplog.text and "locked" in caplog.text
        assert cache.put_many(CLOSED[1:3]) == 2  # usable again once released
    assert not cache.path.with_suffix(".broken").exists()


def test_a_locked_file_is_a_busy_error_and_not_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "sessions-fp.sqlite3"
    plain = sqlite3.connect(path)  # a rollback journal, so an exclusive lock keeps readers out too
    plain.execute("CREATE TABLE t (x)")
    plain.close()
    holder = _locked(path)
    try:
        with pytest.raises(DiskCacheBusyError, match=r"the cache file .* cannot be opened now: database is locked"):
            DiskCache(tmp_path, "fp", busy_timeout=0.05)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not path.with_suffix(".broken").exists()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone() == (0,)


# -- the folder and the file are checked, damage is dealt with once -----------------------------


def test_a_folder_open_to_others_is_closed_and_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    with DiskCache(directory, "fp") as cache:
        cache.put_many(CLOSED[:1])
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert caplog.text.count("was open to other users (mode 0755); it is now 0700") == 1
    caplog.clear()
    with DiskCache(directory, "fp") as cache:
        assert set(cache.get_many([CLOSED[0].id])) == {CLOSED[0].id}  # its entries are kept
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        pytest.param(lambda d: d.symlink_to(d.parent / "elsewhere", target_is_directory=True), "is a symbolic link",
                     id="link"),
        pytest.param(lambda d: d.write_text("x"), "is not a folder", id="file"),
        pytest.param(lambda d: (d.mkdir(mode=0o700), os.chown(d, 4321, 4321)), "belongs to another user (uid 4321)",
                     id="another-user"),
    ],
)  # fmt: skip
def test_a_folder_that_is_not_this_users_own_is_refused(
    tmp_path: Path, make: Callable[[Path], object], refused: str
) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o777)
    directory = tmp_path / "cache"
    make(directory)
    before = directory.lstat()
    with pytest.raises(DiskCacheError, match=rf"the cache folder {directory} {re.escape(refused)}.*--cache-dir"):
        DiskCache(directory, "fp")
    after = directory.lstat()
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)  # not followed, not tightened
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_a_cache_file_that_is_a_link_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"someone else's file")
    directory = tmp_path / "cache"
    directory.mkdir(mode=0o700)
    (directory / "sessions-fp.sqlite3").symlink_to(victim)
    with pytest.raises(DiskCacheError, match="cannot use the cache directory"):
        DiskCache(directory, "fp")
    assert victim.read_bytes() == b"someone else's file"


def test_a_second_broken_file_does_not_overwrite_the_first(tmp_path: Path) -> None:
    path = tmp_path / "sessions-fp.sqlite3"
    for garbage in (b"first broken file " * 100, b"second broken file " * 100, b"third " * 100):
        path.write_bytes(garbage)
        DiskCache(tmp_path, "fp").close()
    assert (tmp_path / "sessions-fp.broken").read_bytes() == b"first broken file " * 100
    assert (tmp_path / "sessions-fp.2.broken").read_bytes() == b"second broken file " * 100
    assert (tmp_path / "sessions-fp.3.broken").read_bytes() == b"third " * 100


def damage_every_page_but_the_first(path: Path) -> None:
    """Overwrite the tables' pages but keep the header and the schema: it opens, its queries fail."""
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    path.write_bytes(data[:page_size] + b"\xff" * (len(data) - page_size))


@pytest.mark.parametrize("found_by", ["get_many", "put_many"])
def test_damage_a_query_finds_moves_the_file_aside_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, found_by: str
) -> None:
    with DiskCache(tmp_path, "fp") as cache:
        cache.put_many(CLOSED)
        path = cache.path
    damage_every_page_but_the_first(path)
    with DiskCache(tmp_path, "fp") as cache:  # opens: the damage is past the schema
        if found_by == "get_many":
            assert cache.get_many([s.id for s in CLOSED]) == {}
        else:
            assert cache.put_many(CLOSED[:3]) == 0
        assert path.with_suffix(".broken").exists()
        assert caplog.text.count("moved aside") == 1 and "could not" not in caplog.text
        assert cache.put_many(CLOSED[:2]) == 2  # the rest of the run has a sound, empty cache
        assert set(cache.get_many([s.id for s in CLOSED])) == {s.id for s in CLOSED[:2]}
    caplog.clear()
    with DiskCache(tmp_path, "fp") as cache:  # the next run: no warning, the entries of the last one
        assert set(cache.get_many([s.id for s in CLOSED])) == {s.id for s in CLOSED[:2]}
    assert caplog.text == ""
    assert sorted(p.name for p in tmp_path.glob("*.broken")) == ["sessions-fp.broken"]
