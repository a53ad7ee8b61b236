"""rpcutil: the daemon's introspection actions, with MCollective's outputs."""

from __future__ import annotations

import os
import threading
import time

from pymco import __version__
from pymco.agent import Agent, action
from pymco.config import is_secret_setting
from pymco.data.base import active_data_plugins
from pymco.facts.base import MISSING
from pymco.protocol.message import S


class Rpcutil(Agent):
    inline_actions = frozenset({"ping"})

    @action
    def inventory(self, request, reply):
        node = self.node
        reply["agents"] = node.agents()
        reply["facts"] = node.facts.facts()
        reply["version"] = __version__
        reply["classes"] = list(node.classes())
        reply["main_collective"] = self.config.main_collective
        reply["collectives"] = self.config.collectives
        reply["data_plugins"] = [f"{name}_data" for name in active_data_plugins(node)]

    @action
    def get_fact(self, request, reply):
        value = self.node.fact(request["fact"])
        reply["fact"] = request["fact"]
        reply["value"] = None if value is MISSING else value

    @action
    def get_facts(self, request, reply):
        values = {}
        for name in (part.strip() for part in request["facts"].split(",")):
            if name:
                value = self.node.fact(name)
                values[name] = None if value is MISSING else value
        reply["values"] = values

    @action
    def daemon_stats(self, request, reply):
        times = os.times()
        reply["threads"] = [repr(t) for t in threading.enumerate()]
        reply["agents"] = self.node.agents()
        reply["pid"] = os.getpid()
        reply["times"] = {S("utime"): times.user, S("stime"): times.system,
                          S("cutime"): times.children_user, S("cstime"): times.children_system}
        reply["configfile"] = self.node.configfile
        reply["version"] = __version__
        for key, value in self.node.stats.snapshot().items():
            reply[key] = value

    @action
    def agent_inventory(self, request, reply):
        agents = []
        manager = self.node.agent_manager
        for name in manager.names():
            meta = manager.ddl(name).metadata
            agents.append({S("agent"): name, S("license"): meta.license, S("timeout"): meta.timeout,
                           S("description"): meta.description, S("name"): meta.name, S("url"): meta.url,
                           S("version"): meta.version, S("author"): meta.author})
        reply["agents"] = agents

    @action
    def get_config_item(self, request, reply):
        item = request["item"]
        try:
            value = self.config.item(item)
        except KeyError:
            reply.abort(f"Unknown config property {item}")
        reply["item"] = item
        # pymco: a caller may read the config, not its secrets (MCollective hands out plugin.psk and passwords)
        reply["value"] = "[masked]" if value and is_secret_setting(item) else value

    @action
    def ping(self, request, reply):
        reply["pong"] = int(time.time())

    @action
    def collective_info(self, request, reply):
        reply["main_collective"] = self.config.main_collective
        reply["collectives"] = self.config.collectives

    @action
    def get_data(self, request, reply):
        source = request["source"]
        result = self.node.data(source, request.get("query"))
        if result is None:
            reply.abort(f"Cannot find data plugin '{source}' or it failed to answer")
        for key, value in result.items():
            reply[key] = value
