"""What `session-mcp` does before its first answer, which a host waits for (bench/cold_start.py).

The demo simulator (its import and its 600 generated sessions) waits for the first request that
reads sessions, and each tool's argument validator for the tool's first call: neither is needed
to answer ``initialize`` or ``tools/list``. Each check runs in a fresh interpreter, so nothing
another test imported or built can hide what start-up does.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

from session_mcp.render.common import plural
from session_mcp.simulator.data import DEFAULT_SESSION_COUNT
from tests.helpers import ROOT

START = """
import sys
import anyio
from mcp import Client
from session_mcp.cli.main import make_client
from session_mcp.config import load_settings
from session_mcp.server import build_server

def report(step):
    simulator = sorted(m for m in sys.modules if m.startswith("session_mcp.simulator"))
    validators = sorted(
        tool.name for tool in server._tool_manager.list_tools() if tool.fn_metadata.arg_model.__pydantic_complete__
    )
    print(step, simulator, validators)

async def main():
    global server
    settings = load_settings({"demo": True}, {})
    async with make_client(settings) as api:  # what `session-mcp --demo` serves, built as cli.serve builds it
        server = build_server(api, settings)
        async with Client(server) as client:
            await client.list_tools()
            report("listed")
            assert not (await client.call_tool("list_sessions", {"page_size": 1})).is_error
            report("called")

anyio.run(main)
"""


def python(code: str) -> list[str]:
    """The lines ``code`` prints in a fresh interpreter with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_first_answers_need_neither_the_demo_simulator_nor_argument_validators() -> None:
    listed, called = python(START)
    assert listed == "listed [] []"
    assert "'session_mcp.simulator'" in called  # the first call that reads sessions built it
    assert called.endswith("['list_sessions']")  # and the called tool's validator, only that one


def test_the_simulator_command_serves_the_demo_count_by_default() -> None:
    """``--sessions`` left out: as many sessions as ``--demo`` serves."""
    command = [sys.executable, "-m", "session_mcp", "simulator", "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        ready, _, _ = select.select([process.stderr], [], [], deadline - time.monotonic())
        assert ready, "the simulator printed nothing"
        first = process.stderr.readline().decode()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert f"({plural(DEFAULT_SESSION_COUNT, 'session')}, key 'demo')" in first
