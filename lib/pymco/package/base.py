"""The package provider contract the `package` agent drives.

A provider is the node's package tool behind one small class: it queries
and changes one package, and answers the whole-system questions (count,
md5, check for updates, refresh the cache).  Providers only do mechanics;
the agent keeps MCollective's rules ("Package is already installed", ...).
Failures raise ActionFailed with the tool's own words, which the client sees
as status 5, as when Puppet's provider raised inside the Ruby agent.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pymco.errors import ActionFailed, ToolMissing
from pymco.shell import CommandResult, run_command

__all__ = ["PackageProvider", "NOT_INSTALLED", "md5_of", "outdated"]

#: `ensure` values of a package that is not installed ("purged": dpkg has no trace of it)
NOT_INSTALLED = ("absent", "purged")


def md5_of(text: str) -> str:
    import hashlib  # here, not at the top: it maps libcrypto into every daemon that loads the package agent

    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def outdated(package: str, version: str, repo: str) -> dict[str, str]:
    """One entry of `outdated_packages`, as MCollective's helpers build it."""
    return {"package": package, "version": version, "repo": repo}


class PackageProvider(ABC):
    #: reported in the `provider` output and chosen by `plugin.package.provider`
    name: ClassVar[str]
    #: the `package_manager` output of checkupdates
    manager: ClassVar[str]
    #: the tool whose absence makes the provider unusable: (setting, default path)
    tool: ClassVar[tuple[str, str]]
    #: whether "absent" can mean "configuration files remain" (so purge still has work to do)
    keeps_config_files: ClassVar[bool] = False
    #: extra environment for every command
    environment: ClassVar[dict[str, str]] = {}

    def __init__(self, options: dict[str, str] | None = None) -> None:
        self.options = dict(options or {})

    # ------------------------------------------------------------ helpers
    def path(self, setting: str, default: str) -> str:
        """A tool's path: `plugin.package.<provider>.<setting>`, else `default` if present, else PATH."""
        configured = self.options.get(setting)
        if configured:
            return configured
        if os.path.exists(default):
            return default
        import shutil

        return shutil.which(os.path.basename(default)) or default

    def require(self, tool: tuple[str, str] | None = None) -> str:
        """A tool's path (the provider's main one by default); ToolMissing (status 1) when it is not there."""
        setting, default = tool or self.tool
        path = self.path(setting, default)
        if not os.path.exists(path):
            raise ToolMissing(f"Cannot find {os.path.basename(default)} at {path}: "
                              f"the {self.name} package provider cannot work on this node")
        return path

    @staticmethod
    def failed(what: str, result: CommandResult) -> ActionFailed:
        """MCollective's "<tool> failed, exit code was N", plus the tool's last error line."""
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        detail = f": {lines[-1]}" if lines else ""
        return ActionFailed(f"{what} failed, exit code was {result.exitcode}{detail}")

    def run(self, command: list[str], check: bool = True) -> CommandResult:
        """Run a tool; with `check`, a non-zero exit is ActionFailed quoting command and output."""
        result = run_command(command, environment=self.environment)
        if check and not result.ok:
            output = (result.stdout + result.stderr).strip()
            raise ActionFailed(f"Execution of '{' '.join(command)}' returned {result.exitcode}: {output}")
        return result

    # ------------------------------------------------------------ one package
    @abstractmethod
    def status(self, package: str) -> dict[str, Any]:
        """Properties of `package`; `ensure` is the full version, or 'absent'/'purged'."""

    @abstractmethod
    def install(self, package: str, version: str | None = None) -> str:
        """Install (exactly `version` when given, up- or downgrading); returns the tool's output."""

    @abstractmethod
    def update(self, package: str) -> str:
        """Upgrade an installed package to the newest available version."""

    @abstractmethod
    def uninstall(self, package: str) -> str:
        """Remove the package (configuration files may stay)."""

    @abstractmethod
    def purge(self, package: str) -> str:
        """Remove the package and its configuration files."""

    @abstractmethod
    def search(self, pattern: str) -> list[dict[str, Any]]:
        """Available packages matching a name or glob."""

    # ------------------------------------------------------------ the system
    @abstractmethod
    def installed_list(self) -> tuple[str, int]:
        """(list text whose lines are installed packages, exit code) for count and md5."""

    def count(self) -> dict[str, Any]:
        text, code = self.installed_list()
        return {"output": str(sum(1 for line in text.split("\n") if line)), "exitcode": code}

    def md5(self) -> dict[str, Any]:
        text, code = self.installed_list()
        return {"output": md5_of(text), "exitcode": code}

    @abstractmethod
    def checkupdates(self) -> dict[str, Any]:
        """{output, outdated_packages, exitcode, package_manager}."""

    @abstractmethod
    def refresh(self) -> dict[str, Any]:
        """Refresh the available-packages cache; returns what checkupdates returns."""
