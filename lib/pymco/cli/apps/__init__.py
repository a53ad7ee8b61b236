"""Built-in `mco` applications, by name ("module:Class", imported on use).

Third-party applications register under the entry-point group
`pymco.application` with the same "module:Class" value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pymco.cli.application import Application

__all__ = ["APPLICATIONS", "find_application", "application_names"]

APPLICATIONS: dict[str, str] = {
    "completion": "pymco.cli.apps.completion:Completion",
    "describe_filter": "pymco.cli.apps.describe_filter:DescribeFilter",
    "enroll": "pymco.cli.apps.enroll:Enroll",
    "facts": "pymco.cli.apps.facts:Facts",
    "find": "pymco.cli.apps.find:Find",
    "help": "pymco.cli.apps.help:Help",
    "inventory": "pymco.cli.apps.inventory:Inventory",
    "package": "pymco.cli.apps.package:Package",
    "ping": "pymco.cli.apps.ping:Ping",
    "plugin": "pymco.cli.apps.plugin:Plugin",
    "puppet": "pymco.cli.apps.puppet:Puppet",
    "rpc": "pymco.cli.apps.rpc:Rpc",
    "service": "pymco.cli.apps.service:Service",
}


def _table() -> dict[str, str]:
    from importlib.metadata import entry_points

    table = dict(APPLICATIONS)
    for ep in entry_points(group="pymco.application"):
        table.setdefault(ep.name, ep.value)
    return table


def application_names() -> list[str]:
    """Names of applications that can actually be loaded."""
    names = []
    for name in sorted(_table()):
        if find_application(name) is not None:
            names.append(name)
    return names


def find_application(name: str) -> "type[Application] | None":
    import importlib

    target = APPLICATIONS.get(name) or _table().get(name)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, attr, None)
