"""`mco ping`: who is out there, and how quickly do they answer.

Times run from publishing the ping to each reply (the broker connection is
made first, as Ruby's client does).  `--json` prints
`[{"sender": "web1", "time": 8.27}, ...]` in milliseconds, `[]` when none.

Ruby's ping always broadcasts and ignores `--dm`; pymco honours another
discovery method (`--dm puppetdb`, `--nodes FILE`, `default_discovery_method`):
it pings the nodes that method finds, each directly, stops once all of them
answered, and names the ones that did not, so `mco ping --dm puppetdb` says
which nodes PuppetDB knows but the collective does not hear.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from pymco import plugins
from pymco.cli.application import Application
from pymco.cli.discovery_line import silent_line, summary, wanted
from pymco.cli.output import render_json
from pymco.client.results import RequestStats
from pymco.discovery.base import DiscoveryRequest
from pymco.discovery.ending import plan
from pymco.discovery.mc import McDiscovery
from pymco.matcher.filter import Filter
from pymco.protocol.message import Reply, Request

if TYPE_CHECKING:
    from pymco.client.rpc import CallOptions

__all__ = ["Ping", "spark"]


def spark(times: list[float]) -> str:
    """The --graph histogram of 50 ms buckets."""
    ticks = "▁▂▃▄▅▆▇"
    histo: dict[int, int] = {}
    for t in times:
        bucket = int(t + 50 - (t % 50))
        histo[bucket] = histo.get(bucket, 0) + 1
    low, high = min(histo), max(histo)
    for i in range((high - low) // 50):
        histo.setdefault(low + i * 50, 0)
    counts = [histo[k] for k in sorted(histo)]
    distance = max(counts) / (len(ticks) - 1)
    return "".join(ticks[max(0, round(c / distance))] for c in counts)


class Ping(Application):
    name = "ping"
    description = "Ping all nodes"
    exclude_sections = ("rpc",)

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("-g", "--graph", action="store_true", help="Shows a graph of ping distribution")
        parser.add_argument("-j", "--json", action="store_true", help="Produce JSON output")

    def main(self) -> int:
        config = self.need_config()
        options = self.call_options()
        # As MCollective: the default 5 s timeout is extended by the discovery timeout.
        timeout = self.args.timeout if self.args.timeout is not None else 5 + (
            self.args.discovery_timeout or config.discovery_timeout or 0)
        explicit = self.args.timeout is not None or self.args.discovery_timeout is not None
        collective = options.collective or config.main_collective
        self._times: list[float] = []
        self._replies: list[dict[str, object]] = []
        method_name = options.discovery_method or config.default_discovery_method
        if method_name != "mc":
            return self._report(self._ping_discovered(method_name, options, collective, float(timeout)))
        method = McDiscovery(self.session)
        method.check(options.filter)
        self.session.connector  # connect before the clock starts: times are publish to reply
        self._start = time.monotonic()
        request = DiscoveryRequest(options.filter, collective, "", float(timeout),
                                   plan=plan(config, float(timeout), explicit, options.quiet_window))
        stats = RequestStats(discovered=0)
        stats.responded = method.discover(request, on_node=self._on_node)
        code = self._report(stats)
        outcome = method.outcome
        if not self.args.json and wanted(self) and outcome is not None:
            self.err(f"Waited up to {timeout:g} second(s) for replies{summary(outcome)}")
            silent = silent_line(outcome)
            if silent:
                self.err(silent)
        return code

    def _on_node(self, identity: str) -> None:
        self._times.append((time.monotonic() - self._start) * 1000)
        if self.args.json:
            self._replies.append({"sender": identity, "time": round(self._times[-1], 2)})
        else:
            self.out(f"{identity:<40} time={self._times[-1]:.2f} ms")

    def _ping_discovered(self, method_name: str, options: CallOptions, collective: str,
                         timeout: float) -> RequestStats:
        """Discover with another method, then ping each node found directly until all answered."""
        config = self.need_config()
        method = plugins.resolve("discovery", method_name)(self.session)
        method.check(options.filter)
        began = time.monotonic()
        dt = self.args.discovery_timeout if self.args.discovery_timeout is not None else config.discovery_timeout
        nodes = method.discover(DiscoveryRequest(options.filter, collective, "discovery", float(dt or 2),
                                                 options=options.discovery_options,
                                                 explicit_timeout=dt is not None))
        stats = RequestStats(discovered=len(nodes), discovered_nodes=list(nodes),
                             discoverytime=time.monotonic() - began)
        if not nodes:
            return stats
        ping = Request(agent="discovery", collective=collective, body="ping", filter=Filter().to_wire(),
                       callerid=self.session.callerid(), senderid=self.session.identity, ttl=config.ttl)
        self.session.connector  # connect before the clock starts: times are publish to reply
        self._start = time.monotonic()
        self.session.publish(ping, nodes)
        waiting = set(nodes)

        def on_reply(reply: Reply) -> bool:
            if reply.senderid in waiting:
                waiting.discard(reply.senderid)
                stats.responded.append(reply.senderid)
                self._on_node(reply.senderid)
            return not waiting

        self.session.collect(ping.requestid, timeout, on_reply)
        return stats

    def _report(self, stats: RequestStats) -> int:
        times = self._times
        if self.args.json:
            self.stdout.write(render_json(self._replies, self.stdout))
            return self.halt(stats)
        self.out("\n\n---- ping statistics ----")
        if times:
            graph = spark(times) if (self.args.graph or self.need_config().plugin("rpc.graph")) else ""
            self.out(f"{len(times)} replies max: {max(times):.2f} min: {min(times):.2f} "
                     f"avg: {sum(times) / len(times):.2f} {graph}")
        else:
            self.out("No responses received")
        silent = stats.noresponsefrom
        if silent:
            self.err(f"No response from {len(silent)} of the {stats.discovered} discovered node(s): "
                     + ", ".join(silent))
        return self.halt(stats)
