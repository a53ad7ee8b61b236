#!/usr/bin/env python3
"""pymco beside Ruby MCollective 2.12.5, same machine, same broker, same run.

For each fleet size N it starts N pymcod daemons and N Ruby mcollectived
daemons (psk, RabbitMQ STOMP, one collective per fleet), then alternately runs
each implementation's client against its own fleet, and prints medians and
pymco/Ruby ratios:

  * wall time of `mco rpc rpcutil ping --nodes FILE` (every node must answer)
  * `mco` start-up: `mco rpc rpcutil ping -I <one node>` (no discovery)
  * `mco find -F os.family=Debian` (Ruby: `osfamily`, its facts are flat) and
    `mco ping`, pymco warm (its discovery cache knows the fleet, so discovery
    ends once every known node answered) and cold (cache emptied before each
    run: the full discovery timeout, as Ruby always waits)
  * daemon idle RSS (median over the fleet)
  * daemon CPU per 100 directed `rpcutil ping` requests (one daemon, utime+stime)

    .venv/bin/python benchmarks/compare.py --sizes 10,40 --reps 5

pymco runs as `pip install` leaves it: the script first lays out an installed
copy of this checkout (a venv whose site-packages holds pymco with its
agents, DDLs and templates, compiled to bytecode, and reaches the project
venv's dependencies through a .pth file) and re-runs itself with it.  An
editable install (`pip install -e`) adds a path finder that every Python
start imports (pathlib, urllib...), and PYTHONDONTWRITEBYTECODE, set on the
project's machines, makes every start compile pymco from source: neither is
what operators run.  `--dev` measures the checkout as it is instead.  Each
node's facts file is as `pymcod facts refresh` leaves it (its parsed copy in
pymco's YAML cache, so daemons need not import PyYAML).

Run it by hand (scripts/bootstrap first); the test suite runs it once at a tiny size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cluster import Cluster, Node, tool, unique_name  # noqa: E402
from tests.support.ruby import RubyNode, ruby_client_config  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


IDLE_WINDOW = 10.0  # seconds the idle daemons are watched


def idle_cpu(fleets: "Fleets", window: float) -> tuple[float, float]:
    """CPU seconds per minute an idle daemon spends (timers, heart-beats), pymco and Ruby."""
    pids = ([n.proc.pid for n in fleets.py_nodes], [n.proc.pid for n in fleets.rb_nodes])
    before = [[cpu_seconds(pid) for pid in group] for group in pids]
    time.sleep(window)
    return tuple(  # type: ignore[return-value]
        sum(cpu_seconds(pid) - start for pid, start in zip(group, starts)) / len(group) * 60 / window
        for group, starts in zip(pids, before))


def answered(cmd: list[str], stdout: str) -> int:
    """How many nodes a command's output shows answering."""
    if "--json" in cmd:
        return len(json.loads(stdout or "[]"))
    if cmd[1] == "ping" or cmd[:2] == ["mco", "ping"]:
        return sum(1 for line in stdout.splitlines() if "time=" in line)
    return len(stdout.split())


def timed(cmd: list[str], expect: int, env: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env=env)
    elapsed = time.monotonic() - start
    got = answered(cmd, proc.stdout)
    if proc.returncode != 0 or got != expect:
        raise RuntimeError(f"{' '.join(cmd)} failed (rc {proc.returncode}, {got}/{expect} answers): "
                           f"{proc.stderr.strip()[:300]}")
    return elapsed


def directed_pings(client_config: Path, identity: str, collective: str, count: int) -> None:
    """`count` sequential directed rpcutil ping requests through pymco's client library."""
    from pymco.client.rpc import CallOptions, RPCClient
    from pymco.client.session import Session
    from pymco.config import load_config
    from pymco.matcher.filter import Filter

    session = Session(load_config(str(client_config), mode="client"))
    try:
        flt = Filter()
        flt.add_identity(identity)
        for _ in range(count):
            client = RPCClient(session, "rpcutil", None, CallOptions(filter=flt, timeout=10, collective=collective))
            stats = client.call("ping", {})
            if stats.responses != 1:
                raise RuntimeError(f"{identity} did not answer a ping")
    finally:
        session.close()


def wait_answering(client_config: Path, node_list: Path, size: int, collective: str,
                   timeout: float = 180) -> None:
    """Until every node of the list answers a directed ping (daemons log at warn: no start line)."""
    end = time.monotonic() + timeout
    cmd = [tool("mco"), "rpc", "rpcutil", "ping", "--nodes", str(node_list), "--json", "-t", "3",
           "-T", collective, "-c", str(client_config)]
    while time.monotonic() < end:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if proc.stdout.strip() and len(json.loads(proc.stdout)) == size:
            return
        time.sleep(1)
    raise RuntimeError(f"the daemons of {node_list} did not all answer within {timeout}s")


class Fleets:
    def __init__(self, workdir: Path, size: int) -> None:
        self.size = size
        self.py_collective, self.rb_collective = unique_name("benchpy"), unique_name("benchrb")
        self.cluster = Cluster(workdir / "pymco", [self.py_collective, self.rb_collective])
        self.py_nodes: list[Node] = []
        self.rb_nodes: list[RubyNode] = []
        self.workdir = workdir

    def start(self) -> None:
        from pymco.facts.yaml_facts import load_yaml_mapping

        for i in range(self.size):
            facts = {"role": "web" if i % 2 else "db", "index": i}
            node = self.cluster.add_node(f"py{i:03d}", facts=dict(facts, os={"family": "Debian"}),
                                         base_facts=False, loglevel="warn", collectives=[self.py_collective],
                                         start=False)
            node.write()
            load_yaml_mapping(str(node.facts_path))  # as `pymcod facts refresh` would: parsed copy cached
            node.write = lambda: None  # type: ignore[method-assign]  # start() must not rewrite the file
            self.py_nodes.append(node.start())
            self.rb_nodes.append(RubyNode(f"rb{i:03d}", self.workdir / "ruby" / f"rb{i:03d}", [self.rb_collective],
                                          facts=dict(facts, osfamily="Debian"),
                                          settings={"loglevel": "warn"}).start())
        self.py_list = self.workdir / "py-nodes.txt"
        self.py_list.write_text("".join(f"{n.identity}\n" for n in self.py_nodes))
        self.rb_list = self.workdir / "rb-nodes.txt"
        self.rb_list.write_text("".join(f"{n.identity}\n" for n in self.rb_nodes))
        self.rb_client = ruby_client_config(self.workdir / "ruby" / "client.cfg",
                                            [self.rb_collective, self.py_collective])
        wait_answering(self.cluster.client_config, self.py_list, self.size, self.py_collective)
        wait_answering(self.cluster.client_config, self.rb_list, self.size, self.rb_collective)
        time.sleep(3)  # let start-up settle before measuring idle figures

    def stop(self) -> None:
        self.cluster.stop()
        for node in self.rb_nodes:
            node.stop()


def measure(size: int, reps: int, requests: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(prefix="pymco-bench-") as tmp:
        fleets = Fleets(Path(tmp), size)
        try:
            fleets.start()
            rows: dict[str, tuple[float, float]] = {}
            py_rss = statistics.median(rss_kib(n.proc.pid) for n in fleets.py_nodes) / 1024
            rb_rss = statistics.median(rss_kib(n.proc.pid) for n in fleets.rb_nodes) / 1024
            rows["daemon idle RSS (MiB, median)"] = (py_rss, rb_rss)
            rows["daemon idle CPU per minute (s, mean of all daemons)"] = idle_cpu(fleets, IDLE_WINDOW)
            py_mco = [tool("mco")]
            py_tail = ["-c", str(fleets.cluster.client_config)]
            rb_tail = ["--config", str(fleets.rb_client)]
            cache = Path(tmp) / "client-cache"  # pymco's discovery (and DDL) cache, this run's own
            py_env = dict(os.environ, PYMCO_CACHE_DIR=str(cache))
            py_find = py_mco + ["find", "-F", "os.family=Debian"] + py_tail
            rb_find = ["mco", "find", "-F", "osfamily=Debian"] + rb_tail
            commands = [
                (f"mco rpc rpcutil ping --nodes FILE, {size} daemons (s)", size,
                 py_mco + ["rpc", "rpcutil", "ping", "--nodes", str(fleets.py_list), "--json"] + py_tail,
                 ["mco", "rpc", "rpcutil", "ping", "--nodes", str(fleets.rb_list), "--json"] + rb_tail, "warm"),
                ("mco start-up: rpc rpcutil ping -I one-node (s)", 1,
                 py_mco + ["rpc", "rpcutil", "ping", "-I", fleets.py_nodes[0].identity, "--json"] + py_tail,
                 ["mco", "rpc", "rpcutil", "ping", "-I", fleets.rb_nodes[0].identity, "--json"] + rb_tail, "warm"),
                (f"mco find -F os.family=Debian, warm, {size} daemons (s)", size, py_find, rb_find, "warm"),
                (f"mco find -F os.family=Debian, cold, {size} daemons (s)", size, py_find, rb_find, "cold"),
                (f"mco ping, warm, {size} daemons (s)", size,
                 py_mco + ["ping"] + py_tail, ["mco", "ping"] + rb_tail, "warm"),
                (f"mco ping, cold, {size} daemons (s)", size,
                 py_mco + ["ping"] + py_tail, ["mco", "ping"] + rb_tail, "cold"),
            ]
            for figure, expect, py_cmd, rb_cmd, cache_state in commands:
                py_times, rb_times = [], []
                if cache_state == "warm":
                    timed(py_cmd, expect, py_env)  # the first run teaches the cache
                for _ in range(reps):
                    if cache_state == "cold":
                        for entry in cache.glob("discovery-*.json"):
                            entry.unlink()
                    py_times.append(timed(py_cmd, expect, py_env))
                    rb_times.append(timed(rb_cmd, expect))
                rows[figure] = (statistics.median(py_times), statistics.median(rb_times))
            cpu = []
            for node_pid, identity, collective in (
                    (fleets.py_nodes[0].proc.pid, fleets.py_nodes[0].identity, fleets.py_collective),
                    (fleets.rb_nodes[0].proc.pid, fleets.rb_nodes[0].identity, fleets.rb_collective)):
                before = cpu_seconds(node_pid)
                directed_pings(fleets.cluster.client_config, identity, collective, requests)
                cpu.append((cpu_seconds(node_pid) - before) * 100 / requests)
            rows["daemon CPU per 100 rpcutil ping requests (s)"] = (cpu[0], cpu[1])
            return rows
        finally:
            fleets.stop()


INSTALLED = "PYMCO_BENCH_INSTALLED_COPY"


def installed_copy(directory: Path) -> Path:
    """Lay out pymco as a non-editable install would (setup.cfg's package_dir); returns its python."""
    import shutil
    import sysconfig

    root = Path(__file__).resolve().parents[1]
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(root / "lib" / "pymco", site / "pymco", ignore=skip)
    for source, target in (("agents", "_agents"), ("ddl", "_ddl"), ("templates", "_templates")):
        shutil.copytree(root / source, site / "pymco" / target, ignore=skip)
    (site / "pymco-bench-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")  # stomp.py, PyYAML...
    subprocess.run([str(python), "-m", "compileall", "-q", str(site / "pymco")], check=True,
                   stdout=subprocess.DEVNULL)
    for name, target in (("mco", "pymco.cli.main"), ("pymcod", "pymco.server.daemon")):
        script = venv / "bin" / name
        script.write_text(f"#!{python}\nimport sys\nfrom {target} import main\nsys.exit(main())\n")
        script.chmod(0o755)
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,40", help="fleet sizes, comma separated")
    parser.add_argument("--reps", type=int, default=5, help="client runs per implementation and size")
    parser.add_argument("--requests", type=int, default=200, help="directed requests for the CPU figure")
    parser.add_argument("--dev", action="store_true",
                        help="measure the checkout as installed in this venv (editable, maybe without bytecode)")
    args = parser.parse_args(argv)
    if not args.dev and not os.environ.get(INSTALLED):
        copy = Path(tempfile.mkdtemp(prefix="pymco-bench-install-"))
        try:
            python = installed_copy(copy)
            return subprocess.run([str(python), __file__] + (sys.argv[1:] if argv is None else argv),
                                  env=dict(os.environ, **{INSTALLED: str(copy)})).returncode
        finally:
            import shutil

            shutil.rmtree(copy, ignore_errors=True)
    print(f"{'figure':<58} {'pymco':>10} {'Ruby':>10} {'pymco/Ruby':>11}", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        for figure, (py, rb) in measure(size, args.reps, args.requests).items():
            print(f"{figure:<58} {py:>10.3f} {rb:>10.3f} {py / rb if rb else float('nan'):>11.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
