#!/usr/bin/env python3
"""`--dm puppetdb` against `mc` discovery on the same daemons, and what the private PuppetDB costs.

Starts (or, inside a test run's PYMCO_TEST_RUN_DIR, reuses) the private
Puppet Server and PuppetDB of tests/support/, stores --nodes nodes in
PuppetDB with the real Facter facts and classes their pymcod serve, starts
those pymcod (psk; the operator holds a Puppet certificate for PuppetDB
only), and prints the median wall time of whole `mco` commands with each
discovery method: `mc` cold (a filter the client never saw: the full
discovery wait) and warm (the client's discovery knowledge), `puppetdb`.
Also: PuppetDB's start time and memory, and the time to store a node.

    .venv/bin/python benchmarks/puppetdb_discovery.py --nodes 20 --reps 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymco.facts.yaml_facts import deep_merge, load_yaml_mapping  # noqa: E402
from tests.support import puppetdb, puppetserver, runwide  # noqa: E402
from tests.support.cluster import Cluster, tool, unique_name  # noqa: E402


def rss_mb(group: int) -> float:
    """The resident memory of the java process in the service's process group."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getpgid(int(entry.name)) == group and \
                    (entry / "comm").read_text().strip() == "java":
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except (OSError, ProcessLookupError):
            continue
    return float("nan")


def timed(config: Path, args: list[str], cache: Path, expect: int) -> float:
    start = time.monotonic()
    proc = subprocess.run([tool("mco"), *args, "-c", str(config)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=dict(os.environ, PYMCO_CACHE_DIR=str(cache)))
    elapsed = time.monotonic() - start
    found = proc.stdout.count(".bench.test") if args[0] == "find" else proc.stdout.count('"sender"')
    if proc.returncode != 0 or found != expect:
        raise RuntimeError(f"mco {' '.join(args)}: {found} nodes, not {expect}: {proc.stdout[-300:]} {proc.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    own = runwide.RUN_DIR_ENV not in os.environ
    if own:
        base = Path(tempfile.mkdtemp(prefix="pymco-bench-run-"))
        base.chmod(0o755)  # the services run as users puppet and puppetdb
        os.environ[runwide.RUN_DIR_ENV], os.environ[runwide.RUN_PID_ENV] = str(base), str(os.getpid())
    work = Path(tempfile.mkdtemp(prefix="pymco-bench-pdb-"))
    cluster = None
    try:
        started = time.monotonic()
        server = puppetserver.shared_server()
        server_wall = time.monotonic() - started
        started = time.monotonic()
        db = puppetdb.shared_puppetdb(server)
        db_wall = time.monotonic() - started
        tag = unique_name("b")
        operator = f"bench-{tag}.mcollective"
        ssldir = server.identities({operator: work / "operator"})[operator].ssldir
        cluster = Cluster(work / "cluster")
        names = [f"n{i:03d}-{tag}.bench.test" for i in range(args.nodes)]
        web = names[::2]
        for name in names:
            cluster.add_node(name, classes=["pymco", "pymco::server", "role::web" if name in web else "role::db"])
        cluster.wait(timeout=120)
        base_facts = load_yaml_mapping(str(next(iter(cluster.nodes.values())).base_facts))
        stores = []
        for name, node in cluster.nodes.items():
            begun = time.monotonic()
            # Class[Pymco] names the node's collectives, as the module's catalog does
            db.store_node(name, deep_merge(base_facts, node.facts), node.classes,
                          parameters={"pymco": {"collectives": node.collectives}})
            stores.append(time.monotonic() - begun)
        config = cluster.write_client("bench.cfg", **{
            "plugin.puppetdb.server": f"localhost:{db.port}", "plugin.x509.ssldir": str(ssldir),
            "plugin.x509.certname": operator})
        rows = []
        for label, command, expect in (
                ("mco find -C role::web", ["find", "-C", "role::web", "-I", f"/{tag}/"], len(web)),
                ("mco find -F os.family=Debian", ["find", "-F", "os.family=Debian", "-I", f"/{tag}/"], len(names)),
                ("mco rpc rpcutil ping -C role::web", ["rpc", "rpcutil", "ping", "-C", "role::web", "-I", f"/{tag}/",
                                                      "--json"], len(web))):
            warm = work / f"warm-{len(rows)}"
            timed(config, [*command, "--dm", "mc"], warm, expect)  # the client learns the answer
            medians = [
                statistics.median(timed(config, [*command, "--dm", "mc"], work / f"cold-{len(rows)}-{i}", expect)
                                  for i in range(args.reps)),
                statistics.median(timed(config, [*command, "--dm", "mc"], warm, expect) for _ in range(args.reps)),
                statistics.median(timed(config, [*command, "--dm", "puppetdb"], warm, expect)
                                  for _ in range(args.reps))]
            rows.append((label, *medians))
        rss = rss_mb(db.pid)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
        if own:
            runwide.stop_all(base)
            shutil.rmtree(base, ignore_errors=True)
    print(f"{args.nodes} daemons, median of {args.reps} runs (wall seconds of the whole mco command)")
    print(f"{'command':<36} {'mc cold':>8} {'mc warm':>8} {'puppetdb':>9}")
    for label, cold, warm_s, pdb_s in rows:
        print(f"{label:<36} {cold:>8.3f} {warm_s:>8.3f} {pdb_s:>9.3f}")
    print(f"puppetserver ready in {server_wall:.1f} s, PuppetDB ready in {db_wall:.1f} s "
          f"(its JVM {db.start_seconds:.1f} s){' (already running)' if not own else ''}")
    print(f"PuppetDB RSS {rss:.0f} MB (heap -Xmx{puppetdb.HEAP})")
    print(f"store one node (replace_facts + replace_catalog until queryable): median {statistics.median(stores):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
