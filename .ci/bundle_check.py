"""The MCP Bundle as Claude Desktop installs it: pack, check, unpack, start it with uv, list its tools.

0. ``uv lock --check``: uv.lock is the lock of pyproject.toml as it is now.
1. ``mcpb pack`` the repository as a developer's checkout is, compiled caches included (the
   ``.mcpbignore`` decides what goes in).
2. The bundle holds exactly the tracked files of ``session_mcp/`` and the five top-level files the
   host needs; print the list, the file count and the sizes, and refuse a bundle over SIZE_LIMIT.
3. ``mcpb unpack`` it into a fresh folder and build the command as the host does, with mcpb's own
   ``getMcpConfigForManifest`` (``${__dirname}`` and ``${user_config.*}`` from the manifest's
   defaults, demo mode on).
4. Start that command (``uv run --frozen ...``, so uv installs uv.lock's pins from the package index
   into the bundle's ``.venv``) over stdio with the SDK client: initialize, ``tools/list``. Time it
   from spawn to the answer on a fresh uv cache (the first start) and again (a warm start).
5. With demo mode off and no key, the server must refuse to start, pointing to the extension settings.

Needs node/npm (the mcpb package), ``uv`` on PATH and the package index. The server sees only what
a host gives it: the SDK's minimal environment, the manifest's ``env``, plus how uv reaches the
index here (``SSL_CERT_FILE`` and the index URL, read from this environment or pip's configuration
at run time, never written down).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
MCPB = "@anthropic-ai/mcpb@2.1.2"
TOP_LEVEL = {"manifest.json", "pyproject.toml", "uv.lock", "README.md", "LICENSE"}
SIZE_LIMIT = 1_000_000  # bytes of the packed bundle; about 430 kB today (85 files)
START_DEADLINE = 600  # seconds for the first start: uv downloads every dependency
REFUSAL_DEADLINE = 120

# The host's substitution, by the code hosts share (mcpb's shared/config.js); prints {command, args, env}.
HOST_CONFIG_SCRIPT = """
import { readFileSync } from "node:fs";
const [modulePath, manifestPath, extensionPath, userConfig] = process.argv.slice(1);
const { getMcpConfigForManifest } = await import(modulePath);
const config = await getMcpConfigForManifest({
  manifest: JSON.parse(readFileSync(manifestPath, "utf8")),
  extensionPath,
  systemDirs: { HOME: process.env.HOME },
  userConfig: JSON.parse(userConfig),
  pathSeparator: "/",
});
process.stdout.write(JSON.stringify(config));
"""


def run(*command: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run a command in the checkout (``env`` over this environment): its stdout, or exit with its output."""
    done = subprocess.run(
        [str(part) for part in command],
        cwd=ROOT,
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bundle check: {' '.join(map(str, command))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def install_mcpb(into: Path) -> Path:
    """The mcpb package in its own folder: the CLI and the config code a host runs."""
    run("npm", "install", "--prefix", into, "--no-audit", "--no-fund", "--loglevel=error", MCPB)
    return into / "node_modules" / "@anthropic-ai" / "mcpb"


def pip_config() -> dict[str, str]:
    """pip's settings as ``pip config list`` shows them (files and PIP_* variables): name -> value."""
    listed = run(sys.executable, "-m", "pip", "config", "list")
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        name, _, value = line.partition("=")
        settings[name.split(".", 1)[-1]] = value.strip().strip("'\"")
    return settings


def index_environment() -> dict[str, str]:
    """How uv reaches the package index on this machine, as pip is told, for the server's uv.

    An inspecting proxy needs the system CA bundle (uv trusts only its built-in roots otherwise);
    a primary index other than PyPI is passed on as UV_DEFAULT_INDEX. pip's extra indexes and
    find-links are local to this machine and not passed: the bundle installs from PyPI, as a user's.
    """
    pip = pip_config()
    env: dict[str, str] = {}
    cert = os.environ.get("SSL_CERT_FILE") or pip.get("cert")
    if cert:
        env["SSL_CERT_FILE"] = cert
    index = os.environ.get("UV_DEFAULT_INDEX") or pip.get("index-url")
    if index:
        env["UV_DEFAULT_INDEX"] = index
    return env


def check_contents(bundle: Path) -> None:
    """Exactly the package's tracked files and TOP_LEVEL; print them with the sizes."""
    tracked = set(run("git", "ls-files", "session_mcp").split())
    with zipfile.ZipFile(bundle) as archive:
        entries = {info.filename: info.file_size for info in archive.infolist() if not info.is_dir()}
    for name in sorted(entries):
        print(f"  {entries[name]:>8,}  {name}")
    packed = bundle.stat().st_size
    print(f"bundle: {len(entries)} files, {packed:,} bytes packed, {sum(entries.values()):,} bytes unpacked")
    expected = tracked | TOP_LEVEL
    extra, missing = sorted(set(entries) - expected), sorted(expected - set(entries))
    if extra or missing:
        raise SystemExit(f"bundle check: unexpected files {extra}, missing files {missing}: see .mcpbignore")
    if packed > SIZE_LIMIT:
        raise SystemExit(f"bundle check: {packed:,} bytes is over the {SIZE_LIMIT:,}-byte limit")


def host_command(
    mcpb: Path, extension: Path, user_config: dict[str, Any], extra_env: dict[str, str]
) -> StdioServerParameters:
    """The manifest's mcp_config as the host resolves it, for an extension unpacked at ``extension``."""
    resolved = json.loads(
        run(
            "node",
            "--input-type=module",
            "-e",
            HOST_CONFIG_SCRIPT,
            (mcpb / "dist" / "index.js").as_uri(),
            extension / "manifest.json",
            extension,
            json.dumps(user_config),
        )
    )
    env = resolved.get("env", {}) | extra_env
    # The host starts the server from its own folder, not from this checkout.
    return StdioServerParameters(command=resolved["command"], args=resolved["args"], env=env, cwd=extension.parent)


async def time_tools_list(params: StdioServerParameters) -> tuple[float, list[str]]:
    """Seconds from spawn to the tools/list answer, and the tool names."""
    started = time.perf_counter()
    with anyio.fail_after(START_DEADLINE):
        async with Client(params, cache=None) as client:
            tools = await client.list_tools()
            return time.perf_counter() - started, [tool.name for tool in tools.tools]


def check_refusal_without_key(params: StdioServerParameters) -> None:
    """Demo off and no key: one line on stderr that sends a bundle user to the extension settings."""
    env = {key: os.environ[key] for key in ("HOME", "PATH") if key in os.environ} | (params.env or {})
    done = subprocess.run(
        [params.command, *params.args],
        env=env,
        cwd=params.cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=REFUSAL_DEADLINE,
        check=False,
    )
    last = done.stderr.strip().splitlines()[-1:] or [""]
    if done.returncode == 0 or "extension settings" not in last[0] or done.stdout:
        raise SystemExit(f"bundle check: without a key the bundle should refuse to start, got:\n{done.stderr}")
    print(f"without a key: exit {done.returncode}, {last[0]}")


def main() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="bundle-check-") as scratch:
        work = Path(scratch)
        passed = index_environment()
        print(f"uv reaches the index with: {', '.join(sorted(passed)) or 'the defaults'}")
        run("uv", "lock", "--check", env=passed)
        print("uv.lock: up to date with pyproject.toml")

        mcpb = install_mcpb(work / "mcpb")
        cli = mcpb.parent.parent / ".bin" / "mcpb"
        bundle = work / "session-mcp.mcpb"
        run(sys.executable, "-m", "compileall", "-q", "session_mcp")  # nested __pycache__ that must stay out
        run(cli, "pack", ROOT, bundle)
        check_contents(bundle)

        extension = work / "extensions" / manifest["name"]
        run(cli, "unpack", bundle, extension)
        passed |= {"UV_CACHE_DIR": str(work / "uv-cache")}  # an empty cache: a user's first start
        demo = host_command(mcpb, extension, {"demo": True}, passed)
        print(f"host command: {demo.command} {' '.join(demo.args)}")

        cold, tools = anyio.run(time_tools_list, demo)
        warm, _ = anyio.run(time_tools_list, demo)
        in_manifest = {tool["name"] for tool in manifest["tools"]}
        if not tools or not set(tools) <= in_manifest:
            raise SystemExit(f"bundle check: tools {tools} should be among manifest.json's {sorted(in_manifest)}")
        print(f"tools/list: {len(tools)} tools ({', '.join(tools)})")
        print(f"first start (empty uv cache, spawn to tools/list): {cold:.1f} s; warm second start: {warm:.1f} s")

        check_refusal_without_key(host_command(mcpb, extension, {"demo": False}, passed))


if __name__ == "__main__":
    main()
