"""One waiting thread of the process for the SQLite store's searches: a cheaper hop than ``anyio.to_thread``.

A search of a rare word takes about a millisecond of SQL and Python, and its hop off the event loop
was a large share of what the store adds to the SQL: ``anyio.to_thread.run_sync`` (the store's
``run``: a capacity limiter, a worker found or started, its result sent back) took ~75 us bare and
~210 us of wall and of CPU time beside a search (1,000 and 50,000 sessions, interleaved with the same
search run on the loop), a thread that waits on a queue and answers through ``call_soon_threadsafe``
~35 us bare and ~90 us beside a search. SQLite still never runs on the event loop:
the work goes to this thread, which takes the store's lock (``SqliteStore.call``) as any worker does.
One thread serves every store of the process (a process has one store; tests open many, one after
the other); it is a daemon, started at the first search, waiting on its queue when idle.

A cancelled caller stops waiting at once (``anyio.to_thread`` makes it wait for the thread); the
search it asked for ends in the thread (bounded by the store's ``SEARCH_SECONDS``) and its result
is dropped, and one still queued when its caller left is never run.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any], threading.Event]
_jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
_starting = threading.Lock()
_thread: list[threading.Thread] = []  # the thread, once started (a forked child has it, not alive: started anew)


def _settle(future: asyncio.Future[Any], failed: bool, outcome: Any) -> None:
    """On the event loop: the job's result or exception, unless its caller stopped waiting."""
    if future.done():
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _serve() -> None:
    while True:
        _run(*_jobs.get())  # no job's objects kept alive while waiting for the next


def _run(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], work: Callable[[], Any], gone: threading.Event
) -> None:
    """One job, unless its caller left before it started: cancelled searches queued behind a long one must not
    each run in turn, holding the store's lock, for nobody."""
    if gone.is_set():
        return
    try:
        failed, outcome = False, work()
    except BaseException as exc:  # the caller's to raise, in its task: this thread serves the next job
        failed, outcome = True, exc
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
        loop.call_soon_threadsafe(_settle, future, failed, outcome)


def _start() -> None:
    with _starting:
        if not (_thread and _thread[0].is_alive()):
            thread = threading.Thread(target=_serve, name="session-mcp-search", daemon=True)
            thread.start()
            _thread[:] = [thread]


async def run_in_search_thread(work: Callable[[], T]) -> T:
    """``work()`` in the search thread; its result, or its exception raised here."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    gone = threading.Event()  # set on the loop when the future is done: answered, or its caller cancelled
    future.add_done_callback(lambda _: gone.set())
    if not (_thread and _thread[0].is_alive()):
        _start()
    _jobs.put((loop, future, work, gone))
    return await future
