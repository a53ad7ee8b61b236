"""Package providers for the `package` agent, and choosing one for a node.

`plugin.package.provider` names one (apt, dnf, yum, or a third party's from
the `package_provider` plugin table); unset, or MCollective's default
`puppet`, means "the platform's own": apt on Debian-family nodes, dnf (else
yum) on Red Hat-family nodes, from the `os.family` fact, falling back to
which tool is installed when facts do not say.  `plugin.package.<provider>.*`
settings are the provider's options (tool paths, apt's lock_timeout).
"""

from __future__ import annotations

import os
from typing import Any

from pymco import plugins
from pymco.config import Config
from pymco.errors import ActionFailed, PluginError
from pymco.package.base import PackageProvider

__all__ = ["PackageProvider", "provider_name", "make_provider"]

_FAMILIES = {"debian": "apt", "redhat": "dnf"}
_BY_TOOL = (("/usr/bin/apt-get", "apt"), ("/usr/bin/dnf", "dnf"), ("/usr/bin/yum", "yum"))


def provider_name(config: Config, os_family: Any) -> str:
    configured = (config.plugin("package.provider") or "").strip().lower()
    if configured and configured != "puppet":
        return configured
    family = _FAMILIES.get(str(os_family).lower()) if isinstance(os_family, str) else None
    if family == "dnf" and not os.path.exists("/usr/bin/dnf") and os.path.exists("/usr/bin/yum"):
        family = "yum"
    if family:
        return family
    for path, name in _BY_TOOL:
        if os.path.exists(path):
            return name
    raise ActionFailed(f"Cannot find a package provider for this node (os.family is {os_family!r}); "
                       f"set plugin.package.provider")


def make_provider(name: str, config: Config) -> PackageProvider:
    try:
        cls = plugins.resolve("package_provider", name)
    except PluginError as exc:
        raise ActionFailed(f"Cannot load package provider '{name}': {exc}") from None
    return cls(config.plugin_section(f"package.{name}"))
