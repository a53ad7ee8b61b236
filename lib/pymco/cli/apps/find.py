"""`mco find`: the identities a filter selects, one per line (exit 1 when none).

`--json` prints `[{"sender": "web1"}, ...]` (`[]` when none), the node list
`mco rpc` and Ruby's `mco rpc` read on standard input.
"""

from __future__ import annotations

import argparse
import time

from pymco.cli.application import Application
from pymco.cli.discovery_line import discover_with_line, wanted
from pymco.cli.output import render_json

__all__ = ["Find"]


class Find(Application):
    name = "find"
    description = "Find hosts using the discovery system matching filter criteria"
    exclude_sections = ("rpc",)
    stdin_discovery = True

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("-j", "--json", action="store_true", help="Produce JSON output")

    def main(self) -> int:
        client = self.rpc_client("rpcutil")
        start = time.monotonic()
        nodes = discover_with_line(self, client, wanted(self))
        elapsed = time.monotonic() - start
        if self.args.json:
            self.stdout.write(render_json([{"sender": node} for node in nodes], self.stdout))
        else:
            if self.args.verbose:
                self.err("")
            for node in nodes:
                self.out(node)
        if self.args.verbose:
            self.err(f"\nDiscovered {len(nodes)} nodes in {elapsed:.2f} seconds using the "
                     f"{client.method_name} discovery plugin")
        return 0 if nodes else 1
