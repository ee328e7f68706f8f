"""A local Companion API: the demo backend of ``--demo`` and the backend of the tests.

``Simulator().app`` is an ASGI app; run it in process through ``httpx2.ASGITransport`` or on a
real port with ``serve``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from session_mcp.simulator.app import Fault, RecordedRequest, Simulator

__all__ = ["Fault", "RecordedRequest", "Simulator", "bind_loopback", "make_server", "serve_in_thread"]


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket; port 0 picks a free one. Connections queue until a server accepts."""
    # IPPROTO_TCP (not 0) lets asyncio set TCP_NODELAY on accepted sockets: without it every
    # response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def make_server(app: ASGIApp, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for an ASGI app such as ``Simulator().app``.

    Run it with ``server.run(sockets=[bind_loopback(...)])``.
    """
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off"))


@contextmanager
def serve_in_thread(app: ASGIApp, *, port: int = 0) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 (port 0: a free one) from a thread, for the block; its base URL.

    The socket listens before the thread starts, so requests queue until uvicorn accepts them: no
    readiness polling. For tests and benchmarks, which serve stand-ins this way.
    """
    sock = bind_loopback(port=port)
    server = make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
