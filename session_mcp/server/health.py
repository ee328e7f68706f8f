"""``/healthz`` and ``/readyz`` for load balancers and orchestrators, beside ``/mcp`` over HTTP.

Both sit outside the bearer check (a probe holds no token) and say nothing an outsider could use:
``/healthz`` only that the process answers; ``/readyz`` whether the server's key is accepted
upstream and its store opens, with one word of reason when not, never the key or the URL. The
readiness check costs one list request of one row, made at most every ``READY_TTL`` seconds
whatever the probe rate, and never longer than ``CHECK_TIMEOUT``.
"""

from __future__ import annotations

import math
import os
import time

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse

from session_mcp.companion.client import CompanionClient
from session_mcp.config import Settings
from session_mcp.errors import AuthenticationError, CompanionError
from session_mcp.store.base import StoreError
from session_mcp.store.open import StoreLocation, open_store

OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # served without the bearer token
READY_TTL = 10.0  # seconds a readiness answer is reused
CHECK_TIMEOUT = 5.0  # seconds one readiness check may take; past it: "timeout"
NO_STORE = {"Cache-Control": "no-store"}


class Readiness:
    """Whether the server can serve: its key accepted upstream, its store reachable; checked briefly cached."""

    def __init__(self, client: CompanionClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.checked_at = -math.inf
        self.reason: str | None = None
        self.lock = anyio.Lock()  # probes arriving together share one check

    async def not_ready(self) -> str | None:
        """``None`` when ready, else one word: ``store``, ``unauthorized``, ``upstream`` or ``timeout``."""
        async with self.lock:
            if time.monotonic() - self.checked_at >= READY_TTL:
                self.reason = "timeout"
                with anyio.move_on_after(CHECK_TIMEOUT):
                    self.reason = await self.check()
                self.checked_at = time.monotonic()
            return self.reason

    async def check(self) -> str | None:
        path = self.settings.store_path(os.environ)
        if path is not None:
            try:
                await anyio.to_thread.run_sync(probe_store, path, abandon_on_cancel=True)
            except (StoreError, OSError):
                return "store"
        if self.settings.api_key is None and not self.settings.demo:
            return None  # no key of its own: every request brings one, so there is none to check
        try:
            await self.client.list_sessions(page_size=1)
        except AuthenticationError:
            return "unauthorized"
        except CompanionError:
            return "upstream"
        return None


def probe_store(path: StoreLocation) -> None:
    """Open the store as the tools would (made and migrated: statements run, a database reached), and close it."""
    open_store(path).close()


def add_health_routes(server: MCPServer, client: CompanionClient, settings: Settings) -> None:
    """Register both routes; they are copied into the HTTP app when it is built, and unused on stdio."""
    readiness = Readiness(client, settings)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"}, headers=NO_STORE)

    async def readyz(request: Request) -> JSONResponse:
        reason = await readiness.not_ready()
        if reason is None:
            return JSONResponse({"status": "ready"}, headers=NO_STORE)
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503, headers=NO_STORE)

    server.custom_route("/healthz", methods=["GET"], include_in_schema=False)(healthz)
    server.custom_route("/readyz", methods=["GET"], include_in_schema=False)(readyz)
