"""What the daemon knows about its node, shared by matcher, agents and data plugins.

`NodeContext` is the `NodeView` the filter matcher asks (identity, agents,
classes, facts, data plugins) and the handle agents use to reach the rest of
the daemon (config, stats, loaded agents and their DDLs).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Protocol

from pymco.config import Config
from pymco.ddl.model import AgentDDL
from pymco.facts.base import FactSource
from pymco.server.stats import RunnerStats

__all__ = ["NodeContext", "AgentRoster"]

log = logging.getLogger(__name__)


class AgentRoster(Protocol):
    """What agents and data plugins may ask of the loaded agents (pymco.server.agents.AgentManager).

    A protocol rather than the manager's class: the manager holds agents, which hold this context.
    """

    def names(self) -> list[str]: ...

    def ddl(self, name: str) -> AgentDDL: ...


#: runs a data plugin for a node (pymco.data.base.run_data_plugin): None when it cannot run
DataRunner = Callable[[str, "str | None", "NodeContext"], "dict[str, Any] | None"]


class NodeContext:
    def __init__(self, config: Config, facts: FactSource, stats: RunnerStats, data_runner: DataRunner) -> None:
        self.config = config
        self.identity = config.identity
        self.facts = facts
        self.stats = stats
        self._data_runner = data_runner  # given, not imported: data plugins are handed this context
        self.agent_manager: AgentRoster | None = None
        self.authorizer: Any = None  # set when rpcauthorization is on (pymco.authorization)
        self.auditor: Any = None  # set when rpcaudit is on (pymco.audit)
        self.configfile = config.path
        self._classes: list[str] = []
        self._classes_stamp: tuple[int, int] | None = None

    # ---- NodeView
    def agents(self) -> list[str]:
        return self.agent_manager.names() if self.agent_manager else []

    def classes(self) -> list[str]:
        """Lines of the Puppet classes file, re-read when it changes."""
        path = self.config.classesfile
        try:
            st = os.stat(path)
        except OSError:
            if self._classes_stamp is not None:
                log.warning("classes file %s is not readable", path)
            self._classes, self._classes_stamp = [], None
            return []
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._classes_stamp:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    self._classes = [line.strip() for line in handle if line.strip()]
                self._classes_stamp = stamp
            except OSError as exc:
                log.warning("cannot read classes file %s: %s", path, exc)
                self._classes = []
        return self._classes

    def fact(self, name: str) -> Any:
        return self.facts.get(name)

    def data(self, plugin: str, query: str | None) -> dict[str, Any] | None:
        """Run data plugin `plugin`; None when it does not exist or fails."""
        return self._data_runner(plugin, query, self)

    @property
    def collectives(self) -> list[str]:
        return self.config.collectives
