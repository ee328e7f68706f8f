"""``--out`` writes to what the path names, never replaces it: ``qa`` reports and ``sessions export``.

Real ``session-mcp`` processes against the test simulator. A device, a FIFO, a socket and
``/dev/stdout`` are written as streams and stay what they were; a symbolic link is written
through (its target replaced, the link kept); a regular file is replaced atomically with its mode.
Devices are made in the test's folder (a copy of ``/dev/null``), and the real ``/dev/null`` and
``/dev/stdout`` are only used once the copy has held, so a regression never breaks the machine's.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

COMMANDS = {
    "qa": ["qa", "--no-cache", "--limit", "5", "--format", "jsonl"],
    "export": ["sessions", "export", "--limit", "3"],
}
FIRST_KEY = {"qa": "session_id", "export": "id"}  # what every line of the report, or the export, begins with


def run(argv: list[str], env: dict[str, str], **options: Any) -> subprocess.CompletedProcess[bytes]:
    """``session-mcp ARGV`` in a process of its own, which must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "session_mcp", *argv],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False, **options,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    return done


def lines_of(data: bytes) -> list[dict[str, object]]:
    """The JSON lines of a report or an export; fails unless there are some, all whole."""
    assert data.endswith(b"\n"), data[-200:]
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert rows and all(isinstance(row, dict) for row in rows)
    return rows


def null_device(folder: Path) -> Path:
    """A character device that is ``/dev/null`` (1, 3), in ``folder``; skips where it cannot be made."""
    path = folder / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device takes root")
    return path


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_character_device_is_written_and_stays_a_device(
    command: str, process_env: dict[str, str], tmp_path: Path
) -> None:
    device = null_device(tmp_path)
    before = device.stat()
    done = run([*COMMANDS[command], "--out", str(device)], process_env)
    after = device.lstat()
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_mode == before.st_mode
    assert done.stdout == b"" or command == "export"  # the report went to the device, not stdout
    assert list(tmp_path.iterdir()) == [device]  # no temporary file left beside it
    # The copy held: now the real one, as a user types it.
    run([*COMMANDS[command], "--out", "/dev/null"], process_env)
    assert stat.S_ISCHR(Path("/dev/null").lstat().st_mode)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_stdout_as_out_sends_the_lines_down_the_pipe(command: str, process_env: dict[str, str], tmp_path: Path) -> None:
    own = tmp_path / "stdout"
    own.symlink_to("/proc/self/fd/1")  # what /dev/stdout is
    for out in (own, Path("/dev/stdout")):  # the real one only once the copy held
        done = run([*COMMANDS[command], "--out", str(out)], process_env)
        rows = lines_of(done.stdout)
        assert all(next(iter(row)) == FIRST_KEY[command] for row in rows) and (command == "qa" or len(rows) == 3)
        assert out.is_symlink() and out.readlink() == Path("/proc/self/fd/1")
        assert done.stderr.decode().count("\n") == 1  # the summary, on stderr, out of the stream


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_fifo_is_written_as_a_stream(command: str, process_env: dict[str, str], tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open before the writer: it need not wait
    try:
        run([*COMMANDS[command], "--out", str(fifo)], process_env)
        received = os.read(reader, 1 << 20)  # a few kB: it all fits the pipe's buffer
    except BlockingIOError:
        received = b""
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert lines_of(received)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_socket_is_connected_to_and_written(command: str, process_env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "report.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        run([*COMMANDS[command], "--out", str(path)], process_env)
        server.setblocking(False)
        try:
            connection, _ = server.accept()  # queued, its data buffered, by the time the process ended
        except BlockingIOError:
            pytest.fail("nothing connected to the socket")
        with connection:
            connection.setblocking(True)
            received = b"".join(iter(lambda: connection.recv(1 << 16), b""))
    assert stat.S_ISSOCK(path.lstat().st_mode)
    assert lines_of(received)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_symlink_is_written_through_and_kept(command: str, process_env: dict[str, str], tmp_path: Path) -> None:
    real = tmp_path / "reports" / "latest.jsonl"
    real.parent.mkdir()
    link = tmp_path / "latest"
    link.symlink_to(real)  # dangling: the first run makes the target, with a new file's mode
    run([*COMMANDS[command], "--out", str(link)], process_env, preexec_fn=lambda: os.umask(0o027))
    assert link.is_symlink() and link.readlink() == real
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # 0666 less the umask, as a shell makes it
    first = lines_of(real.read_bytes())
    real.chmod(0o600)
    run([*COMMANDS[command], "--out", str(link)], process_env)
    assert link.is_symlink() and link.readlink() == real
    assert lines_of(real.read_bytes()) == first  # replaced (qa) or left complete (export)
    assert stat.S_IMODE(real.stat().st_mode) == 0o600  # kept its mode
    assert sorted(p.name for p in real.parent.iterdir()) == ["latest.jsonl"]


def test_a_report_replaces_a_regular_file_whole_with_its_mode(process_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "qa.jsonl"
    out.write_text("an older report\n")
    out.chmod(0o604)
    old_inode = out.stat().st_ino
    run([*COMMANDS["qa"], "--out", str(out)], process_env)
    assert lines_of(out.read_bytes())
    assert stat.S_IMODE(out.stat().st_mode) == 0o604
    assert out.stat().st_ino != old_inode  # a new file renamed over it: no reader saw half a report


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        pytest.param(lambda p: p.mkdir(), "is a folder", id="folder"),
        pytest.param(lambda p: p.symlink_to(p.parent / "missing" / "r.txt"), "does not exist", id="link-nowhere"),
        pytest.param(lambda p: p.symlink_to(p), "Too many levels of symbolic links", id="link-loop"),
    ],
)
def test_an_out_that_cannot_take_a_report_is_one_clear_line(
    process_env: dict[str, str], tmp_path: Path, make: Callable[[Path], None], refused: str
) -> None:
    out = tmp_path / "r.txt"
    make(out)
    done = subprocess.run(
        [sys.executable, "-m", "session_mcp", *COMMANDS["qa"], "--out", str(out)],
        env=process_env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("session-mcp: ") and done.stderr.count("\n") == 1 and refused in done.stderr
