"""Finding, loading and activating agents and their DDLs.

Operators drop agents into folders, so agents are found by directory: every
`<name>.py` in the built-in agent folder and in each `<libdir>/agents/`
(later folders win), each with its DDL `<name>.yaml` or `.json` in a DDL
folder.  A sub-folder `<name>/` holding an executable `<name>` is an agent
implemented by that program (pymco.server.external_agent); its DDL must say so with
`provider: external`.  An agent that fails to import, lacks a DDL or
declines activation is logged and skipped; the others still load.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
from dataclasses import dataclass
from types import ModuleType

from pymco.agent import Agent
from pymco.ddl.loader import load_ddl
from pymco.ddl.model import AgentDDL
from pymco.errors import DDLError, PluginError
from pymco.server.external_agent import EXTERNAL_PROVIDER, ExternalAgent, external_program
from pymco.paths import agent_dirs, ddl_dirs
from pymco.plugins import import_file
from pymco.server.node import NodeContext

log = logging.getLogger(__name__)

__all__ = ["AgentManager", "LoadedAgent", "find_agent_files", "agent_class"]


@dataclass
class LoadedAgent:
    name: str
    instance: Agent
    ddl: AgentDDL
    path: str


def find_agent_files(dirs: list[str]) -> dict[str, str]:
    """name -> a Python agent file or an external agent's program."""
    found: dict[str, str] = {}
    for directory in dirs:
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            if entry.startswith(("_", ".")):
                continue
            if entry.endswith(".py"):
                found[entry[:-3]] = os.path.join(directory, entry)
            else:
                program = external_program(directory, entry)
                if program is not None:
                    found[entry] = program
    return found


def _import(name: str, path: str) -> ModuleType:
    module: ModuleType = import_file(f"pymco_agents.{name}", path)
    return module


def agent_class(module: ModuleType, path: str) -> type[Agent]:
    """The one Agent subclass a module defines."""
    classes = [obj for obj in vars(module).values()
               if inspect.isclass(obj) and issubclass(obj, Agent) and obj.__module__ == module.__name__]
    if len(classes) != 1:
        raise PluginError(f"{path} must define exactly one Agent subclass (found {len(classes)})")
    return classes[0]


class AgentManager:
    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self._agents: dict[str, LoadedAgent] = {}
        self._lock = threading.Lock()
        node.agent_manager = self

    def load_all(self) -> dict[str, LoadedAgent]:
        """(Re)scan the agent folders; returns the new set (also kept)."""
        config = self.node.config
        files = find_agent_files(agent_dirs(config))
        ddir = ddl_dirs(config)
        loaded: dict[str, LoadedAgent] = {}
        for name, path in files.items():
            try:
                ddl = load_ddl(name, ddir)
                external = not path.endswith(".py")
                if external != (ddl.metadata.provider == EXTERNAL_PROVIDER):
                    raise PluginError(f"{ddl.path}: metadata.provider must be '{EXTERNAL_PROVIDER}' exactly when "
                                      f"the agent is a program ({path})")
                cls = ExternalAgent if external else agent_class(_import(name, path), path)
                if not cls.activate(name, config, self.node):
                    log.info("agent %s is not active on this node", name)
                    continue
                instance = ExternalAgent(name, ddl, self.node, path) if external else cls(name, ddl, self.node)
                loaded[name] = LoadedAgent(name, instance, ddl, path)
                log.debug("loaded agent %s from %s", name, path)
            except (DDLError, PluginError) as exc:
                log.error("not loading agent %s: %s", name, exc)
            except Exception as exc:  # noqa: BLE001 - a broken agent must not stop the others
                log.error("not loading agent %s from %s: %s: %s", name, path, type(exc).__name__, exc)
        with self._lock:
            self._agents = loaded
        log.info("agents loaded: %s", ", ".join(sorted(loaded)) or "none")
        return loaded

    def names(self) -> list[str]:
        return sorted(self._agents)

    def get(self, name: str) -> LoadedAgent | None:
        return self._agents.get(name)

    def ddl(self, name: str) -> AgentDDL:
        agent = self._agents.get(name)
        if agent is None:
            raise KeyError(name)
        return agent.ddl
