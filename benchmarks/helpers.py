"""The benchmarks' helper processes: share the work out, start them, wait until all are ready; their CPU.

Each helper process puts one number on `ready` once its part is up (nodes
subscribed, repliers connected); a helper that dies first, or a part that
takes longer than `timeout`, stops the others and fails the benchmark instead
of leaving it waiting for ever.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator


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


def cpu_seconds(only: str | None = None) -> float:
    """CPU time used so far by this process and its children (simulator processes, private brokers).

    Per round it says what the round costs whatever else the machine runs:
    on an idle machine a round cannot take less than this over the cores.
    `only` counts just the children of that program name (e.g. nats-server).
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0 if only else sum(os.times()[:2])
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    name, fields = handle.read().split(" (", 1)[1].rsplit(")", 1)
            except OSError:
                continue  # gone meanwhile
            fields = fields.split()
            if fields[1] == me and (only is None or name == only):
                total += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextlib.contextmanager
def nats_servers(size: int, urls: str = "") -> Iterator[list[str]]:
    """The given comma-separated `urls`, else a private cluster of `size` routed nats-servers while in use."""
    if urls:
        yield urls.split(",")
        return
    from tests.support.private_nats import PrivateNats

    cluster = PrivateNats(Path(tempfile.mkdtemp(prefix="pymco-bench-nats-")), size=size).start()
    print(f"private NATS cluster of {size} on {', '.join(cluster.urls)}", flush=True)
    try:
        yield cluster.urls
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)
