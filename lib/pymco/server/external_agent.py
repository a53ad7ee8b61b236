"""Agents whose every action is one external program (`provider: external` in the DDL).

The program protocol itself is pymco.external; this is the Agent the
AgentManager loads for a `<libdir>/agents/<name>/<name>` executable.
"""

from __future__ import annotations

import os

from pymco.agent import Agent
from pymco.agent_messages import RPCReply, RPCRequest
from pymco.ddl.model import AgentDDL
from pymco.external import run_external
from pymco.server.node import NodeContext

__all__ = ["ExternalAgent", "external_program", "EXTERNAL_PROVIDER"]

EXTERNAL_PROVIDER = "external"


def external_program(agent_dir: str, name: str) -> str | None:
    """`<agent_dir>/<name>/<name>` when it is an executable file."""
    path = os.path.join(agent_dir, name, name)
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


class ExternalAgent(Agent):
    """An agent all of whose actions are run by one external program."""

    def __init__(self, name: str, ddl: AgentDDL, node: NodeContext, program: str) -> None:
        self.program = program
        super().__init__(name, ddl, node)

    def call(self, action_name: str, request: RPCRequest, reply: RPCReply) -> None:
        run_external(self.program, request, reply)
