"""Data plugins of the package, service and puppet agents, for -S filters and policies.

    package('bash').installed=true      service('ssh').status=running
    puppet().enabled=false              resource('File[/etc/hosts]').managed=true

They ask the same providers and Puppet state files as the agents.  As in
MCollective, a package or service that cannot be queried is logged and
leaves the outputs at their defaults instead of failing the filter.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pymco.data.base import DataPlugin
from pymco.errors import PymcoError
from pymco.package import make_provider, provider_name
from pymco.package.base import NOT_INSTALLED
from pymco.puppet import agent_state
from pymco.service import make_service

log = logging.getLogger(__name__)

__all__ = ["PackageData", "ServiceData", "PuppetData", "ResourceData"]

_PUPPET_STATUS = ("applying", "enabled", "daemon_present", "lastrun", "since_lastrun", "status", "disable_message",
                  "idling")


class PackageData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        config = self.node.config
        try:
            props = make_provider(provider_name(config), config).status(arg or "")
        except PymcoError as exc:
            log.warning("Could not get status for package %s: %s", arg, exc)
            return {}
        ensure = props.get("ensure")
        return {"status": ensure, "installed": ensure not in NOT_INSTALLED}


class ServiceData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        try:
            return {"status": make_service(arg or "", self.node.config).status()}
        except PymcoError as exc:
            log.warning("Could not get status for service %s: %s", arg, exc)
            return {}


class PuppetData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        status = agent_state(self.node.config).status()
        return {key: status[key] for key in _PUPPET_STATUS}


class ResourceData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        state = agent_state(self.node.config)
        summary = state.load_summary()
        resources, timing = summary["resources"], summary["time"]
        result: dict[str, Any] = {"managed": state.managing(arg)} if arg else {}
        lastrun = state.lastrun(summary)
        result.update(out_of_sync_resources=resources.get("out_of_sync") or 0,
                      failed_resources=resources.get("failed") or 0,
                      corrected_resources=resources.get("corrective_change") or 0,
                      changed_resources=resources.get("changed") or 0, total_resources=resources.get("total") or 0,
                      total_time=timing.get("total") or 0, config_retrieval_time=timing.get("config_retrieval") or 0,
                      lastrun=lastrun, since_lastrun=int(time.time()) - lastrun,
                      config_version=summary["version"].get("config") or "unknown")
        return result
