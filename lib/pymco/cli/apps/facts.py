"""`mco facts <fact>`: how often each value of a fact occurs across the fleet.

Dotted names reach into structured facts (`os.release.major`); a structured
value prints as Ruby's inspect (`{"full"=>"12.11"}`), in MCollective's
report layout (values padded to at least 40 columns).  `-v` lists the nodes
holding each value; `--json` prints each node's value instead:
`[{"sender": "web1", "fact": "role", "value": "web"}, ...]` (`[]` when
nothing matched), which `mco rpc` also reads as a node list on stdin.
"""

from __future__ import annotations

import argparse
from typing import Any

from pymco.cli.application import Application, UsageError
from pymco.cli.output import render_json, render_stats
from pymco.client.results import RPCResult
from pymco.rubytext import to_s

__all__ = ["Facts", "fact_report"]


def fact_report(fact: str, values: dict[str, list[str]], verbose: bool) -> list[str]:
    """MCollective's single fact report: values sorted, `found N times`, hosts with -v."""
    lines = [f"Report for fact: {fact}", ""]
    width = max([40] + [len(v) for v in values])
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
        found: list[dict[str, Any]] = []

        def on_result(result: RPCResult) -> None:
            value = result.data.get("value") if result.ok else None
            if value is not None:
                values.setdefault(to_s(value), []).append(result.sender)
                found.append({"sender": result.sender, "fact": fact, "value": value})
            elif not result.ok:
                self.err(f"Could not get fact {fact} from {result.sender}: {result.statusmsg}")

        stats = client.call("get_fact", {"fact": fact}, on_result=on_result)
        if not stats.discovered:
            self.err("\nNo request sent, we did not discover any nodes.")
        if self.args.json:
            self.stdout.write(render_json(sorted(found, key=lambda item: item["sender"]), self.stdout))
            return self.halt(stats)
        if values:
            self.out("\n".join(fact_report(fact, values, self.args.verbose)))
        else:
            self.out(f"No values found for fact {fact}")
        self.stdout.write(render_stats(stats, self.colour, verbose=self.args.verbose))
        return self.halt(stats)
