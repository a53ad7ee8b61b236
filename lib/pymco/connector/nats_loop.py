"""The one asyncio loop a process's NATS connections run on.

nats-py is asyncio-only while pymcod and mco are thread-based, so every NATS
connector of a process shares one event loop on a daemon thread of its own
("pymco-nats").  One loop rather than one per connector: a fleet simulator
holds thousands of connections in one process, and a thread each would cost
more than the messages.  Library threads reach the loop through `run()`
(wait for a coroutine's result) and `submit()` (fire and forget).  A forked
child starts its own loop: the parent's thread does not survive a fork.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from typing import Any, Coroutine, TypeVar

from pymco.errors import ConnectorError

log = logging.getLogger(__name__)

__all__ = ["loop", "on_loop", "run", "submit"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def _forget() -> None:
    global _loop, _thread
    _loop, _thread = None, None


os.register_at_fork(after_in_child=_forget)


def loop() -> asyncio.AbstractEventLoop:
    """The process's NATS loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            new_loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            _thread = threading.Thread(target=serve, name="pymco-nats", daemon=True)
            _thread.start()
            ready.wait()
            _loop = new_loop
        return _loop


def on_loop() -> bool:
    """True on the loop's own thread, where blocking on the loop would dead-lock."""
    return _thread is not None and threading.current_thread() is _thread


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None, what: str = "NATS operation") -> T:
    """Run `coro` on the loop from another thread and return its result.

    A timeout cancels the coroutine and raises ConnectorError, so a dead
    broker never hangs the caller.
    """
    future = asyncio.run_coroutine_threadsafe(coro, loop())
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise ConnectorError(f"{what} did not finish within {timeout:g}s") from None


def submit(coro: Coroutine[Any, Any, Any]) -> "concurrent.futures.Future[Any]":
    """Schedule `coro` on the loop without waiting; failures are logged."""
    future = asyncio.run_coroutine_threadsafe(coro, loop())
    future.add_done_callback(_log_failure)
    return future


def _log_failure(future: "concurrent.futures.Future[Any]") -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("NATS operation failed: %s", future.exception())
