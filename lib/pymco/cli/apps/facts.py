"""`mco facts <fact>`: how often each value of a fact occurs across the fleet.

Dotted names reach into structured facts (`os.release.major`); a structured
value (hash or list) is counted by its JSON text.  `-v` lists the nodes
holding each value, as MCollective's report does.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pymco.cli.application import Application, UsageError
from pymco.cli.output import render_stats
from pymco.client.results import RPCResult
from pymco.matcher.facts import ruby_string

__all__ = ["Facts", "fact_report"]


def value_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return ruby_string(value)


def fact_report(fact: str, values: dict[str, list[str]], verbose: bool) -> list[str]:
    """MCollective's single fact report: values sorted, `found N times`, hosts with -v."""
    lines = [f"Report for fact: {fact}", ""]
    width = max(len(v) for v in values) if values else 0
    for value in sorted(values):
        lines.append(f"        {value:<{width}} found {len(values[value])} times")
        if verbose:
            lines.append("")
            lines.extend(f"            {host}" for host in sorted(values[value]))
            lines.append("")
    return lines


class Facts(Application):
    name = "facts"
    description = "Reports on usage for a specific fact"
    usage = ["mco facts [options] [filters] <fact>"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("fact_name", metavar="fact", nargs="?",
                            help="The fact to report on (dotted names reach into structured facts)")

    def validate(self) -> None:
        if not self.args.fact_name:
            raise UsageError("Please specify a fact to report for")

    def main(self) -> int:
        fact = self.args.fact_name
        client = self.rpc_client("rpcutil")
        values: dict[str, list[str]] = {}

        def on_result(result: RPCResult) -> None:
            value = result.data.get("value") if result.ok else None
            if value is not None:
                values.setdefault(value_text(value), []).append(result.sender)
            elif not result.ok:
                self.err(f"Could not get fact {fact} from {result.sender}: {result.statusmsg}")

        stats = client.call("get_fact", {"fact": fact}, on_result=on_result)
        if not stats.discovered:
            self.err("\nNo request sent, we did not discover any nodes.")
            return self.halt(stats)
        if values:
            self.out("\n".join(fact_report(fact, values, self.args.verbose)))
        else:
            self.out(f"No values found for fact {fact}")
        self.stdout.write("\n" + render_stats(stats, self.colour, verbose=self.args.verbose))
        return self.halt(stats)
