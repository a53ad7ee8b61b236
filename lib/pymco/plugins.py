"""Plugin registry: one table per plugin kind, resolved by config name.

MCollective picks one provider per kind by name (`connector = rabbitmq`,
`securityprovider = psk`, ...).  Built-ins are listed here as lazy
"module:Class" strings so that a command imports only what it uses; third
parties register under the entry-point group `pymco.<kind>` with the same
"module:Class" value.  Agents are not in this table: operators drop them into
folders, so `pymco.server.agents` finds them by directory.
"""

from __future__ import annotations

import importlib
from typing import Any

from pymco.errors import PluginError

__all__ = ["KINDS", "resolve", "names", "register", "describe", "import_file"]

KINDS: dict[str, dict[str, str]] = {
    "connector": {
        "rabbitmq": "pymco.connector.rabbitmq:RabbitMQConnector",
        "activemq": "pymco.connector.activemq:ActiveMQConnector",
        "nats": "pymco.connector.nats:NatsConnector",
    },
    "security": {
        "psk": "pymco.security.psk:PskSecurity",
        "ssl": "pymco.security.ssl:SslSecurity",
        "x509": "pymco.security.x509:X509Security",
    },
    "facts": {
        "yaml": "pymco.facts.yaml_facts:YamlFacts",
    },
    "discovery": {
        "mc": "pymco.discovery.mc:McDiscovery",
        "flatfile": "pymco.discovery.flatfile:FlatfileDiscovery",
        "puppetdb": "pymco.discovery.puppetdb:PuppetdbDiscovery",
        "stdin": "pymco.discovery.stdin:StdinDiscovery",
        "inventory": "pymco.discovery.inventory:InventoryDiscovery",
    },
    "audit": {
        "logfile": "pymco.audit.logfile:LogfileAudit",
    },
    "authorization": {
        "action_policy": "pymco.authorization.actionpolicy:ActionPolicy",
    },
    "aggregate": {
        "summary": "pymco.aggregate.builtin:Summary",
        "sum": "pymco.aggregate.builtin:Sum",
        "average": "pymco.aggregate.builtin:Average",
        "boolean_summary": "pymco.aggregate.builtin:BooleanSummary",
    },
    "validator": {
        "shellsafe": "pymco.validators.builtin:shellsafe",
        "ipv4address": "pymco.validators.builtin:ipv4address",
        "ipv6address": "pymco.validators.builtin:ipv6address",
        "regex": "pymco.validators.builtin:regex",
        "length": "pymco.validators.builtin:length",
        "maxlength": "pymco.validators.builtin:length",
        "typecheck": "pymco.validators.builtin:typecheck",
        "array": "pymco.validators.builtin:array",
        "service_name": "pymco.validators.names:service_name",
        "package_name": "pymco.validators.names:package_name",
        "puppet_variable": "pymco.validators.puppet:puppet_variable",
        "puppet_tags": "pymco.validators.puppet:puppet_tags",
        "puppet_server_address": "pymco.validators.puppet:puppet_server_address",
        "puppet_resource": "pymco.validators.puppet:puppet_resource",
    },
    "data": {
        "fstat": "pymco.data.builtin:FstatData",
        "fact": "pymco.data.builtin:FactData",
        "agent": "pymco.data.builtin:AgentData",
        "collective": "pymco.data.builtin:CollectiveData",
        "package": "pymco.data.agents:PackageData",
        "service": "pymco.data.agents:ServiceData",
        "puppet": "pymco.data.agents:PuppetData",
        "resource": "pymco.data.agents:ResourceData",
    },
    "registration": {
        "agentlist": "pymco.registration.agentlist:AgentList",
        "meta": "pymco.registration.meta:Meta",
    },
    "package_provider": {
        "apt": "pymco.package.apt:AptProvider",
        "dnf": "pymco.package.rpm:DnfProvider",
        "yum": "pymco.package.rpm:YumProvider",
    },
    "service_provider": {
        "systemd": "pymco.service.systemd:SystemdService",
        "sysv": "pymco.service.sysv:SysvService",
        "service": "pymco.service.command:CommandService",
    },
}

#: `mco plugin doc`'s one line per built-in (MCollective's DDL descriptions where Ruby has the plugin)
DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("aggregate", "average"): "Displays the average of a set of numeric values",
    ("aggregate", "boolean_summary"): "Aggregate function that will transform true/false values into "
                                      "predefined strings",
    ("aggregate", "sum"): "Determine the total added value of a set of values",
    ("aggregate", "summary"): "Displays the summary of a set of results",
    ("connector", "activemq"): "Connector plugin for ActiveMQ middleware",
    ("connector", "rabbitmq"): "Connector plugin for RabbitMQ middleware",
    ("discovery", "flatfile"): "Flatfile based discovery for node identities",
    ("discovery", "inventory"): "Registration inventory based discovery",
    ("discovery", "mc"): "MCollective Broadcast based discovery",
    ("discovery", "puppetdb"): "PuppetDB based discovery (PQL over HTTPS with the Puppet certificate)",
    ("discovery", "stdin"): "STDIN based discovery for node identities",
    ("validator", "array"): "Validates that a value is included in a list",
    ("validator", "ipv4address"): "Validates that a value is an ipv4 address",
    ("validator", "ipv6address"): "Validates that a value is an ipv6 address",
    ("validator", "length"): "Validates that the length of a string is less or equal to a specified value",
    ("validator", "maxlength"): "Validates that the length of a string is less or equal to a specified value",
    ("validator", "package_name"): "Validates that a string is a valid package name",
    ("validator", "puppet_resource"): "Validates that a string is a Puppet resource type and title",
    ("validator", "puppet_server_address"): "Validates that a string is a valid Puppet server and or port",
    ("validator", "puppet_tags"): "Validates that a comma separated list of tags are valid Puppet class names",
    ("validator", "puppet_variable"): "Validates that a variable name is a valid Puppet name",
    ("validator", "regex"): "Validates that a string matches a supplied regular expression",
    ("validator", "service_name"): "Validates that a string is a valid service name",
    ("validator", "shellsafe"): "Validates that a string is shellsafe",
    ("validator", "typecheck"): "Validates that a value is of a certain type",
}

_entry_points_loaded: set[str] = set()
_cache: dict[tuple[str, str], Any] = {}


def _load_entry_points(kind: str) -> None:
    if kind in _entry_points_loaded:
        return
    _entry_points_loaded.add(kind)
    from importlib.metadata import entry_points

    for ep in entry_points(group=f"pymco.{kind}"):
        KINDS[kind].setdefault(ep.name, ep.value)


def import_file(module_name: str, path: str) -> Any:
    """Import a Python file operators dropped into a folder (agents, applications) as `module_name`.

    Whatever the file raises propagates; the half-imported module is not left in sys.modules.
    """
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def register(kind: str, name: str, target: str) -> None:
    """Add a provider at run time ("module:attr")."""
    if kind not in KINDS:
        raise PluginError(f"unknown plugin kind '{kind}'")
    KINDS[kind][name] = target
    _cache.pop((kind, name), None)


def names(kind: str) -> list[str]:
    _load_entry_points(kind)
    return sorted(KINDS[kind])


def resolve(kind: str, name: str) -> Any:
    """Import and return the provider `name` of `kind`; PluginError if unknown."""
    key = (kind, name)
    if key in _cache:
        return _cache[key]
    table = KINDS.get(kind)
    if table is None:
        raise PluginError(f"unknown plugin kind '{kind}'")
    target = table.get(name)
    if target is None:
        _load_entry_points(kind)
        target = table.get(name)
    if target is None:
        import difflib  # only for the error's hint

        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise PluginError(f"unknown {kind} plugin '{name}'{hint}; known: {', '.join(sorted(table))}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
        value = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"cannot load {kind} plugin '{name}' from {target}: {exc}") from None
    _cache[key] = value
    return value


def describe(kind: str, name: str) -> str:
    """One line about a plugin: the built-in's description, else the first line of its docstring."""
    if (kind, name) in DESCRIPTIONS:
        return DESCRIPTIONS[(kind, name)]
    try:
        doc = resolve(kind, name).__doc__ or ""
    except PluginError as exc:
        return str(exc)
    return doc.strip().split("\n")[0]
