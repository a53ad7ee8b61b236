"""A bounded pool of worker threads whose jobs have deadlines.

The daemon must keep serving while an action hangs and must not grow without
bound under a flood, so: a fixed number of workers, a bounded queue (submit
refuses when full and the caller answers "overloaded"), and a watchdog that,
when a job passes its deadline, kills the process groups it started, raises
`ActionTimeout` in its thread, and lets the job's owner answer.  A worker
stuck in C code cannot be interrupted; the watchdog then starts a replacement
so the pool keeps its size, and the stuck thread exits when it returns.
"""

from __future__ import annotations

import ctypes
import logging
import math
import queue
import threading
import time
from typing import Callable

from pymco.shell import JobContext

log = logging.getLogger(__name__)

__all__ = ["Job", "WorkerPool", "ActionTimeout"]


class ActionTimeout(BaseException):
    """Raised inside a job's thread when the job outlives its deadline.

    A BaseException so that an agent's broad `except Exception` cannot swallow it.
    """


class Job:
    """One unit of work: run(ctx) within timeout seconds, else on_timeout()."""

    def __init__(self, run: Callable[[JobContext], None], timeout: float | None,
                 on_timeout: Callable[[], None], name: str = "job") -> None:
        self.run = run
        self.timeout = timeout
        self.on_timeout = on_timeout
        self.name = name
        self.context = JobContext()
        self.thread: threading.Thread | None = None
        self.started = 0.0
        self.replaced = False  # a stuck job whose worker the watchdog has replaced
        self._state = "queued"  # queued -> running -> done | timedout
        self._lock = threading.Lock()

    def claim(self, state: str) -> bool:
        """Move a running job to `state` once; False if the other side won the race."""
        with self._lock:
            if self._state != "running":
                return False
            self._state = state
            return True

    @property
    def finished(self) -> bool:
        """Whether the job's own code may still answer (False once timed out)."""
        return self._state != "running"


class WorkerPool:
    def __init__(self, workers: int, queue_size: int, name: str = "pymco-worker") -> None:
        self.size = max(1, workers)
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=max(1, queue_size))
        self.name = name
        self._running: set[Job] = set()
        self._lock = threading.Lock()
        self._job_started = threading.Condition(self._lock)  # wakes the watchdog for an earlier deadline
        self._watch_until = 0.0  # when the watchdog looks next (inf: when a job starts)
        self._threads: list[threading.Thread] = []
        self._stopping = False
        for _ in range(self.size):
            self._spawn()
        self._watchdog = threading.Thread(target=self._watch, name=f"{name}-watchdog", daemon=True)
        self._watchdog.start()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads) + 1}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def submit(self, job: Job) -> bool:
        """Queue a job; False (and nothing queued) when the queue is full or stopping."""
        if self._stopping:
            return False
        try:
            self.queue.put_nowait(job)
            return True
        except queue.Full:
            return False

    @property
    def stopping(self) -> bool:
        """Whether shutdown began: new jobs are refused, running ones may finish."""
        return self._stopping

    @property
    def busy(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def queued(self) -> int:
        return self.queue.qsize()

    def _work(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            job.thread = threading.current_thread()
            job.started = time.monotonic()
            if job.timeout:
                job.context.deadline = job.started + job.timeout
            with job._lock:
                job._state = "running"
            with self._lock:
                self._running.add(job)
                deadline = job.context.deadline
                if deadline is not None and deadline < self._watch_until:
                    self._watch_until = deadline
                    self._job_started.notify()
            try:
                with job.context:
                    job.run(job.context)
            except ActionTimeout:
                log.warning("%s was interrupted after its %gs timeout", job.name, job.timeout or 0)
            except Exception:  # noqa: BLE001 - the job owner handles its own errors; this is a last resort
                log.exception("unexpected error in %s", job.name)
            finally:
                job.claim("done")
                with self._lock:
                    self._running.discard(job)
                    overdue = job._state == "timedout" and len(self._live_threads()) > self.size
                if overdue:
                    return  # a replacement took this thread's place while it was stuck

    def _live_threads(self) -> list[threading.Thread]:
        self._threads = [t for t in self._threads if t.is_alive()]
        return self._threads

    def _next_check(self) -> float | None:
        """When the watchdog must look next: the nearest deadline, or a stuck job's second from it."""
        times = [job.context.deadline + (1.0 if job._state == "timedout" else 0.0)
                 for job in self._running if job.context.deadline is not None and not job.replaced]
        return min(times) if times else None

    def _watch(self) -> None:
        # Sleeps until the nearest deadline rather than polling, so an idle
        # daemon costs no wake-ups; a starting job wakes it only when its
        # deadline comes first, so a busy one costs no wake-up per request.
        while True:
            with self._job_started:
                wake = self._next_check()
                self._watch_until = math.inf if wake is None else max(wake, time.monotonic() + 0.05)
                self._job_started.wait(None if wake is None else self._watch_until - time.monotonic())
                running = list(self._running)
            now = time.monotonic()
            for job in running:
                deadline = job.context.deadline
                if deadline is None or now < deadline:
                    continue
                if job.claim("timedout"):
                    self._expire(job)
                elif job._state == "timedout" and now > deadline + 1.0 and not job.replaced:
                    with self._lock:
                        if job in self._running and len(self._live_threads()) <= self.size:
                            log.warning("%s is stuck past its timeout; starting a replacement worker", job.name)
                            job.replaced = True
                            self._spawn()

    def _expire(self, job: Job) -> None:
        job.context.kill_all()
        thread = job.thread
        if thread is not None and thread.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                       ctypes.py_object(ActionTimeout))
        try:
            job.on_timeout()
        except Exception:  # noqa: BLE001 - answering a timeout must not kill the watchdog
            log.exception("error while answering the timeout of %s", job.name)

    def shutdown(self, wait: float | None = 0) -> bool:
        """Stop taking work; wait up to `wait` seconds for running and queued jobs."""
        self._stopping = True
        end = time.monotonic() + (wait or 0)
        while wait and time.monotonic() < end:
            if not self.busy and self.queue.empty():
                break
            time.sleep(0.05)
        done = not self.busy and self.queue.empty()
        for _ in self._threads:
            try:
                self.queue.put_nowait(None)
            except queue.Full:
                break
        return done
