"""When `mc` discovery may stop listening: the pure rules, no broker and no files.

MCollective waits the whole discovery timeout.  pymco ends sooner only from
knowledge: once every node it expects to match has answered (`KnownNodesEnd`),
plus a grace for nodes it does not know yet.  A silent expected node, or no
knowledge at all, means the full wait, so a slow node the client has seen
before is never dropped.  The quiet window (`QuietWindow`, `--dq`) is the
older guess from the pace of replies, kept as an option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pymco.config import Config

__all__ = ["Ending", "FullWait", "KnownNodesEnd", "QuietWindow", "quiet_after", "plan", "DiscoveryPlan"]

DEFAULT_GRACE = 0.1


class Ending(Protocol):
    """A rule that may end discovery before its timeout."""

    def start(self, now: float) -> None:
        """The discovery request was just published."""

    def seen(self, identity: str, now: float) -> None:
        """A node answered (first reply of each node only)."""

    def end_at(self) -> float | None:
        """The monotonic time discovery may end, or None to wait for the timeout."""


class FullWait:
    """MCollective's rule: listen for the whole timeout."""

    def start(self, now: float) -> None:
        pass

    def seen(self, identity: str, now: float) -> None:
        pass

    def end_at(self) -> float | None:
        return None


class KnownNodesEnd:
    """End once every expected node answered, then wait a quarter of that time again (at least `grace`).

    A node nobody knows yet answers at the pace of the others, so its reply
    comes within the burst of theirs; the grace covers one at the tail, and
    scales with the fleet's pace (on a network where the known nodes took
    2 s, another 0.5 s).  A node slower still is learnt when its reply comes
    later in the same run (mco rpc), and waited for from then on.
    """

    def __init__(self, expected: set[str], grace: float = DEFAULT_GRACE) -> None:
        self.expected = set(expected)
        self.grace = grace
        self.waiting = set(expected)
        self.sent = 0.0
        self.all_answered: float | None = None

    def start(self, now: float) -> None:
        self.sent = now

    def seen(self, identity: str, now: float) -> None:
        if identity in self.waiting:
            self.waiting.discard(identity)
            if not self.waiting:
                self.all_answered = now

    def end_at(self) -> float | None:
        if not self.expected or self.all_answered is None:
            return None
        return self.all_answered + max(self.grace, (self.all_answered - self.sent) / 4)


def quiet_after(quiet: float, sent: float, first: float, last: float, count: int,
                floor: float = 0.1, factor: float = 10.0) -> float:
    """How long to wait for another reply before the quiet window ends discovery.

    Replies to a broadcast come in a burst whose pace says how long a pause
    means "that was everyone": `factor` times the mean gap between replies so
    far, at least `floor` and the fastest node's round trip (so a node twice
    as far away still counts), and at most `quiet` (--dq).
    """
    gap = (last - first) / (count - 1) if count > 1 else 0.0
    return min(quiet, max(floor, factor * gap, first - sent))


class QuietWindow:
    """`--dq SECONDS`: end once replies have stopped for an adaptive window (may miss a slow node)."""

    def __init__(self, quiet: float, floor: float = 0.1, factor: float = 10.0) -> None:
        self.quiet, self.floor, self.factor = quiet, floor, factor
        self.sent = 0.0
        self.first: float | None = None
        self.last = 0.0
        self.count = 0

    def start(self, now: float) -> None:
        self.sent = now

    def seen(self, identity: str, now: float) -> None:
        self.count += 1
        self.last = now
        if self.first is None:
            self.first = now

    def end_at(self) -> float | None:
        if self.first is None:
            return None
        return self.last + quiet_after(self.quiet, self.sent, self.first, self.last, self.count,
                                       self.floor, self.factor)


@dataclass
class DiscoveryPlan:
    """How long mc discovery may take and what may end it sooner."""

    timeout: float
    rule: str  # "known" (the default), "full" or "quiet"
    quiet: float | None = None
    grace: float = DEFAULT_GRACE
    quiet_floor: float = 0.1
    quiet_factor: float = 10.0
    expected: set[str] = field(default_factory=set)

    def ending(self) -> Ending:
        if self.rule == "quiet" and self.quiet:
            return QuietWindow(self.quiet, self.quiet_floor, self.quiet_factor)
        if self.rule == "known":
            return KnownNodesEnd(self.expected, self.grace)
        return FullWait()


def plan(config: Config, timeout: float, explicit_timeout: bool, quiet: float | None) -> DiscoveryPlan:
    """The rule for one discovery from the user's options (`explicit_timeout`: --dt/-t given).

    `--dq N` (or `discovery_quiet_window`) picks the quiet window, `--dq 0`
    the full wait; an explicit timeout (`--dt`, or `discovery_timeout` in the
    config) is honoured in full, as in MCollective; otherwise known nodes.
    """
    if quiet is None:
        quiet = config.discovery_quiet_window
    grace = config.discovery_grace
    grace = DEFAULT_GRACE if grace is None else grace
    if quiet is not None and quiet > 0:
        floor, factor = config.discovery_quiet_min, config.discovery_quiet_factor
        return DiscoveryPlan(timeout, "quiet", quiet=quiet, grace=grace,
                             quiet_floor=0.1 if floor is None else floor,
                             quiet_factor=10.0 if factor is None else factor)
    if quiet is not None or explicit_timeout or config.discovery_timeout is not None:
        return DiscoveryPlan(timeout, "full", grace=grace)
    return DiscoveryPlan(timeout, "known", grace=grace)
