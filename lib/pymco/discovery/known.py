"""Which nodes the client expects to answer an `mc` discovery, and learning from each one.

Two sources of knowledge:

* the nodes that answered earlier discoveries with the same filter in the
  same collective: a small JSON file per collective in the per-user cache
  directory (beside the parsed-YAML cache, see pymco.yamlcache), each node
  stamped with when it last answered and forgotten after
  `discovery_cache_max_age` seconds of silence (0 turns the cache off);
* the registration inventory, when `plugin.inventory.database` names one:
  its fresh nodes in the collective that the filter selects by their
  registered agents, facts and classes.

The cache is keyed by the exact filter because a node that does not match
never answers: only nodes that answered *this* filter before can be waited
for.  Any cache problem (unwritable, corrupt, someone else's file) means no
knowledge, which means the full wait: never a lost node.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Iterable

from pymco.config import Config
from pymco.errors import ConfigError
from pymco.matcher.filter import Filter
from pymco.yamlcache import cache_dir

log = logging.getLogger(__name__)

__all__ = ["KnownNodes", "filter_key", "registered_nodes"]

_FORMAT = 1
_MAX_FILTERS = 256  # filters remembered per collective; the least recently answered go first
_PRUNE_ABOVE = 200  # discovery files in the directory before old ones are removed


def filter_key(flt: Filter) -> str:
    """The filter in a canonical form: the same selection gives the same key whatever the option order."""
    wire = {
        "fact": sorted([t.fact, t.operator, t.value] for t in flt.fact),
        "cf_class": sorted(set(flt.cf_class)),
        "agent": sorted(set(flt.agent)),
        "identity": sorted(set(flt.identity)),
        "compound": sorted(json.dumps(c, sort_keys=True, default=str) for c in flt.compound),
    }
    return json.dumps(wire, sort_keys=True, separators=(",", ":"))


class KnownNodes:
    """The nodes that answered earlier discoveries in one collective, per filter key."""

    def __init__(self, collective: str, max_age: float, directory: str | None = None,
                 now: float | None = None) -> None:
        self.collective = collective
        self.max_age = max_age
        self.now = time.time() if now is None else now
        directory = cache_dir() if directory is None else directory
        self.directory = directory if directory and max_age > 0 else None
        self._filters: dict[str, dict[str, float]] | None = None

    @property
    def path(self) -> str | None:
        if self.directory is None:
            return None
        name = "discovery-" + self.collective.replace("%", "%25").replace("/", "%2F") + ".json"
        return os.path.join(self.directory, name) if len(name) < 250 else None

    def _load(self) -> dict[str, dict[str, float]]:
        if self._filters is None:
            self._filters = {}
            path = self.path
            if path is not None:
                self._filters = _read(path)
        return self._filters

    def expected(self, key: str) -> set[str]:
        """Nodes that answered this filter within max_age."""
        nodes = self._load().get(key, {})
        return {node for node, seen in nodes.items() if self.now - seen <= self.max_age}

    def record(self, key: str, answered: Iterable[str]) -> None:
        """Stamp the nodes that answered now, forget the long silent, and save."""
        path = self.path
        if path is None:
            return
        filters = self._load()
        nodes = filters.setdefault(key, {})
        for node in answered:
            nodes[node] = self.now
        for name in list(filters):
            kept = {n: t for n, t in filters[name].items() if self.now - t <= self.max_age}
            if kept:
                filters[name] = kept
            else:
                del filters[name]
        if len(filters) > _MAX_FILTERS:
            newest = sorted(filters, key=lambda k: max(filters[k].values()), reverse=True)
            for name in newest[_MAX_FILTERS:]:
                del filters[name]
        _write(path, {"format": _FORMAT, "filters": filters}, self.max_age, self.now)


def _read(path: str) -> dict[str, dict[str, float]]:
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_uid != os.geteuid():
                return {}
            data = json.loads(handle.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.debug("ignoring the discovery cache %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("filters"), dict):
        return {}
    filters: dict[str, dict[str, float]] = {}
    for key, nodes in data["filters"].items():
        if isinstance(key, str) and isinstance(nodes, dict):
            filters[key] = {n: float(t) for n, t in nodes.items()
                            if isinstance(n, str) and isinstance(t, (int, float))}
    return filters


def _prune(directory: str, max_age: float, now: float) -> None:
    """Remove the files of collectives not discovered for max_age (test runs leave many behind)."""
    names = [n for n in os.listdir(directory) if n.startswith("discovery-") and n.endswith(".json")]
    if len(names) <= _PRUNE_ABOVE:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            if now - os.stat(path).st_mtime > max_age:
                os.unlink(path)
        except OSError:
            pass


def _write(path: str, data: dict[str, Any], max_age: float, now: float) -> None:
    directory = os.path.dirname(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _prune(directory, max_age, now)
        with open(tmp, "w", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)) as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError) as exc:
        log.debug("not saving the discovery cache %s: %s", path, exc)
        try:
            os.unlink(tmp)
        except OSError:
            pass


def registered_nodes(config: Config, collective: str, flt: Filter) -> set[str]:
    """Fresh inventory nodes the filter selects, when `plugin.inventory.database` is configured.

    Compound filters cannot be judged from registration data; facts and
    classes only for nodes that registered them (`registration = meta`).
    """
    path = config.plugin("inventory.database")
    if not path or flt.compound or not os.path.exists(path):
        return set()
    from pymco.discovery.inventory import DEFAULT_MAX_AGE
    from pymco.matcher.node import matches
    from pymco.registration.receiver import Inventory

    max_age = config.plugin_number("inventory.max_age", DEFAULT_MAX_AGE)
    try:
        inventory = Inventory(path, readonly=True)
        try:
            nodes = inventory.nodes(max_age=max_age if max_age > 0 else None)
        finally:
            inventory.close()
    except ConfigError as exc:
        log.debug("not using the inventory %s to end discovery: %s", path, exc)
        return set()
    return {node.identity for node in nodes
            if (not node.collectives or collective in node.collectives) and matches(flt, node)}
