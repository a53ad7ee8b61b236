"""`mco service`: start, stop, restart and query services (MCollective's service application)."""

from __future__ import annotations

import argparse

from pymco.cli import pipeline
from pymco.cli.agent_apps import action_word, confirm_unfiltered, sender_lines
from pymco.cli.application import Application
from pymco.cli.apps.rpc import RpcRunner
from pymco.client.results import RPCResult
from pymco.errors import ClientError

__all__ = ["Service"]

ACTIONS = ("start", "stop", "restart", "status")
#: the state after which a non-verbose run stays quiet about a node
_EXPECTED = {"start": "running", "restart": "running", "stop": "stopped"}


class Service(Application):
    name = "service"
    description = "Manages system services"
    usage = ["mco service <SERVICE> <start|stop|restart|status>"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("-y", "--yes", action="store_true", help="Assume yes on any prompts")
        parser.add_argument("words", nargs="*", help=argparse.SUPPRESS)
        pipeline.add_arguments(parser)

    def validate(self) -> None:
        if len(self.args.words) < 2:
            raise ClientError("Please specify service name and action")
        action, service = action_word(self.args.words, ACTIONS)
        if action is None:
            raise ClientError("Action has to be one of start, stop, restart or status")
        self.action, self.service = action, service

    def main(self) -> int:
        if self.action != "status":
            confirm_unfiltered(self, "services")
        return RpcRunner(self).call("service", self.action, {"service": self.service},
                                    caption=f"{self.action} Service results",
                                    printer=lambda results: self.stdout.write(sender_lines(results, self.text)))

    def text(self, result: RPCResult) -> str | None:
        status = result.data.get("status")
        if self.args.verbose or _EXPECTED.get(self.action) != status:
            return status
        return None
