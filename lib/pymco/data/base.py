"""Data plugins: node-side queries used by `-S` filters and `rpcutil get_data`.

A data plugin is a small class with a `query(arg)` method returning a dict of
outputs; its DDL (`ddl/data/<name>.yaml`: metadata plus a `dataquery` with one
`query` input and its outputs) documents it, validates the argument on both
ends and pre-fills the outputs.  Result values are strings, numbers or
booleans, as in MCollective.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pymco import plugins
from pymco.ddl.model import InputSpec, OutputSpec, parse_input
from pymco.errors import DDLError, DDLValidationError, PluginError, ValidatorError
from pymco.paths import ddl_dirs
from pymco.validators.builtin import length, validate
from pymco.yamlcache import YAMLError, load_yaml_file

if TYPE_CHECKING:
    from pymco.config import Config
    from pymco.server.node import NodeContext

log = logging.getLogger(__name__)

__all__ = ["DataPlugin", "DataDDL", "load_data_ddl", "run_data_plugin", "validate_query"]


@dataclass
class DataDDL:
    name: str
    metadata: dict[str, Any]
    description: str
    query: InputSpec | None
    outputs: dict[str, OutputSpec]

    @property
    def timeout(self) -> float:
        return float(self.metadata.get("timeout", 1))


_ddl_cache: dict[str, DataDDL] = {}


def load_data_ddl(name: str, config: "Config | None" = None) -> DataDDL:
    cached = _ddl_cache.get(name)
    if cached is not None:
        return cached
    for directory in ddl_dirs(config):
        path = os.path.join(directory, "data", f"{name}.yaml")
        if os.path.isfile(path):
            break
    else:
        raise DDLError(f"Can't find DDL for data plugin '{name}'")
    try:
        raw = load_yaml_file(path)
        query = raw["dataquery"]
        inputs = query.get("input") or {}
        spec = parse_input("query", inputs["query"], f"{path}: dataquery input 'query'") if "query" in inputs else None
        outputs = {k: OutputSpec(k, str(v["description"]), str(v["display_as"]), v.get("default"))
                   for k, v in (query.get("output") or {}).items()}
        ddl = DataDDL(name, dict(raw["metadata"]), str(query.get("description", "")), spec, outputs)
    except (OSError, YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise DDLError(f"cannot parse data DDL {path}: {exc}") from None
    _ddl_cache[name] = ddl
    return ddl


def validate_query(ddl: DataDDL, query: Any) -> None:
    """MCollective's data DDL check of the query argument."""
    spec = ddl.query
    if spec is None:
        return
    if query is None or query == "":
        if spec.optional:
            return
        raise DDLValidationError(f"Data plugin '{ddl.name}' needs a query argument")
    try:
        if spec.type == "string":
            if not isinstance(query, str):
                raise ValidatorError("value should be a string")
            length(query, spec.maxlength)
            validate(query, spec.validation)
    except ValidatorError as exc:
        raise DDLValidationError(f"Cannot validate input query: {exc}") from None


class DataPlugin:
    """Base class: implement query(); set activate_when to restrict where it loads."""

    activate_when: ClassVar[Any] = None

    def __init__(self, name: str, node: "NodeContext") -> None:
        self.name = name
        self.node = node

    def query(self, arg: str | None) -> dict[str, Any]:
        raise NotImplementedError


def active_data_plugins(node: "NodeContext") -> list[str]:
    names = []
    for name in plugins.names("data"):
        try:
            cls = plugins.resolve("data", name)
            if cls.activate_when is None or cls.activate_when(node.config, node):
                names.append(name)
        except PluginError as exc:
            log.warning("data plugin %s unavailable: %s", name, exc)
    return names


def run_data_plugin(name: str, query: str | None, node: "NodeContext") -> dict[str, Any] | None:
    """Run a data plugin with DDL validation and defaults; None if it cannot run."""
    try:
        cls = plugins.resolve("data", name)
        ddl = load_data_ddl(name, node.config)
    except (PluginError, DDLError) as exc:
        log.debug("data plugin %s unavailable: %s", name, exc)
        return None
    if cls.activate_when is not None and not cls.activate_when(node.config, node):
        return None
    validate_query(ddl, query)
    result = {key: out.default for key, out in ddl.outputs.items()}
    try:
        result.update(cls(name, node).query(query))
    except Exception as exc:  # noqa: BLE001 - a data plugin bug must not kill matching
        log.warning("data plugin %s failed on %r: %s", name, query, exc)
        return None
    return result
