"""The search thread: work runs off the event loop, its result or exception comes back, a cancelled caller
stops waiting at once and the thread goes on serving."""

from __future__ import annotations

import threading

import anyio
import pytest

from session_mcp.store.base import StoreError
from session_mcp.store.search_thread import run_in_search_thread


@pytest.mark.anyio
async def test_work_runs_off_the_event_loop_and_returns_its_result() -> None:
    loop_thread = threading.get_ident()
    ran_in = await run_in_search_thread(threading.get_ident)
    assert ran_in != loop_thread
    assert await run_in_search_thread(lambda: 6 * 7) == 42


@pytest.mark.anyio
async def test_an_exception_is_raised_in_the_caller_and_the_thread_serves_on() -> None:
    def fail() -> None:
        raise StoreError("the store is busy")

    with pytest.raises(StoreError, match="busy"):
        await run_in_search_thread(fail)
    assert await run_in_search_thread(lambda: "next") == "next"


@pytest.mark.anyio
async def test_a_cancelled_caller_stops_waiting_and_the_work_still_ends() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(timeout=30)
        finished.set()
        return "dropped"

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:

            async def call() -> None:
                await run_in_search_thread(slow)
                pytest.fail("a cancelled caller got a result")

            group.start_soon(call)
            await anyio.to_thread.run_sync(started.wait)  # the work is running in the search thread
            scope.cancel()
    assert scope.cancelled_caught and not finished.is_set()  # the caller left while the work ran
    release.set()
    assert await run_in_search_thread(lambda: "after") == "after"  # served after the dropped job
    assert finished.is_set()


@pytest.mark.anyio
async def test_work_whose_caller_left_before_it_started_never_runs() -> None:
    """Searches cancelled while queued behind a long one do not each run in turn for nobody."""
    started, release = threading.Event(), threading.Event()
    ran: list[int] = []

    def slow() -> None:
        started.set()
        release.wait(timeout=30)

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(run_in_search_thread, slow)
            await anyio.to_thread.run_sync(started.wait)  # the thread is busy with the long one
            for number in range(5):
                group.start_soon(run_in_search_thread, lambda n=number: ran.append(n))
            await anyio.wait_all_tasks_blocked()  # all five queued
            scope.cancel()
    release.set()
    assert await run_in_search_thread(lambda: "after") == "after"  # the thread served on, past the five
    assert ran == []
