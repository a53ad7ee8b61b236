"""The discovery method contract.

A method returns the identities a filter selects.  It declares which filter
kinds it can honour; asking for another kind is an error naming the method,
as in MCollective ("Cannot use fact filters while using the 'flatfile'
discovery method").  Methods other than `mc` need direct addressing: the
request then goes to each discovered node by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from pymco.errors import DiscoveryError
from pymco.matcher.filter import Filter

if TYPE_CHECKING:
    from pymco.client.session import Session
    from pymco.discovery.ending import DiscoveryPlan

__all__ = ["DiscoveryMethod", "DiscoveryRequest"]


class DiscoveryRequest:
    """Everything a method may use to discover; `filter` is the user's, without the target agent."""

    def __init__(self, filter: Filter, collective: str, agent: str, timeout: float,
                 limit: int | None = None, plan: "DiscoveryPlan | None" = None,
                 options: list[str] | None = None, explicit_timeout: bool = False) -> None:
        self.filter = filter
        self.collective = collective
        self.agent = agent
        self.timeout = timeout
        self.limit = limit
        self.plan = plan  # mc only: when it may end before the timeout (None: the full wait)
        self.options = options or []
        # --dt or discovery_timeout given: methods with a default of their own (puppetdb) use `timeout` then
        self.explicit_timeout = explicit_timeout


class DiscoveryMethod(ABC):
    name: ClassVar[str] = "base"
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: whether requests after this discovery must be sent to each node directly
    direct: ClassVar[bool] = True

    def __init__(self, session: "Session") -> None:
        self.session = session

    def check(self, flt: Filter) -> None:
        kinds = {"facts": bool(flt.fact), "classes": bool(flt.cf_class), "identity": bool(flt.identity),
                 "compound": bool(flt.compound),
                 "agents": bool(flt.agent)}
        for kind, used in kinds.items():
            if used and kind not in self.capabilities:
                singular = {"facts": "fact", "classes": "class", "agents": "agent"}.get(kind, kind)
                raise DiscoveryError(f"Cannot use {singular} filters while using the '{self.name}' discovery method")

    @abstractmethod
    def discover(self, request: DiscoveryRequest) -> list[str]:
        """Identities selected by the request's filter."""
