"""The browser kit of the view tests: Node, Debian's Chromium, and pinned npm packages in a cache.

The npm packages (the MCP Apps host bridge, esbuild to bundle it for the page, playwright-core to
drive Chromium without downloading a browser) are installed once per lockfile into a cache folder,
then reused. ``python -m tests.views_harness.kit`` installs them ahead of the tests (CI does).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PINNED = ("package.json", "package-lock.json", "entry.mjs")
REQUIRE_ENV = "SESSION_MCP_REQUIRE_BROWSER"  # set by CI: a missing browser fails instead of skipping
INSTALL_TIMEOUT = 600


def chromium_path() -> str | None:
    """Debian's Chromium (or ``SESSION_MCP_CHROMIUM``), when present."""
    found = os.environ.get("SESSION_MCP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).is_file() else None


def missing_tools(*, browser: bool = True) -> str | None:
    """Why the kit's tests cannot run here, or None when node, npm (and Chromium) are all present."""
    absent = [name for name in ("node", "npm") if shutil.which(name) is None]
    if browser and chromium_path() is None:
        absent.append("chromium (apt-get install chromium)")
    return f"not installed: {', '.join(absent)}" if absent else None


def ready_or_skip(*, browser: bool = True) -> Path:
    """The installed kit; else the test is skipped, or fails where ``REQUIRE_ENV`` is set (CI)."""
    reason = missing_tools(browser=browser)
    if reason is None:
        try:
            return install()
        except (OSError, subprocess.SubprocessError) as exc:
            reason = f"the npm kit could not be installed ({exc})"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{REQUIRE_ENV} is set but {reason}")
    pytest.skip(f"this test needs node, npm{', Chromium' if browser else ''} and the npm registry once: {reason}")


def kit_dir() -> Path:
    """The cache folder for this exact lockfile (a changed pin gets a new folder)."""
    digest = hashlib.sha256(b"".join((HERE / name).read_bytes() for name in PINNED)).hexdigest()[:16]
    base = Path(os.environ.get("SESSION_MCP_TEST_CACHE") or Path.home() / ".cache" / "session-mcp-tests")
    return base / f"views-kit-{digest}"


def install() -> Path:
    """Install the pinned packages and bundle the host bridge for the browser, once per lockfile."""
    target = kit_dir()
    if (target / "bridge.js").is_file():
        return target
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in PINNED:
        shutil.copy(HERE / name, staging / name)
    npm = ["npm", "ci", "--prefix", str(staging), "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(npm, check=True, timeout=INSTALL_TIMEOUT, stdout=sys.stderr)
    esbuild = staging / "node_modules" / ".bin" / "esbuild"
    bundle = [str(esbuild), "entry.mjs", "--bundle", "--format=esm", "--platform=browser", "--outfile=bridge.js"]
    subprocess.run([*bundle, "--log-level=warning"], check=True, cwd=staging, timeout=INSTALL_TIMEOUT)
    try:
        staging.rename(target)
    except OSError:  # another process finished first: keep its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


if __name__ == "__main__":
    reason = missing_tools()
    if reason:
        sys.exit(f"views kit: {reason}")
    print(install())
