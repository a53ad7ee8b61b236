"""`mco help [command]`: the list of applications, or one application's options."""

from __future__ import annotations

import argparse

from pymco import __version__
from pymco.cli.application import Application
from pymco.cli.apps import application_names, find_application

__all__ = ["Help"]


class Help(Application):
    name = "help"
    description = "Application list and help"
    exclude_sections = ("common", "filter", "rpc")

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("command", nargs="?", help="show this command's options")

    def parse(self, argv: list[str]) -> None:
        # help must work without any configuration file
        self.args = self.build_parser().parse_args(argv)

    def main(self) -> int:
        if self.args.command:
            cls = find_application(self.args.command, self.args.config)
            if cls is None:
                self.err(f"Unknown command '{self.args.command}'")
                return 1
            self.stdout.write(cls().build_parser().format_help())
            return 0
        self.out(f"pymco {__version__}, an MCollective-compatible orchestrator\n")
        for name in application_names(self.args.config):
            cls = find_application(name, self.args.config)
            self.out(f"  {name:<15} {cls.description if cls else ''}")
        self.out("")
        return 0
