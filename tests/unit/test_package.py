"""The package's shape: the pure tiers stay free of the HTTP client, and the public surface is pinned.

``render``, ``stats`` and ``qa.checks`` turn sessions into answers without I/O; the HTTP client
(``httpx2``) is the Companion API's, two tiers down. An import that drags it in slows every
pure use (the QA checks in CI, a report) and hides an arrow the layers contract cannot see
(``TYPE_CHECKING`` imports, a lazy attribute). The top level exports what httpx would: a small
surface, pinned here as httpx pins its own (``tests/test_exported_members.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import session_mcp
from session_mcp.companion import client
from tests.helpers import ROOT

PURE = ("session_mcp.render", "session_mcp.stats", "session_mcp.qa.checks")
CLIENT = "httpx2"

# In a fresh interpreter: every module of the pure packages, one at a time, then the client itself
# (the control: the probe sees httpx2 when it is there). Prints the client's modules after each.
PROBE = f"""
import importlib, json, pkgutil, sys
loaded = {{}}
for name in {PURE!r}:
    module = importlib.import_module(name)
    names = [name] + [m.name for m in pkgutil.walk_packages(getattr(module, "__path__", []), name + ".")]
    for each in names:
        importlib.import_module(each)
        loaded[each] = {CLIENT!r} in sys.modules
importlib.import_module("session_mcp.companion.client")
loaded["control"] = {CLIENT!r} in sys.modules
print(json.dumps(loaded))
"""

EXPORTED = [
    "AuthenticationError",
    "BadRequestError",
    "CompanionClient",
    "CompanionError",
    "ConflictError",
    "InvalidInputError",
    "InvalidResponseError",
    "NotFoundError",
    "RateLimitedError",
    "RetryPolicy",
    "UpstreamUnavailableError",
    "__version__",
]


def test_the_pure_tiers_do_not_import_the_http_client() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded.pop("control") is True  # the probe sees the client when it is loaded
    assert {"session_mcp.render.page", "session_mcp.stats.figures", "session_mcp.qa.checks"} <= set(loaded)
    # In import order: the first named is the one that pulled it in (or imported the one that did).
    assert [name for name, pulled in loaded.items() if pulled] == []


def test_the_exported_names_are_pinned() -> None:
    assert session_mcp.__all__ == EXPORTED


def test_every_exported_name_resolves() -> None:
    for name in session_mcp.__all__:
        assert getattr(session_mcp, name) is not None, name
    # The client's names are loaded on first use (PEP 562), and are the client's own.
    assert session_mcp.CompanionClient is client.CompanionClient
    assert session_mcp.RetryPolicy is client.RetryPolicy
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = session_mcp.NoSuchName
