"""What the daemon knows about its node, shared by matcher, agents and data plugins.

`NodeContext` is the `NodeView` the filter matcher asks (identity, agents,
classes, facts, data plugins) and the handle agents use to reach the rest of
the daemon (config, stats, loaded agents and their DDLs).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from pymco.config import Config
from pymco.facts.base import FactSource
from pymco.server.stats import RunnerStats

if TYPE_CHECKING:
    from pymco.server.agents import AgentManager

log = logging.getLogger(__name__)

__all__ = ["NodeContext"]


class NodeContext:
    def __init__(self, config: Config, facts: FactSource, stats: RunnerStats) -> None:
        self.config = config
        self.identity = config.identity
        self.facts = facts
        self.stats = stats
        self.agent_manager: "AgentManager | None" = None
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
        from pymco.data.base import run_data_plugin

        return run_data_plugin(plugin, query, self)

    @property
    def collectives(self) -> list[str]:
        return self.config.collectives
