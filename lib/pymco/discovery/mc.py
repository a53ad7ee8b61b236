"""`mc` discovery: broadcast "ping" to the discovery agent, collect who answers.

The filter travels with the ping, so only matching nodes answer.  pymco adds
a quiet window: once replies have started, discovery ends after `quiet`
seconds without a new one, instead of always waiting the whole timeout.
"""

from __future__ import annotations

from typing import Callable

from pymco.discovery.base import DiscoveryMethod, DiscoveryRequest
from pymco.protocol.message import Reply, Request

__all__ = ["McDiscovery"]


class McDiscovery(DiscoveryMethod):
    name = "mc"
    capabilities = frozenset({"classes", "facts", "identity", "agents", "compound"})
    direct = False

    def discover(self, request: DiscoveryRequest, on_node: Callable[[str], None] | None = None) -> list[str]:
        """Identities that answered; `on_node` is told of each as it arrives (mco ping)."""
        session = self.session
        flt = request.filter.copy()
        if request.agent:
            flt.add_agent(request.agent)
        # No "collective" key: Ruby nodes treat any extra key as a non-empty
        # filter, and an otherwise empty one would then select nobody.
        wire = flt.to_wire()
        ping = Request(agent="discovery", collective=request.collective, body="ping", filter=wire,
                       callerid=session.callerid(), senderid=session.identity,
                       ttl=session.config.ttl)
        session.publish(ping)
        found: list[str] = []
        seen: set[str] = set()

        def on_reply(reply: Reply) -> bool:
            if reply.senderid not in seen:
                seen.add(reply.senderid)
                found.append(reply.senderid)
                if on_node is not None:
                    on_node(reply.senderid)
            return request.limit is not None and len(found) >= request.limit

        session.collect(ping.requestid, request.timeout, on_reply, quiet=request.quiet)
        return found
