"""Package providers for the `package` agent, and choosing one for a node.

`plugin.package.provider` names one (apt, dnf, yum, or a third party's from
the `package_provider` plugin table); unset, or MCollective's default
`puppet`, means "the platform's own", found on the node itself: apt where
dpkg keeps the system's package database, else dnf, else yum.  Facts never
choose it: they are targeting data an operator may set to anything (a node
whose facts say RedHat on a Debian system still manages its packages with
apt).  A provider whose tool is missing fails every action (status 1).
`plugin.package.<provider>.*` settings are the provider's options (tool
paths, apt's lock_timeout).
"""

from __future__ import annotations

import os

from pymco import plugins
from pymco.config import Config
from pymco.errors import ActionFailed, PluginError, ToolMissing
from pymco.package.base import PackageProvider

__all__ = ["PackageProvider", "provider_name", "make_provider"]

#: (provider, the file that shows its tool manages this system), in order of preference
_BY_SYSTEM = (("apt", "/var/lib/dpkg/status"), ("dnf", "/usr/bin/dnf"), ("yum", "/usr/bin/yum"))


def provider_name(config: Config) -> str:
    configured = (config.plugin("package.provider") or "").strip().lower()
    if configured and configured != "puppet":
        return configured
    for name, evidence in _BY_SYSTEM:
        if os.path.exists(evidence):
            return name
    raise ToolMissing("Cannot find a package manager on this node (neither dpkg, dnf nor yum); "
                      "set plugin.package.provider")


def make_provider(name: str, config: Config) -> PackageProvider:
    try:
        cls = plugins.resolve("package_provider", name)
    except PluginError as exc:
        raise ActionFailed(f"Cannot load package provider '{name}': {exc}") from None
    return cls(config.plugin_section(f"package.{name}"))
