"""`mco puppet`: schedule runs, enable, disable and interrogate Puppet (MCollective's puppet application)."""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from pymco.cli.agent_apps import sender_lines
from pymco.cli.application import Application
from pymco.cli.apps.rpc import RpcRunner
from pymco.cli.output import render_json
from pymco.cli.puppet_runall import PuppetRunner
from pymco.client.results import RequestStats, RPCResult
from pymco.errors import ClientError

__all__ = ["Puppet", "sparkline", "spark", "shorten_number"]

COMMANDS = ("count", "enable", "disable", "resource", "runall", "runonce", "status", "summary")
_TICKS = "▁▂▃▄▅▆▇"
_SUMMARY_ROWS = (("Total resources", "total_resources"), ("Out Of Sync resources", "out_of_sync_resources"),
                 ("Failed resources", "failed_resources"), ("Changed resources", "changed_resources"),
                 ("Corrected resources", "corrected_resources"),
                 ("Config Retrieval time (seconds)", "config_retrieval_time"),
                 ("Total run-time (seconds)", "total_time"), ("Time since last run (seconds)", "since_lastrun"))


def spark(histo: list[int]) -> str:
    if max(histo) == min(histo):
        return _TICKS[0] * len(histo)
    distance = max(histo) / (len(_TICKS) - 1)
    out = []
    for value in histo:
        tick = max(0, math.floor(value / distance + 0.5))
        if value > 0 and tick == 0:
            tick = 1  # show at least something for very small values
        out.append(_TICKS[tick])
    return "".join(out)


def shorten_number(number: Any) -> str:
    try:
        value = float(number)
    except (TypeError, ValueError):
        return "NaN"
    if value >= 1000000:
        return f"{value / 1000000:0.1f}m"
    if value >= 1000:
        return f"{value / 1000:0.1f}k"
    return f"{value:0.1f}"


def sparkline(results: list[RPCResult], field: str, bucket_count: int = 20) -> str:
    values: list[float] = [r.data[field] for r in results if r.ok and isinstance(r.data.get(field), (int, float))
                           and not isinstance(r.data.get(field), bool)]
    if not values:
        return ""
    low, high = min(values), max(values)
    buckets = [0] * bucket_count
    if high != low:
        size = (high - low) / float(bucket_count) + 1
        for value in values:
            buckets[int((value - low) / size)] += 1
    average = sum(values) / len(values)
    return (f"{spark(buckets)}  min: {shorten_number(low):<6} avg: {shorten_number(average):<6} "
            f"max: {shorten_number(high):<6}")


class Puppet(Application):
    name = "puppet"
    description = "Schedule runs, enable, disable and interrogate the Puppet Agent"
    usage = ["mco puppet [OPTIONS] [FILTERS] <ACTION> [CONCURRENCY|MESSAGE]",
             "mco puppet <count|enable|status|summary>",
             "mco puppet disable [message]",
             "mco puppet runonce [PUPPET OPTIONS]",
             "mco puppet resource type name property1=value property2=value",
             "mco puppet runall [--rerun SECONDS] [PUPPET OPTIONS] <CONCURRENCY>"]

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--force", action="store_true", default=None, help="Bypass splay options when running")
        parser.add_argument("--server", help="Connect to a specific server or port")
        parser.add_argument("--tags", "--tag", dest="tag", action="append", metavar="TAG",
                            help="Restrict the run to specific tags")
        parser.add_argument("--skip_tags", "--skip_tag", dest="skip_tag", action="append", metavar="TAG",
                            help="Exclude specific tags from the run")
        parser.add_argument("--noop", action="store_true", default=None, help="Do a noop run")
        parser.add_argument("--no-noop", dest="noop", action="store_false", help="Do a run with noop disabled")
        parser.add_argument("-E", "--environment", help="Place the node in a specific environment for this run")
        parser.add_argument("--splay", action="store_true", default=None, help="Splay the run by up to splaylimit seconds")
        parser.add_argument("--no-splay", dest="splay", action="store_false", help="Do a run with splay disabled")
        parser.add_argument("--splaylimit", type=int, metavar="SECONDS",
                            help="Maximum splay time for this run if splay is set")
        parser.add_argument("--use_cached_catalog", action="store_true", default=None,
                            help="Use cached catalog for this run")
        parser.add_argument("--no-use_cached_catalog", dest="use_cached_catalog", action="store_false",
                            help="Do not use cached catalog for this run")
        parser.add_argument("--ignoreschedules", action="store_true", default=None,
                            help="Disable schedule processing")
        parser.add_argument("--rerun", type=int, metavar="SECONDS",
                            help="When performing runall do so repeatedly with a minimum run time of SECONDS")
        parser.add_argument("words", nargs="*", help=argparse.SUPPRESS)

    def validate(self) -> None:
        args = self.args
        words = list(args.words)
        if not words:
            raise ClientError("Please specify a command.")
        self.command = words.pop(0)
        if self.command not in COMMANDS:
            raise ClientError("Action must be count, enable, disable, resource, runall, runonce, status or summary")
        if args.force:
            if args.splay is not None:
                raise ClientError("Cannot set splay when forcing runs")
            if args.splaylimit is not None:
                raise ClientError("Cannot set splaylimit when forcing runs")
        self.message = words[0] if self.command == "disable" and words else None
        if self.command == "runall":
            if not words:
                raise ClientError("The runall command needs a concurrency limit")
            try:
                self.concurrency = int(words[0])
            except ValueError:
                raise ClientError(f"invalid value for Integer(): {words[0]!r}") from None
            if self.concurrency <= 0:
                raise ClientError("The concurrency for the runall command has to be greater than 0")
        if self.command == "resource":
            if not words:
                raise ClientError("The resource command needs a type to operate on")
            if len(words) < 2:
                raise ClientError("The resource command needs a name to operate on")
            self.resource = {"type": words[0], "name": words[1]}
            for item in words[2:]:
                key, sep, value = item.partition("=")
                if not sep or not key or not value:
                    raise ClientError(f"Could not parse argument '{item}'")
                self.resource[key] = value

    # ------------------------------------------------------------ arguments
    def runonce_arguments(self, for_runall: bool = False) -> dict[str, Any]:
        args = self.args
        names = ["force", "server", "noop", "environment", "splay", "splaylimit", "ignoreschedules"]
        if not for_runall:
            names.insert(0, "use_cached_catalog")
        arguments = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
        if args.tag:
            arguments["tags"] = ",".join(args.tag)
        if args.skip_tag:
            arguments["skip_tags"] = ",".join(args.skip_tag)
        return arguments

    def collect(self, action: str, arguments: dict[str, Any] | None = None) -> tuple[list[RPCResult], RequestStats]:
        """Call without printing anything per node (count, summary, runall)."""
        results: list[RPCResult] = []
        stats = self.rpc_client("puppet").call(action, arguments or {}, on_result=results.append)
        if not stats.discovered:
            self.err("No request sent, we did not discover any nodes.")
        return results, stats

    # ------------------------------------------------------------ commands
    def main(self) -> int:
        return getattr(self, f"{self.command}_command")()

    def runonce_command(self) -> int:
        return RpcRunner(self).call("puppet", "runonce", self.runonce_arguments(), summarize=False)

    def enable_command(self) -> int:
        return RpcRunner(self).call("puppet", "enable", {})

    def disable_command(self) -> int:
        return RpcRunner(self).call("puppet", "disable", {"message": self.message} if self.message else {})

    def resource_command(self) -> int:
        return RpcRunner(self).call("puppet", "resource", self.resource)

    def status_command(self) -> int:
        def printer(results: list[RPCResult]) -> None:
            self.stdout.write(sender_lines(results, lambda r: r.data.get("message")))

        return RpcRunner(self).call("puppet", "status", {}, printer=printer)

    def json_out(self, results: list[RPCResult], stats: RequestStats) -> int | None:
        """count and summary with `--json`: the replies they are computed from (`[]` when none)."""
        if not self.args.json:
            return None
        self.stdout.write(render_json(sorted(results, key=lambda r: r.sender), self.stdout))
        return self.halt(stats)

    def count_command(self) -> int:
        results, stats = self.collect("status")
        if (code := self.json_out(results, stats)) is not None:
            return code
        ok = [r.data for r in results if r.ok]

        def tally(field: str, value: bool) -> int:
            return sum(1 for data in ok if data.get(field) is value)

        self.out(f"Total Puppet nodes: {stats.okcount}")
        self.out()
        self.out(f"          Nodes currently enabled: {tally('enabled', True)}")
        self.out(f"         Nodes currently disabled: {tally('enabled', False)}")
        self.out()
        self.out(f"Nodes currently doing puppet runs: {tally('applying', True)}")
        self.out(f"          Nodes currently stopped: {tally('applying', False)}")
        self.out()
        self.out(f"       Nodes with daemons started: {tally('daemon_present', True)}")
        self.out(f"    Nodes without daemons started: {tally('daemon_present', False)}")
        self.out(f"       Daemons started but idling: {tally('idling', True)}")
        self.out()
        if stats.failcount > 0:
            noun = "node" if stats.failcount == 1 else "nodes"
            self.out(self.colour("red", f"Failed to retrieve status of {stats.failcount} {noun}"))
        return self.halt(stats)

    def summary_command(self) -> int:
        results, stats = self.collect("last_run_summary")
        if (code := self.json_out(results, stats)) is not None:
            return code
        self.out(f"Summary statistics for {len(results)} nodes:")
        self.out()
        for label, field in _SUMMARY_ROWS:
            self.out(f"{label + ':':>34} {sparkline(results, field)}")
        self.out()
        return self.halt(stats)

    def runall_command(self) -> int:
        def log(message: str) -> None:
            self.out(f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {message}")
            self.stdout.flush()

        runner = PuppetRunner(self, self.concurrency, self.runonce_arguments(for_runall=True), log)
        if self.args.rerun is not None:
            runner.runall_forever(self.args.rerun)
        else:
            runner.runall_once()
        return 0
