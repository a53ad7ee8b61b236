"""`mco completion`: agents, actions, inputs and applications for shell completion, from DDLs only."""

from __future__ import annotations

import argparse

from pymco.cli.application import Application, UsageError
from pymco.ddl.loader import known_ddls
from pymco.errors import DDLError
from pymco.paths import ddl_dirs

__all__ = ["Completion"]


class Completion(Application):
    name = "completion"
    description = "Helper for shell completion systems"
    exclude_sections = ("common", "filter", "rpc")

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--list-agents", action="store_true", help="List all known agents")
        parser.add_argument("--list-actions", action="store_true", help="List all actions for an agent")
        parser.add_argument("--list-inputs", action="store_true", help="List all inputs for an action")
        parser.add_argument("--list-applications", action="store_true", help="List all known applications")
        parser.add_argument("--agent", help="The agent to operate on")
        parser.add_argument("--action", help="The action to operate on")

    def main(self) -> int:
        args = self.args
        if args.list_agents:
            for name in known_ddls(ddl_dirs(self.config)):
                if args.verbose:
                    try:
                        self.out(f"{name}:{self.load_ddl(name).metadata.description}")
                    except DDLError:
                        continue
                else:
                    self.out(name)
        elif args.list_actions:
            if not args.agent:
                raise UsageError("Please specify an agent to list actions for")
            ddl = self.load_ddl(args.agent)
            for name in sorted(ddl.actions):
                self.out(f"{name}:{ddl.actions[name].description}" if args.verbose else name)
        elif args.list_inputs:
            if not (args.agent and args.action):
                raise UsageError("Please specify an action and agent to list inputs for")
            spec = self.load_ddl(args.agent).action(args.action)
            if spec is None:
                raise UsageError(f"Agent {args.agent} has no action {args.action}")
            for name in sorted(spec.inputs):
                self.out(f"{name}:{spec.inputs[name].description}" if args.verbose else name)
        elif args.list_applications:
            from pymco.cli.apps import application_names

            for name in application_names():
                if args.verbose:
                    from pymco.cli.apps import find_application

                    cls = find_application(name)
                    self.out(f"{name}:{cls.description if cls else ''}")
                else:
                    self.out(name)
        return 0
