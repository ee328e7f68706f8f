"""The ``session-mcp`` command: the MCP server, the simulator, and session commands for QA.

Exit status: 0 success, 1 partial (an export that left sessions out), 2 usage or fatal error
(a bad flag or setting, an API or file error), each fatal error one ``session-mcp:`` line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import anyio
import httpx2
from starlette.types import ASGIApp, Receive, Scope, Send

from session_mcp import __version__
from session_mcp.cli.qa import (
    add_annotate_command,
    add_qa_command,
    run_annotate_command,
    run_qa_command,
    run_unwrapped,
)
from session_mcp.cli.sessions import add_session_commands, run_sessions_command, whole_number
from session_mcp.cli.store import add_search_command, add_store_commands, run_store_command
from session_mcp.companion.client import CompanionClient
from session_mcp.config import ENVIRONMENT, LOG_FORMATS, TOOLSETS, ConfigError, Settings, authority, load_settings
from session_mcp.errors import CompanionError
from session_mcp.qa.rules import RulesError, load_rules
from session_mcp.render.common import plural, show_times_in
from session_mcp.sessions.redact import redactor
from session_mcp.sessions.window_words import zone_named
from session_mcp.store.base import StoreError

DEMO_KEY = "demo"
DEMO_BASE_URL = "http://simulator.local"
EXIT_FATAL = 2  # usage or fatal error, like argparse's own; 1 is a partial result


def fail(message: str) -> NoReturn:
    """Stop with ``message`` as one line on stderr and the fatal exit status."""
    print(f"session-mcp: {message}", file=sys.stderr)
    sys.exit(EXIT_FATAL)


def env_help(text: str, setting: str) -> str:
    """Help ``text`` naming the environment variable that sets the same setting."""
    return f"{text} (env {ENVIRONMENT[setting]})"


class DemoApp:
    """The ``--demo`` simulator's ASGI app, imported and built at its first request.

    Its sessions are generated in the constructor; the first ``initialize`` and ``tools/list``
    need none of them, so a host's start-up does not wait for them (bench/cold_start.py).
    """

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:  # no await before the assignment: built once even under concurrent requests
            from session_mcp.simulator import Simulator

            self._app = Simulator(api_keys={DEMO_KEY: 7}).app
        await self._app(scope, receive, send)


def make_client(settings: Settings) -> CompanionClient:
    """The client the settings describe; ``--demo`` runs it against an in-process simulator."""
    max_bytes = settings.max_response_mb * 1024 * 1024
    if settings.demo:
        transport = httpx2.ASGITransport(app=DemoApp())
        return CompanionClient(
            DEMO_KEY, DEMO_BASE_URL, transport=transport, timeout=settings.timeout, max_response_bytes=max_bytes
        )
    return CompanionClient(settings.api_key, settings.base_url, timeout=settings.timeout, max_response_bytes=max_bytes)


def switch(group: Any, flag: str, help_text: str, default: Any = None) -> None:
    """An on/off flag: ``True`` when given, else ``default`` (``None``: the setting's environment variable decides)."""
    group.add_argument(flag, action="store_const", const=True, default=default, help=help_text)


def connection_flags(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """Flags every command that talks to the API shares.

    Subcommands repeat them with ``default=argparse.SUPPRESS``, so a flag given before the
    subcommand (``session-mcp --demo sessions list``) is not reset by the subcommand's default.
    """
    group = parser.add_argument_group("Companion API")
    switch(group, "--demo", env_help("use the built-in simulator; no key needed", "demo"), default=default)
    group.add_argument(
        "--base-url",
        default=default,
        help=env_help("API base URL, default https://companion-api.napster.com", "base_url"),
    )
    group.add_argument(
        "--timeout", type=float, default=default, help=env_help("seconds per request, default 30", "timeout")
    )
    switch(group, "--redact-pii", env_help("mask emails, phones and card numbers", "redact_pii"), default=default)
    group.add_argument(
        "--log-level", default=default, help=env_help("DEBUG, INFO, WARNING (default) or ERROR", "log_level")
    )
    group.add_argument(
        "--timezone",
        metavar="ZONE",
        default=default,
        help=env_help("IANA time zone of days, weeks and times shown (e.g. America/New_York), default UTC", "timezone"),
    )


def store_flags(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """Where the session store is, or none; repeated on subcommands like ``connection_flags``."""
    group = parser.add_argument_group("session store")
    group.add_argument(
        "--store",
        metavar="PATH|URL",
        default=default,
        help=env_help(
            "the store's file, default in the platform's data folder (with --demo: none); or a "
            "postgresql://USER:PASSWORD@HOST/DB URL to share one store between servers",
            "store",
        ),
    )
    switch(group, "--no-store", env_help("no store: read the API for every question", "no_store"), default=default)
    group.add_argument(
        "--retain-days",
        metavar="DAYS",
        default=default,
        help=env_help("delete stored sessions older than this after a sync (default 90; 0: keep all)", "retain_days"),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="session-mcp",
        # No abbreviations: each new flag would break an old one's (``store purge --all`` read as ``--allow-remote``).
        allow_abbrev=False,
        description="MCP server for Napster Companion API sessions. With no command, serves MCP (stdio by default).",
        epilog="Secrets are read from the environment, never from the command line: the API key from "
        "NAPSTER_API_KEY, and the bearer token HTTP clients must send (Authorization: Bearer <token>) from "
        "SESSION_MCP_AUTH_TOKEN. Exit status: 0 success, 1 partial (an export left sessions out), 2 usage or "
        "fatal error.",
    )
    parser.add_argument("--version", action="version", version=f"session-mcp {__version__}")
    connection_flags(parser)
    store_flags(parser)
    serve = parser.add_argument_group("serving")
    serve.add_argument(
        "--transport", choices=["stdio", "http"], help=env_help("stdio (default) or Streamable HTTP", "transport")
    )
    serve.add_argument("--host", help=env_help("HTTP bind address, default 127.0.0.1", "host"))
    serve.add_argument("--port", type=int, help=env_help("HTTP port, default 8000", "port"))
    switch(serve, "--allow-remote", env_help("allow binding beyond loopback", "allow_remote"))
    serve.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="NAME",
        help=env_help("a Host header to accept besides loopback, repeatable", "allowed_hosts"),
    )
    switch(serve, "--read-only", env_help("no tool that creates sessions", "read_only"))
    serve.add_argument(
        "--tools",
        dest="toolsets",
        metavar="SETS",
        help=env_help(f"the toolsets served, a comma list of {','.join(TOOLSETS)} or all (default)", "toolsets"),
    )
    serve.add_argument(
        "--log-format", choices=LOG_FORMATS, help=env_help("text (default) or json: one object per line", "log_format")
    )
    serve.add_argument(
        "--qa-rules",
        metavar="FILE",
        help=env_help("QA rules (TOML) for review_sessions and the QA prompts", "qa_rules"),
    )
    serve.add_argument(
        "--max-sessions",
        type=int,
        help=env_help("HTTP: sessions open at once, for clients before 2026-07-28, default 200", "max_sessions"),
    )
    serve.add_argument(
        "--session-idle-timeout",
        type=float,
        metavar="SECONDS",
        help=env_help("HTTP: a session without a request this long is closed, default 300", "session_idle_timeout"),
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help=env_help("HTTP: connections served at once; a request beyond gets 503, default 1000", "max_connections"),
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        metavar="SECONDS",
        help=env_help(
            "HTTP: a request's headers must arrive within this, else it is closed, default 10", "header_timeout"
        ),
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        metavar="SECONDS",
        help=env_help("HTTP: a request's body must arrive within this, else it is closed, default 30", "body_timeout"),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    sim = commands.add_parser("simulator", help="serve the local Companion API simulator on 127.0.0.1")
    # The simulator's flags set no server setting, so no environment variable stands for them.
    sim.add_argument(
        "--port", type=whole_number(0, 65_535), default=8787, dest="sim_port", help="port on 127.0.0.1 (default 8787)"
    )
    sim.add_argument("--api-key", default=DEMO_KEY, help="the key it accepts (default 'demo')")
    sim.add_argument("--seed", type=int, default=7, help="seed of the demo data (default 7)")
    sim.add_argument(
        "--latency-ms", type=whole_number(0), default=0, help="added to every answer, to test timing (default 0)"
    )
    sim.add_argument(
        "--sessions",
        type=whole_number(0),
        help="how many demo sessions (default: as many as --demo serves)",  # its count lives in the simulator
    )
    session_actions = add_session_commands(commands, lambda sub: connection_flags(sub, default=argparse.SUPPRESS))
    add_search_command(session_actions, subcommand_flags)
    add_qa_command(commands, subcommand_flags)
    add_annotate_command(commands.choices["qa"], subcommand_flags)
    add_store_commands(commands, subcommand_flags)
    return parser


def subcommand_flags(parser: argparse.ArgumentParser) -> None:
    """The connection and store flags of a subcommand that uses the store."""
    connection_flags(parser, default=argparse.SUPPRESS)
    store_flags(parser, default=argparse.SUPPRESS)


SETTING_FLAGS = ("demo", "base_url", "timeout", "redact_pii", "log_level", "transport", "host", "port",
                 "allow_remote", "allowed_hosts", "read_only", "max_sessions", "session_idle_timeout",
                 "max_connections", "header_timeout", "body_timeout", "qa_rules", "store", "no_store",
                 "retain_days", "toolsets", "log_format", "timezone")  # fmt: skip


def checked_settings(flags: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Settings, and the QA rules file loaded once: a bad one fails at start-up, naming the rule and the problem."""
    settings = load_settings(flags, env)
    if settings.qa_rules is not None:
        try:
            load_rules(settings.qa_rules)
        except RulesError as exc:
            source = "--qa-rules" if flags.get("qa_rules") is not None else ENVIRONMENT["qa_rules"]
            raise ConfigError(f"{source}: {exc}") from None
    return settings


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    if args.command == "simulator":
        run_simulator(args)
        return
    flags = {name: getattr(args, name, None) for name in SETTING_FLAGS}
    try:
        settings = checked_settings(flags, os.environ)
    except ConfigError as exc:
        fail(str(exc))
    args.timezone = settings.timezone  # the commands' windows, from the flag or SESSION_MCP_TIMEZONE
    configure_logging(settings)
    if args.command == "qa" and getattr(args, "qa_action", None) == "annotate":
        sys.exit(run_annotate_command(args, settings, make_client))
    if args.command == "qa":
        sys.exit(run_qa_command(args, settings, make_client))
    if args.command in ("sync", "store") or (args.command == "sessions" and args.action == "search"):
        try:
            status = run_unwrapped(anyio.run, store_command, args, settings)
        except (CompanionError, StoreError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            sys.exit("session-mcp: interrupted; the store keeps every session stored so far: sync again to go on.")
        sys.exit(status)
    if args.command == "sessions":
        try:
            status = anyio.run(sessions, args, settings)
        except CompanionError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot use {exc.filename or 'the file'}: {exc.strerror or exc}.")
        except KeyboardInterrupt:
            sys.exit("session-mcp: interrupted; run the same command again to resume an export.")
        if status:
            sys.exit(status)
        return
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(serve, settings, arguments)


def entry() -> NoReturn:
    """The ``session-mcp`` command (``main``), ended without the interpreter's teardown.

    When ``main`` is done, its files are closed and its store too; the teardown would then free every
    object one by one, 0.05 s after a short command and 0.1 s after a ``qa`` of 50,000 sessions (a
    twentieth of a warm one), for nothing. Output is flushed first; an exception other than
    ``SystemExit`` ends the process as it always did, with its traceback.
    """
    for name in ("stdout", "stderr"):  # started with it closed (``>&-``): Python gives None, a write a traceback
        if getattr(sys, name) is None:
            setattr(sys, name, Path(os.devnull).open("w", encoding="utf-8"))  # noqa: SIM115 (open for the process)
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):  # as the interpreter does: the message, status 1
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: the interpreter's own exit, as before
            sys.exit(code)
    logging.shutdown()
    os._exit(code or 0)


async def store_command(args: argparse.Namespace, settings: Settings) -> int:
    async with make_client(settings) as client:
        return await run_store_command(args, settings, client, sys.stdout)


async def sessions(args: argparse.Namespace, settings: Settings) -> int:
    async with make_client(settings) as client:
        shown = redactor(settings.redact_pii)
        return await run_sessions_command(args, client, shown, settings.concurrency, sys.stdout)


def configure_logging(settings: Settings) -> None:
    """Logs go to stderr: stdout belongs to the MCP protocol on stdio.

    JSON lines need the server's logging module (and the MCP SDK it sits beside): imported only then,
    so a session command in text mode starts without the SDK.
    """
    if settings.log_format == "json":
        from session_mcp.server.logs import configure_json_logging

        configure_json_logging(settings)
        return
    level = settings.log_level
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, logging.getLevelName(level)))


async def serve(settings: Settings, arguments: list[str]) -> None:
    # The port first: one taken is one line and exit 2 at once, before building anything or announcing.
    sock = listen_or_fail(settings.host, settings.port) if settings.transport == "http" else None
    show_times_in(zone_named(settings.timezone))  # every answer's times, unless a call names its own zone
    from session_mcp.server import build_server
    from session_mcp.server.transport import attach_hint, serve_http

    async with make_client(settings) as client:
        server = build_server(client, settings)
        if sock is not None:
            await serve_http(server, settings, sock)
            return
        if sys.stdin.isatty():
            signal.signal(signal.SIGINT, quit_at_once)
            print(attach_hint(arguments, demo=settings.demo), file=sys.stderr)
        await server.run_stdio_async()


def listen_or_fail(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, or one line saying why not and the fatal exit status."""
    from session_mcp.simulator import bind_loopback

    try:
        return bind_loopback(host, port)
    except OSError as exc:
        advice = {
            errno.EADDRINUSE: "another program listens there: stop it or choose another --port",
            errno.EACCES: "this user may not listen on that port: choose one from 1024 up with --port",
        }.get(exc.errno or 0, "check --host and --port")
        fail(f"cannot listen on {authority(host, port)}: {exc.strerror or exc}; {advice}.")


def quit_at_once(signum: int, frame: FrameType | None) -> None:
    """Ctrl+C at a terminal: exit now, with status 130 (128 + SIGINT).

    A clean shutdown would wait for the thread blocked reading stdin, that is for Enter or Ctrl+D;
    at a terminal nothing is connected that a hard exit could leave half-answered.
    """
    sys.stderr.write("\nsession-mcp: stopped (Ctrl+C).\n")
    sys.stderr.flush()
    os._exit(130)


def run_simulator(args: Any) -> None:
    from session_mcp.simulator import Simulator, make_server
    from session_mcp.simulator.data import DEFAULT_SESSION_COUNT

    session_count = DEFAULT_SESSION_COUNT if args.sessions is None else args.sessions
    simulator = Simulator(
        api_keys={args.api_key: args.seed}, latency=args.latency_ms / 1000, session_count=session_count
    )
    sock = listen_or_fail("127.0.0.1", args.sim_port)
    port = sock.getsockname()[1]
    count = len(simulator.sessions_of(args.api_key))
    print(
        f"Companion API simulator on http://127.0.0.1:{port} ({plural(count, 'session')}, key {args.api_key!r}).\n"
        f"Point the server at it: NAPSTER_API_BASE_URL=http://127.0.0.1:{port} NAPSTER_API_KEY={args.api_key} "
        "session-mcp",
        file=sys.stderr,
    )
    started = time.monotonic()
    try:
        make_server(simulator.app, log_level="info").run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        print(f"Simulator stopped after {time.monotonic() - started:.0f} s.", file=sys.stderr)
