"""Built-in `mco` applications, by name ("module:Class", imported on use).

Third-party applications register under the entry-point group
`pymco.application` with the same "module:Class" value, or are a file
`applications/NAME.py` in a libdir of the client config (`pymco.cli.custom`).
"""

from __future__ import annotations

import logging
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


_FILE = "file:"  # a libdir application: "file:<path>"


def _table(config: str | None) -> dict[str, str]:
    from importlib.metadata import entry_points

    from pymco.cli.custom import libdir_applications

    table = dict(APPLICATIONS)
    for ep in entry_points(group="pymco.application"):
        table.setdefault(ep.name, ep.value)
    for name, path in libdir_applications(config).items():
        table.setdefault(name, _FILE + path)
    return table


def application_names(config: str | None = None) -> list[str]:
    """Names of applications that can actually be loaded (libdir ones from the client config `config`)."""
    from pymco.errors import PymcoError

    names = []
    for name in sorted(_table(config)):
        try:
            if find_application(name, config) is not None:
                names.append(name)
        except PymcoError as exc:  # a broken libdir file: listed by its error, not fatal to `mco help`
            logging.getLogger(__name__).warning("%s", exc)
    return names


def find_application(name: str, config: str | None = None) -> "type[Application] | None":
    """The application class for `name`; PluginError when a libdir application file cannot load."""
    import importlib

    target = APPLICATIONS.get(name) or _table(config).get(name)
    if target is None:
        return None
    if target.startswith(_FILE):
        from pymco.cli.custom import load_file_application

        return load_file_application(name, target[len(_FILE):])
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, attr, None)
