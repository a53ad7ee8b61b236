"""The authorization plugin contract (`rpcauthorization = 1`).

The daemon calls `authorize()` for every SimpleRPC request after DDL
validation and before audit and the action, as MCollective's
`authorization_hook`.  A provider that refuses raises `AuthorizationDenied`
(status 1 to the caller) with the operator-facing reason kept apart from the
fixed message the caller sees, so a denial tells an attacker nothing about the
policy while the audit log and the daemon log say exactly which rule refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from pymco.config import Config
from pymco.errors import AuthorizationDenied

if TYPE_CHECKING:
    from pymco.agent import RPCRequest
    from pymco.ddl.model import AgentDDL
    from pymco.matcher.view import NodeView

__all__ = ["Authorizer", "AuthorizationDenied", "DENIED_MESSAGE"]

# MCollective's actionpolicy message, word for word: clients and scripts match on it.
DENIED_MESSAGE = "You are not authorized to call this agent or action."


class Authorizer(ABC):
    """One instance per daemon; `authorize` may be called from several worker threads."""

    name = "base"

    def __init__(self, config: Config) -> None:
        self.config = config

    @abstractmethod
    def authorize(self, request: "RPCRequest", ddl: "AgentDDL", node: "NodeView") -> None:
        """Return if `request` may run; raise AuthorizationDenied otherwise."""
