"""The benchmarks' helper processes: share the work out, start them, wait until all are ready.

Each helper process puts one number on `ready` once its part is up (nodes
subscribed, repliers connected); a helper that dies first, or a part that
takes longer than `timeout`, stops the others and fails the benchmark instead
of leaving it waiting for ever.
"""

from __future__ import annotations

import queue
import time
from typing import Any


def shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal counts, the empty ones left out."""
    return [n for n in (total // parts + (1 if i < total % parts else 0) for i in range(parts)) if n]


def start_all(procs: list[Any], ready: Any, stop: Any, timeout: float = 1800) -> int:
    """Start `procs`; the sum of what they put on `ready`, once every one has."""
    for proc in procs:
        proc.start()
    total, waiting = 0, len(procs)
    deadline = time.monotonic() + timeout
    while waiting:
        try:
            total += ready.get(timeout=5)
            waiting -= 1
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                stop.set()
                raise RuntimeError(f"{len(dead)} of {len(procs)} helper processes died before they were ready"
                                   if dead else f"helper processes not ready within {timeout:g}s") from None
    return total
