"""`registration = agentlist`: the body is the list of the node's agents (MCollective's default)."""

from __future__ import annotations

from pymco.registration.base import Registration

__all__ = ["AgentList"]


class AgentList(Registration):
    name = "agentlist"

    def body(self) -> list[str]:
        return sorted(self.node.agents())
