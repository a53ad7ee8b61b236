"""`inventory` discovery (`--dm inventory [--do FILE]`): ask the registration inventory, not the network.

`pymcod registration-receiver` keeps every node's agents (and, with
`registration = meta`, facts, classes and collectives) in SQLite; this method
applies the filter to that table, so discovering a large fleet costs no
broadcast and no discovery timeout.  Requests then go to each node directly,
and nodes that do not answer are listed as usual.  Nodes not heard from
within `plugin.inventory.max_age` seconds (default 900, three times a
registerinterval of 300) are left out as gone; 0 keeps every node.  Facts and
classes filters can only select nodes that sent them (meta registration).
"""

from __future__ import annotations

from pymco.discovery.base import DiscoveryMethod, DiscoveryRequest
from pymco.errors import ConfigError, DiscoveryError
from pymco.matcher.node import matches
from pymco.registration.receiver import Inventory, default_database

__all__ = ["InventoryDiscovery"]

DEFAULT_MAX_AGE = 900.0


class InventoryDiscovery(DiscoveryMethod):
    name = "inventory"
    capabilities = frozenset({"identity", "facts", "classes", "agents"})

    def discover(self, request: DiscoveryRequest) -> list[str]:
        config = self.session.config
        path = request.options[0] if request.options else default_database(config)
        max_age = config.plugin_number("inventory.max_age", DEFAULT_MAX_AGE)
        try:
            inventory = Inventory(path, readonly=True)
        except ConfigError as exc:
            raise DiscoveryError(str(exc)) from None
        try:
            nodes = inventory.nodes(max_age=max_age if max_age > 0 else None)
        except ConfigError as exc:
            raise DiscoveryError(str(exc)) from None
        finally:
            inventory.close()
        found = []
        for node in nodes:
            if node.collectives and request.collective not in node.collectives:
                continue
            if request.agent and request.agent not in node.agents_list:
                continue
            if matches(request.filter, node):
                found.append(node.identity)
        if request.limit is not None:
            found = found[:request.limit]
        return found
