"""`mco ping`: who is out there, and how quickly do they answer.

Times run from publishing the ping to each reply (the broker connection is
made first, as Ruby's client does).  `--json` prints
`[{"sender": "web1", "time": 8.27}, ...]` in milliseconds, `[]` when none.
"""

from __future__ import annotations

import argparse
import time

from pymco.cli.application import Application
from pymco.cli.discovery_line import silent_line, summary, wanted
from pymco.cli.output import render_json
from pymco.client.results import RequestStats
from pymco.discovery.base import DiscoveryRequest
from pymco.discovery.ending import plan
from pymco.discovery.mc import McDiscovery

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
        method = McDiscovery(self.session)
        method.check(options.filter)
        times: list[float] = []
        replies: list[dict[str, object]] = []
        self.session.connector  # connect before the clock starts: times are publish to reply
        start = time.monotonic()

        def on_node(identity: str) -> None:
            times.append((time.monotonic() - start) * 1000)
            if self.args.json:
                replies.append({"sender": identity, "time": round(times[-1], 2)})
            else:
                self.out(f"{identity:<40} time={times[-1]:.2f} ms")

        request = DiscoveryRequest(options.filter, collective, "", float(timeout),
                                   plan=plan(config, float(timeout), explicit, options.quiet_window))
        found = method.discover(request, on_node=on_node)
        stats = RequestStats(discovered=0)
        stats.responded = found
        if self.args.json:
            self.stdout.write(render_json(replies, self.stdout))
            return self.halt(stats)
        self.out("\n\n---- ping statistics ----")
        if times:
            graph = spark(times) if (self.args.graph or config.plugin("rpc.graph")) else ""
            self.out(f"{len(times)} replies max: {max(times):.2f} min: {min(times):.2f} "
                     f"avg: {sum(times) / len(times):.2f} {graph}")
        else:
            self.out("No responses received")
        outcome = method.outcome
        if wanted(self) and outcome is not None:
            self.err(f"Waited up to {timeout:g} second(s) for replies{summary(outcome)}")
            silent = silent_line(outcome)
            if silent:
                self.err(silent)
        return self.halt(stats)
