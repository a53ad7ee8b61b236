"""`mco inventory`: one node's agents, data plugins, classes, facts and daemon statistics.

Also `--list-collectives` (nodes per collective across the fleet) and
`--collective-graph FILE` (the same as a Graphviz graph), as MCollective's
inventory application.  MCollective's `--script` reports are Ruby code run by
`eval`; pymco does not run them (use `mco rpc rpcutil inventory --json`).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from pymco.cli.application import Application, UsageError
from pymco.cli.apps.facts import value_text
from pymco.client.results import RPCResult, RequestStats
from pymco.errors import ClientError

__all__ = ["Inventory", "flatten_facts", "grid"]


def flatten_facts(facts: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Structured facts as `dotted.name => value` pairs, sorted; lists stay whole."""
    pairs: list[tuple[str, str]] = []
    for key in sorted(facts, key=str):
        value = facts[key]
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            pairs.extend(flatten_facts(value, f"{name}."))
        else:
            pairs.append((name, value_text(value)))
    return pairs


def grid(names: list[str], per_line: int = 3, width: int = 15, indent: str = "      ") -> list[str]:
    names = sorted(names)
    width = max([width] + [len(n) for n in names])
    return [indent + " ".join(f"{n:<{width}}" for n in names[i:i + per_line]).rstrip()
            for i in range(0, len(names), per_line)]


class Inventory(Application):
    name = "inventory"
    description = "General reporting tool for nodes, collectives and subcollectives"
    usage = ["mco inventory [options] [filters] <node>", "mco inventory --list-collectives",
             "mco inventory --collective-graph FILE"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("node", nargs="?", help="The node to report on")
        parser.add_argument("--script", help="Script to run (MCollective's Ruby reports: not supported)")
        parser.add_argument("--list-collectives", "--lc", dest="collectives", action="store_true",
                            help="List all known collectives")
        parser.add_argument("--collective-graph", "--cg", "--map", dest="collectivemap", metavar="FILE",
                            help="Create a DOT graph of all collectives")

    def validate(self) -> None:
        if self.args.script:
            raise UsageError("inventory --script runs Ruby report code, which pymco does not; "
                             "use 'mco rpc rpcutil inventory --json' and a tool such as jq")
        if not (self.args.node or self.args.collectives or self.args.collectivemap):
            raise UsageError("Please specify a node to report on, or --list-collectives")

    def main(self) -> int:
        if self.args.collectivemap:
            return self.collective_graph(self.args.collectivemap)
        if self.args.collectives:
            return self.collectives_report()
        return self.node_inventory(self.args.node)

    # ------------------------------------------------------------ collectives
    def collectives(self) -> tuple[dict[str, list[str]], RequestStats]:
        client = self.rpc_client("rpcutil")
        members: dict[str, list[str]] = {}

        def on_result(result: RPCResult) -> None:
            if result.ok:
                for collective in result.data.get("collectives") or []:
                    members.setdefault(str(collective), []).append(result.sender)

        stats = client.call("collective_info", {}, on_result=on_result)
        return members, stats

    def collectives_report(self) -> int:
        members, stats = self.collectives()
        self.out(f"   {'Collective':<30} Nodes")
        self.out(f"   {'==========':<30} =====")
        for name, nodes in sorted(members.items(), key=lambda item: (len(item[1]), item[0])):
            self.out(f"   {name:<30} {len(nodes)}")
        self.out("")
        self.out(f"   {'Total nodes:':>30} {stats.responses}")
        self.out("")
        return 0 if stats.responses else 1

    def collective_graph(self, path: str) -> int:
        self.out("Retrieving collective info....")
        members, stats = self.collectives()
        lines = ["graph {"]
        for name in sorted(members):
            lines.append(f'   subgraph "{name}" {{')
            lines.extend(f'      "{node}" -- "{name}"' for node in sorted(members[name]))
            lines.append("   }")
        lines.append("}")
        try:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        except OSError as exc:
            raise ClientError(f"cannot write the collective graph to {path}: {exc.strerror}") from None
        self.out(f"Graph of {stats.responses} nodes has been written to {path}")
        return 0 if stats.responses else 1

    # ------------------------------------------------------------ one node
    def ask(self, node: str, action: str) -> RPCResult | None:
        options = self.call_options()
        options.nodes = [node]
        options.filter.identity = [node]
        from pymco.client.rpc import RPCClient

        client = RPCClient(self.session, "rpcutil", self.load_ddl("rpcutil"), options)
        results: list[RPCResult] = []
        client.call(action, {}, on_result=results.append)
        return results[0] if results else None

    def node_inventory(self, node: str) -> int:
        stats = self.ask(node, "daemon_stats")
        if stats is None:
            self.err(f"Did not receive any results from node {node}")
            return 1
        if not stats.ok:
            self.err(f"Failed to retrieve daemon_stats from {node}: {stats.statusmsg}")
            return 1
        inventory = self.ask(node, "inventory")
        if inventory is None or not inventory.ok:
            why = inventory.statusmsg if inventory else "no reply"
            self.err(f"Failed to retrieve inventory for {node}: {why}")
            return 1
        self.out("\n".join(self.report(inventory.sender, stats.data, inventory.data)))
        return 0

    @staticmethod
    def report(sender: str, nodestats: dict[str, Any], data: dict[str, Any]) -> list[str]:
        times = nodestats.get("times") or {}
        started = nodestats.get("starttime")
        lines = [f"Inventory for {sender}:", "", "   Server Statistics:",
                 f"                      Version: {nodestats.get('version')}",
                 "                   Start Time: " + (time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started))
                                                     if isinstance(started, (int, float)) else str(started)),
                 f"                  Config File: {nodestats.get('configfile')}"]
        if "collectives" in data:
            lines.append(f"                  Collectives: {', '.join(map(str, data['collectives']))}")
        if "main_collective" in data:
            lines.append(f"              Main Collective: {data['main_collective']}")
        lines += [f"                   Process ID: {nodestats.get('pid')}",
                  f"               Total Messages: {nodestats.get('total')}",
                  f"      Messages Passed Filters: {nodestats.get('passed')}",
                  f"            Messages Filtered: {nodestats.get('filtered')}",
                  f"             Expired Messages: {nodestats.get('ttlexpired')}",
                  f"                 Replies Sent: {nodestats.get('replies')}",
                  f"         Total Processor Time: {times.get('utime')} seconds",
                  f"                  System Time: {times.get('stime')} seconds", "", "   Agents:"]
        agents = [str(a) for a in data.get("agents") or []]
        lines += grid(agents) if agents else ["      No agents installed"]
        lines += ["", "   Data Plugins:"]
        plugins = [str(p).removesuffix("_data") for p in data.get("data_plugins") or []]
        lines += grid(plugins) if plugins else ["      No data plugins installed"]
        lines += ["", "   Configuration Management Classes:"]
        classes = [str(c) for c in data.get("classes") or []]
        lines += grid(classes, per_line=3, width=30, indent="    ") if classes else ["      No classes applied"]
        lines += ["", "   Facts:"]
        facts = data.get("facts") or {}
        pairs = flatten_facts(facts) if isinstance(facts, dict) else []
        lines += [f"      {name} => {value}" for name, value in pairs] if pairs else ["      No facts known"]
        return lines
