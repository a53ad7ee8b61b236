"""Service providers for the `service` agent, and choosing one for a node.

`plugin.service.provider` names one (systemd, sysv, service, or a third
party's from the `service_provider` plugin table).  Unset, or MCollective's
default `puppet`, means what Puppet would pick: systemd when it is the
running init (/run/systemd/system exists), init scripts otherwise.
`plugin.service.<provider>.*` settings are the provider's options.
"""

from __future__ import annotations

import os

from pymco import plugins
from pymco.config import Config
from pymco.errors import ActionFailed, PluginError
from pymco.service.base import RUNNING, STOPPED, ServiceProvider

__all__ = ["ServiceProvider", "make_service", "RUNNING", "STOPPED", "SYSTEMD_MARKER"]

SYSTEMD_MARKER = "/run/systemd/system"


def provider_name(config: Config) -> str:
    configured = (config.plugin("service.provider") or "").strip().lower()
    if configured and configured != "puppet":
        return configured
    return "systemd" if os.path.isdir(SYSTEMD_MARKER) else "sysv"


def make_service(service: str, config: Config) -> ServiceProvider:
    name = provider_name(config)
    try:
        cls = plugins.resolve("service_provider", name)
    except PluginError as exc:
        raise ActionFailed(f"Cannot load service provider implementation: {name}: {exc}") from None
    return cls(service, config.plugin_section(f"service.{name}"))
