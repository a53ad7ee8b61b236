"""`registration = meta`: agents, facts, classes and collectives in one message.

The body is the hash of the community `meta` registration plugin
(`{:agentlist, :facts, :classes, :collectives}` with Symbol keys), enough for
an inventory to answer fact and class filters without asking the nodes.
"""

from __future__ import annotations

from typing import Any

from pymco.protocol.marshal import Symbol
from pymco.registration.base import Registration
from pymco.server.dispatch import wire_safe

__all__ = ["Meta"]


class Meta(Registration):
    name = "meta"

    def body(self) -> dict[Symbol, Any]:
        return {
            Symbol("agentlist"): sorted(self.node.agents()),
            Symbol("facts"): wire_safe(self.node.facts.facts()),
            Symbol("classes"): list(self.node.classes()),
            Symbol("collectives"): list(self.config.collectives),
        }
