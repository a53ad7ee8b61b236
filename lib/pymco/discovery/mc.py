"""`mc` discovery: broadcast "ping" to the discovery agent, collect who answers.

The filter travels with the ping, so only matching nodes answer.  MCollective
listens for the whole discovery timeout; pymco ends sooner only when it knows
whom to expect (pymco.discovery.known, pymco.discovery.ending): every node
that answered this filter before has answered again.  Each discovery leaves
an `Outcome` saying what it did, for the line `mco` prints, and teaches the
cache who answered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from pymco.discovery.base import DiscoveryMethod, DiscoveryRequest
from pymco.discovery.ending import DiscoveryPlan
from pymco.discovery.known import KnownNodes, filter_key, registered_nodes
from pymco.protocol.message import Reply, Request

__all__ = ["McDiscovery", "Outcome"]


@dataclass
class Outcome:
    """What one mc discovery did."""

    rule: str                  # "known", "full" or "quiet"
    timeout: float
    elapsed: float = 0.0
    found: list[str] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)
    ended_early: bool = False  # before the timeout (by rule or --limit)

    @property
    def silent(self) -> list[str]:
        """Expected nodes that did not answer."""
        return sorted(self.expected - set(self.found))

    @property
    def new(self) -> list[str]:
        """Nodes that answered without being expected."""
        return [n for n in self.found if n not in self.expected]


class McDiscovery(DiscoveryMethod):
    name = "mc"
    capabilities = frozenset({"classes", "facts", "identity", "agents", "compound"})
    direct = False

    outcome: Outcome | None = None

    def discover(self, request: DiscoveryRequest, on_node: Callable[[str], None] | None = None) -> list[str]:
        """Identities that answered; `on_node` is told of each as it arrives (mco ping)."""
        session = self.session
        config = session.config
        plan = request.plan or DiscoveryPlan(request.timeout, "full")
        flt = request.filter.copy()
        if request.agent:
            flt.add_agent(request.agent)
        key = filter_key(flt)
        known = KnownNodes(request.collective, config.discovery_cache_max_age or 0.0)
        # expected in every rule, so that silent known nodes are named even after a full wait
        plan.expected = known.expected(key) | registered_nodes(config, request.collective, flt)
        ending = plan.ending()
        outcome = Outcome(plan.rule, plan.timeout, expected=set(plan.expected))
        self.outcome = outcome
        # No "collective" key: Ruby nodes treat any extra key as a non-empty
        # filter, and an otherwise empty one would then select nobody.
        ping = Request(agent="discovery", collective=request.collective, body="ping", filter=flt.to_wire(),
                       callerid=session.callerid(), senderid=session.identity,
                       ttl=config.ttl)
        session.publish(ping)
        start = time.monotonic()
        ending.start(start)
        found = outcome.found
        seen: set[str] = set()

        def on_reply(reply: Reply) -> bool:
            if reply.senderid not in seen:
                seen.add(reply.senderid)
                found.append(reply.senderid)
                ending.seen(reply.senderid, time.monotonic())
                if on_node is not None:
                    on_node(reply.senderid)
            return request.limit is not None and len(found) >= request.limit

        result = session.collect(ping.requestid, plan.timeout, on_reply, end_at=ending.end_at)
        outcome.elapsed = time.monotonic() - start
        outcome.ended_early = not result.timed_out
        known.record(key, found)
        # a node slower than the grace, heard while this client goes on (mco rpc), is expected next time
        session.on_late(ping.requestid, lambda sender: known.record(key, [sender]))
        return list(found)
