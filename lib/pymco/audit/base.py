"""The audit plugin contract (`rpcaudit = 1`), and the record every plugin writes.

The daemon audits each SimpleRPC request that reaches an agent: after DDL
validation, once the authorization decision is known (a denied request is
audited too, with the reason), and before the action runs.  `AuditRecord`
carries what MCollective's audit plugins receive (request id and time,
caller, sender, agent, action, data) plus the collective and the decision.
Inputs the DDL marks `sensitive: true` are masked in the record itself, so no
plugin can leak a password by forgetting to.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymco.config import Config

if TYPE_CHECKING:
    from pymco.agent import RPCRequest
    from pymco.ddl.model import AgentDDL

__all__ = ["AuditProvider", "AuditRecord", "MASK", "masked_data"]

MASK = "[masked]"


def masked_data(request: "RPCRequest", ddl: "AgentDDL | None") -> dict[str, Any]:
    """The request's data with every input the action's DDL marks sensitive replaced by MASK."""
    spec = ddl.action(request.action) if ddl is not None else None
    if spec is None:
        return dict(request.data)
    return {key: MASK if key in spec.inputs and spec.inputs[key].sensitive else value
            for key, value in request.data.items()}


@dataclass
class AuditRecord:
    time: float
    requestid: str
    request_time: int
    caller: str
    sender: str
    agent: str
    action: str
    collective: str
    data: dict[str, Any]
    authorized: bool | None  # None when rpcauthorization is off
    reason: str | None = None

    @classmethod
    def of(cls, request: "RPCRequest", ddl: "AgentDDL | None", authorized: bool | None,
           reason: str | None = None) -> "AuditRecord":
        return cls(time.time(), request.uniqid, request.time, request.caller, request.sender, request.agent,
                   request.action, request.collective, masked_data(request, ddl), authorized, reason)


class AuditProvider(ABC):
    """One instance per daemon; `write` may be called from several worker threads.

    A provider that cannot record a request raises a PymcoError: the daemon
    then refuses the request (status 5) rather than run it unaudited, as
    MCollective does when its audit plugin raises.
    """

    name = "base"

    def __init__(self, config: Config) -> None:
        self.config = config

    def audit(self, request: "RPCRequest", ddl: "AgentDDL | None", authorized: bool | None = None,
              reason: str | None = None) -> None:
        self.write(AuditRecord.of(request, ddl, authorized, reason))

    @abstractmethod
    def write(self, record: AuditRecord) -> None:
        """Persist one record."""
