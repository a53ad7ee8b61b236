"""`mco inventory`: one node's agents, data plugins, classes, facts and daemon statistics.

Also `--list-collectives` (nodes per collective across the fleet) and
`--collective-graph FILE` (the same as a Graphviz graph), as MCollective's
inventory application; the text is Ruby's, facts in Ruby's inspect form.
MCollective's `--script` reports are Ruby code run by `eval`; pymco renders
a jinja2 template per node instead (`--template FILE`, docs/inventory.md).
`--json` prints `[{"sender", "inventory", "daemon_stats"}]` for a node,
`[{"collective", "nodes"}]` for the collectives, and `[]` when none answered.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from pymco.cli.application import Application, UsageError
from pymco.cli.output import columns, render_json
from pymco.client.results import RPCResult, RequestStats
from pymco.errors import ClientError
from pymco.rubytext import clean, to_s

__all__ = ["Inventory", "grid"]


def grid(names: list[str]) -> list[str]:
    """Ruby's `"      %-15s %-15s %-15s" % group` rows, the last one padded with empty fields."""
    names = sorted(names) + [""] * (-len(names) % 3)
    return ["      " + " ".join(f"{n:<15}" for n in names[i:i + 3]) for i in range(0, len(names), 3)]


class Inventory(Application):
    name = "inventory"
    description = "General reporting tool for nodes, collectives and subcollectives"
    usage = ["mco inventory [options] [filters] <node>", "mco inventory --list-collectives",
             "mco inventory --collective-graph FILE"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("node", nargs="?", help="The node to report on")
        parser.add_argument("--template", metavar="FILE",
                            help="Report on every matching node with a jinja2 template (see docs/inventory.md)")
        parser.add_argument("--script", help="MCollective's Ruby report scripts: not run; use --template")
        parser.add_argument("--list-collectives", "--lc", dest="collectives", action="store_true",
                            help="List all known collectives")
        parser.add_argument("--collective-graph", "--cg", "--map", dest="collectivemap", metavar="FILE",
                            help="Create a DOT graph of all collectives")

    def validate(self) -> None:
        if self.args.script:
            raise UsageError("inventory --script runs Ruby report code, which pymco does not; "
                             "write the report as a jinja2 template and use --template (docs/inventory.md)")
        if not (self.args.node or self.args.template or self.args.collectives or self.args.collectivemap):
            raise UsageError("Need to specify either a node name, a template to render or other options")

    def main(self) -> int:
        if self.args.template:
            return self.template_report(self.args.template)
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
        if self.args.json:
            self.stdout.write(render_json([{"collective": name, "nodes": sorted(nodes)}
                                           for name, nodes in sorted(members.items())], self.stdout))
            return 0 if stats.responses else 1
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
            if self.args.json:
                self.stdout.write(render_json([], self.stdout))
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
        if self.args.json:
            self.stdout.write(render_json([{"sender": inventory.sender, "inventory": inventory.data,
                                            "daemon_stats": stats.data}], self.stdout))
        else:
            self.out("\n".join(self.report(inventory.sender, stats.data, inventory.data)))
        return 0

    def template_report(self, path: str) -> int:
        """Ruby's inventory script loop: rpcutil#inventory on every matching node, one rendering each."""
        from pymco.cli.inventory_template import InventoryTemplate

        template = InventoryTemplate(path)
        results: list[RPCResult] = []
        stats = self.rpc_client("rpcutil").call("inventory", {}, on_result=results.append)
        if not stats.discovered:
            self.err("\nNo request sent, we did not discover any nodes.")
        for result in results:
            if not result.ok:
                self.err(f"Failed to retrieve inventory for {result.sender}: {result.statusmsg}")
        answered = sorted((r for r in results if r.ok), key=lambda r: r.sender)
        for index, result in enumerate(answered):
            self.stdout.write(template.render(result.sender, result.data, index, len(answered)))
        return self.halt(stats)

    @staticmethod
    def report(sender: str, nodestats: dict[str, Any], data: dict[str, Any]) -> list[str]:
        """Ruby's node_inventory text, line for line (facts as Ruby's `"#{k} => #{v}"`)."""
        times = nodestats.get("times") or {}
        started = nodestats.get("starttime")
        lines = [f"Inventory for {clean(sender)}:", "", "   Server Statistics:",
                 f"                      Version: {to_s(nodestats.get('version'))}",
                 "                   Start Time: " + (time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started))
                                                     if isinstance(started, (int, float)) else to_s(started)),
                 f"                  Config File: {to_s(nodestats.get('configfile'))}"]
        if "collectives" in data:
            lines.append(f"                  Collectives: {', '.join(map(to_s, data['collectives'] or []))}")
        if "main_collective" in data:
            lines.append(f"              Main Collective: {to_s(data['main_collective'])}")
        lines += [f"                   Process ID: {to_s(nodestats.get('pid'))}",
                  f"               Total Messages: {to_s(nodestats.get('total'))}",
                  f"      Messages Passed Filters: {to_s(nodestats.get('passed'))}",
                  f"            Messages Filtered: {to_s(nodestats.get('filtered'))}",
                  f"             Expired Messages: {to_s(nodestats.get('ttlexpired'))}",
                  f"                 Replies Sent: {to_s(nodestats.get('replies'))}",
                  f"         Total Processor Time: {to_s(times.get('utime'))} seconds",
                  f"                  System Time: {to_s(times.get('stime'))} seconds", "", "   Agents:"]
        agents = [to_s(a) for a in data.get("agents") or []]
        lines += grid(agents) if agents else ["      No agents installed"]
        lines += ["", "   Data Plugins:"]
        plugins = [to_s(p).replace("_data", "") for p in data.get("data_plugins") or []]
        lines += grid(plugins) if plugins else ["      No data plugins installed"]
        lines += ["", "   Configuration Management Classes:"]
        classes = [to_s(c) for c in data.get("classes") or []]
        lines += columns(classes) if classes else ["      No classes applied"]
        lines += ["", "   Facts:"]
        facts = data.get("facts") or {}
        if isinstance(facts, dict) and facts:
            lines += [f"      {to_s(name)} => {to_s(facts[name])}" for name in sorted(facts, key=to_s)]
        else:
            lines.append("      No facts known")
        return lines
