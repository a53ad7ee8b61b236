"""`mco package`: install, update, remove and query packages (MCollective's package application)."""

from __future__ import annotations

import argparse

from pymco.cli import pipeline
from pymco.cli.agent_apps import action_word, confirm_unfiltered, sender_lines
from pymco.cli.application import Application
from pymco.cli.apps.rpc import RpcRunner
from pymco.client.results import RPCResult
from pymco.errors import ClientError

__all__ = ["Package"]

GLOBAL_ACTIONS = ("count", "md5", "yum_clean", "yum_checkupdates", "apt_update", "checkupdates",
                  "apt_checkupdates", "refresh")
PACKAGE_ACTIONS = ("install", "uninstall", "purge", "update", "status", "search")
_UPDATES = ("yum_checkupdates", "apt_update", "checkupdates", "apt_checkupdates")
_SAFE = ("status", "count", "md5")


class Package(Application):
    name = "package"
    description = "Install, uninstall, update, purge and perform other actions to packages"
    usage = ["mco package [OPTIONS] [FILTERS] <ACTION> <PACKAGE>",
             "mco package <PACKAGE> <install|uninstall|purge|update|status|search>",
             "mco package <count|md5|refresh|checkupdates|apt_update|apt_checkupdates|yum_clean|yum_checkupdates>"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("-y", "--yes", action="store_true", help="Assume yes on any prompts")
        parser.add_argument("--version", dest="package_version", metavar="VERSION",
                            help="Optional VERSION to pass to install")
        parser.add_argument("words", nargs="*", help=argparse.SUPPRESS)
        pipeline.add_arguments(parser)

    def validate(self) -> None:
        words = list(self.args.words)
        if len(words) < 2 and not (words and words[0] in GLOBAL_ACTIONS):
            raise ClientError("Please specify package name and action")
        action, package = action_word(words, PACKAGE_ACTIONS + GLOBAL_ACTIONS)
        if action is None:
            raise ClientError("Action has to be one of " + ", ".join(PACKAGE_ACTIONS + GLOBAL_ACTIONS))
        self.action = action
        self.package = None if action in GLOBAL_ACTIONS else package

    def main(self) -> int:
        if self.action not in _SAFE:
            confirm_unfiltered(self, "packages")
        arguments = {}
        if self.package is not None:
            arguments["package"] = self.package
        if self.args.package_version is not None:
            arguments["version"] = self.args.package_version
        return RpcRunner(self).call("package", self.action, arguments, caption=f"{self.action} Package results",
                                    printer=lambda results: self.stdout.write(sender_lines(results, self.text)))

    def text(self, result: RPCResult) -> str | None:
        data, action = result.data, self.action
        if action in ("count", "md5"):
            return data.get("output")
        if action in _UPDATES:
            items = data.get("outdated_packages") or []
            if self.args.verbose:
                return " ".join(f"{p.get('package')}-{p.get('version')}" for p in items)
            return " ".join(str(p.get("package")) for p in items)
        if self.args.verbose:
            if action == "refresh":
                return data.get("output")
            if action == "search":
                return data.get("package_count")
            return data.get("ensure")
        if action == "status":
            ensure = data.get("ensure")
            if ensure in ("absent", "purged"):
                return ensure
            return f"{data.get('name')}-{ensure}" + (f".{data['arch']}" if data.get("arch") else "")
        return None
