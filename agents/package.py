"""package: install, update, remove and query OS packages (MCollective's package agent).

The rules are the agent's: installing a present package without a version
fails with "Package is already installed"; updating or uninstalling an
absent one fails with "Package is not present on the system"; purge refuses
only a package that left no trace.  Failures still return the package's
status.  The work is done by the node's package provider (pymco.package),
chosen from the package tool the node has (apt/dpkg, else dnf or yum with
rpm), never from its facts; a missing tool fails the request (status 1).
"""

from __future__ import annotations

from typing import Any

from pymco.agent import Agent, action
from pymco.errors import ActionFailed
from pymco.package import PackageProvider, make_provider, provider_name
from pymco.package.apt import AptProvider
from pymco.package.base import NOT_INSTALLED
from pymco.package.rpm import YumProvider


_UPDATES = ("output", "outdated_packages", "exitcode", "package_manager")


def _wire(value: Any) -> Any:
    """MCollective's reply rule: scalars become strings, lists and hashes stay."""
    return value if isinstance(value, (list, dict)) else str(value)


class Package(Agent):
    def provider(self) -> PackageProvider:
        return make_provider(provider_name(self.config), self.config)

    def fill(self, reply, properties: dict[str, Any]) -> None:
        for key, value in properties.items():
            reply[key] = _wire(value)

    def change(self, request, reply, verb: str) -> None:
        package = request["package"]
        provider = self.provider()
        current = provider.status(package)
        ensure = current.get("ensure")
        missing = ensure in NOT_INSTALLED
        if verb == "install" and not missing and not request.get("version"):
            refusal = "Package is already installed"
        elif verb in ("update", "uninstall") and missing:
            refusal = "Package is not present on the system"
        elif verb == "purge" and (ensure == "purged" or (missing and not provider.keeps_config_files)):
            refusal = "Package is not present on the system"
        else:
            refusal = None
        if refusal:
            self.fill(reply, current)
            raise ActionFailed(refusal)
        if verb == "install":
            output = provider.install(package, request.get("version"))
        else:
            output = getattr(provider, verb)(package)
        self.fill(reply, provider.status(package))
        reply["output"] = output

    @action
    def install(self, request, reply):
        self.change(request, reply, "install")

    @action
    def update(self, request, reply):
        self.change(request, reply, "update")

    @action
    def uninstall(self, request, reply):
        self.change(request, reply, "uninstall")

    @action
    def purge(self, request, reply):
        self.change(request, reply, "purge")

    @action
    def status(self, request, reply):
        self.fill(reply, self.provider().status(request["package"]))

    @action
    def search(self, request, reply):
        found = self.provider().search(request["package"])
        reply["available_packages"] = found
        if not found:
            raise ActionFailed("Package not found")
        reply["package_count"] = f"{len(found)} packages found"

    @action
    def count(self, request, reply):
        self.copy(reply, self.provider().count(), "output", "exitcode")

    @action
    def md5(self, request, reply):
        self.copy(reply, self.provider().md5(), "output", "exitcode")

    @action
    def yum_clean(self, request, reply):
        mode = request.get("mode") or self.setting("yum_clean_mode", "all")
        self.copy(reply, self.yum().clean(mode), "output", "exitcode")

    @action
    def refresh(self, request, reply):
        self.copy(reply, self.provider().refresh(), "output", "exitcode")

    @action
    def apt_update(self, request, reply):
        self.copy(reply, self.apt().refresh(), "output", "exitcode", "outdated_packages")

    @action
    def checkupdates(self, request, reply):
        self.copy(reply, self.provider().checkupdates(), *_UPDATES)

    @action
    def yum_checkupdates(self, request, reply):
        self.copy(reply, self.yum().checkupdates(), *_UPDATES)

    @action
    def apt_checkupdates(self, request, reply):
        self.copy(reply, self.apt().checkupdates(), *_UPDATES)

    # apt_* and yum_* name their tool, whatever provider the node uses
    def apt(self) -> AptProvider:
        return AptProvider(self.config.plugin_section("package.apt"))

    def yum(self) -> YumProvider:
        return YumProvider(self.config.plugin_section("package.yum"))

    @staticmethod
    def copy(reply, result: dict[str, Any], *keys: str) -> None:
        for key in keys:
            reply[key] = result[key]
