"""A local Companion API: the demo backend of ``--demo`` and the backend of the tests.

``Simulator().app`` is an ASGI app; run it in process through ``httpx2.ASGITransport`` or on a
real port with ``serve``.
"""

from __future__ import annotations

import socket

import uvicorn

from session_mcp.simulator.app import Fault, RecordedRequest, Simulator

__all__ = ["Fault", "RecordedRequest", "Simulator", "bind_loopback", "make_server"]


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free one. Connections queue until a server accepts."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def make_server(simulator: Simulator, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for ``simulator``; run it with ``server.run(sockets=[bind_loopback(...)])``."""
    config = uvicorn.Config(simulator.app, log_level=log_level, access_log=False, lifespan="off")
    return uvicorn.Server(config)
