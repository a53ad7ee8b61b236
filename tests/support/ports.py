"""Loopback ports for the private brokers and servers of a test run.

Binding port 0 and closing the socket gives a port from the kernel's
ephemeral range, which the kernel may hand right away to another xdist
worker asking the same, or to any outgoing connection; the broker started on
it then fails to bind (seen: RabbitMQ `dist_port_already_used`).  Ports here
come from below the ephemeral range (32768 up on Linux), from a slice of its
own for each xdist worker (the controller has slice 0), each checked free
when handed out and never handed out twice by one process.  A random start
inside the slice keeps two test runs on one machine apart too.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading

__all__ = ["free_port", "free_ports"]

BASE, SLICE, SLICES = 20000, 2000, 6  # 20000-31999: below the ephemeral range
_lock = threading.Lock()
_given: set[int] = set()


def _slice() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    return index % SLICES


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_cursor = itertools.count(random.randrange(SLICE))


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports of this worker's slice (all reserved)."""
    first = BASE + _slice() * SLICE
    with _lock:
        for _ in range(SLICE):
            start = first + next(_cursor) % (SLICE - count + 1)
            wanted = range(start, start + count)
            if not _given.intersection(wanted) and all(_bindable(port) for port in wanted):
                _given.update(wanted)
                return start
    raise RuntimeError(f"no {count} consecutive free loopback ports left in {first}-{first + SLICE - 1}")


def free_port() -> int:
    """A free loopback port of this worker's slice."""
    return free_ports(1)
