#!/usr/bin/env python3
"""What the package, service and puppet agents' read-only actions cost, end to end.

One pymcod (masterless Puppet with its state in a temporary folder), then
for each action the median wall time of `mco rpc <agent> <action> -I node`
over --reps runs, beside `rpcutil ping` (the fixed cost of starting mco and a
round trip), so the difference is what the action itself takes on the node.
The first puppet call also pays for `puppet config print` (cached after).

    .venv/bin/python benchmarks/agent_actions.py --reps 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cluster import Cluster, tool  # noqa: E402

ACTIONS = [("rpcutil", "ping"), ("package", "status", "package=bash"), ("package", "count"),
           ("package", "md5"), ("service", "status", "service=procps"), ("puppet", "status"),
           ("puppet", "last_run_summary")]


def timed(cluster: Cluster, *args: str) -> float:
    start = time.monotonic()
    proc = subprocess.run([tool("mco"), "rpc", *args, "-I", "bench01", "--json", "-c", str(cluster.client_config)],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    replies = json.loads(proc.stdout or "[]")
    if proc.returncode != 0 or len(replies) != 1 or replies[0]["statuscode"] != 0:
        raise RuntimeError(f"mco rpc {' '.join(args)} failed: {proc.stdout.strip()[:300]} {proc.stderr.strip()[:300]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pymco-bench-") as tmp:
        home = Path(tmp) / "puppet"
        home.mkdir()
        (home / "puppet.conf").write_text(f"[main]\nvardir = {home}/var\npublicdir = {home}/var/public\n"
                                          f"confdir = {home}/etc\ncodedir = {home}/code\nrundir = {home}/run\n")
        cluster = Cluster(Path(tmp) / "cluster")
        cluster.add_node("bench01", **{"plugin.puppet.command": f"puppet apply --config {home}/puppet.conf x.pp",
                                       "plugin.puppet.config": f"{home}/puppet.conf"})
        try:
            cluster.wait()
            first_puppet = timed(cluster, "puppet", "status")
            print(f"{'action':<32} {'median s':>9} {'minus ping':>11}")
            baseline = None
            for agent, action, *inputs in ACTIONS:
                times = [timed(cluster, agent, action, *inputs) for _ in range(args.reps)]
                median = statistics.median(times)
                baseline = median if baseline is None else baseline
                print(f"{agent + ' ' + action:<32} {median:>9.3f} {median - baseline:>11.3f}")
            print(f"{'puppet status, first call':<32} {first_puppet:>9.3f} {first_puppet - baseline:>11.3f}")
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
