"""Big pure work off the event loop: the loop serves every other request and tenant meanwhile."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio

# Above this size (characters of transcript text, or bytes of a body), parsing, redacting,
# rendering or encoding runs on a worker thread: at its worst (the redactor on a run of digits,
# validation of a body of many short turns) that is work the event loop must not be held for.
OFF_LOOP_SIZE = 20_000

P = ParamSpec("P")
T = TypeVar("T")


async def off_loop(size: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, on a worker thread when ``size`` is over ``OFF_LOOP_SIZE``.

    Small work stays on the loop (a thread hop costs more than it saves); big work moves off
    it, so one tenant's huge transcript does not stall every other request meanwhile.
    """
    if size <= OFF_LOOP_SIZE:
        return fn(*args, **kwargs)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
