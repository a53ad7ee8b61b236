"""Counters of what the daemon did, as rpcutil daemon_stats reports them.

MCollective's counters (total, validated, unvalidated, passed, filtered,
replies, ttlexpired) plus pymco's own so that nothing is dropped silently:
`dropped` (undecodable or oversized messages), `overloaded` (refused because
the work queue was full), `timeouts` (actions killed at their DDL timeout) and
`replay` (x509 requests seen before).  Signed providers (ssl, x509) also say
why a message failed validation, each failure counted in `unvalidated` and in
one of: `unsigned` (no signature or certificate), `tampered` (bad signature or
a field differing from its signed value), `untrusted` (unknown key, or a
certificate not issued by the CA or expired), `revoked` (certificate on the
CRL), `clockskew` (dated too far in the future); x509 replays count in
`replay` and expired x509 requests in `ttlexpired`.  `deaf` counts the times
the daemon's own probe did not come back and it reconnected (server/probe.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["RunnerStats"]

COUNTERS = ("total", "validated", "unvalidated", "passed", "filtered", "replies", "ttlexpired",
            "dropped", "overloaded", "timeouts", "replay", "unauthorized",
            "unsigned", "tampered", "untrusted", "revoked", "clockskew", "deaf")


class RunnerStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self.starttime = int(time.time())

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + amount

    def __getitem__(self, name: str) -> int:
        return self._counts[name]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
        counts["starttime"] = self.starttime
        return counts
