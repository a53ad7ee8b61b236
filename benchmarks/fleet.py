#!/usr/bin/env python3
"""A fleet simulator: N pymco nodes, each with the daemon's real request path.

Every simulated node has its own identity, facts, broker connection, psk
security, filter matching, DDL validation and the real rpcutil and discovery
agents (pymco's `Runner`); nodes are spread over a few processes so that
1,000+ fit on a small machine.  A client then discovers the fleet and sends
broadcast `rpcutil ping` rounds, printing per round how many nodes answered
and how long the whole fan-in took.

    .venv/bin/python benchmarks/fleet.py --nodes 1000 --rounds 20

Compare with benchmarks/raw_fanin.py (the same fan-in with no pymco code).
RabbitMQ needs more than its default 1,024 file descriptors for ~840+ nodes:
scripts/broker-setup raises the limit.  For 10,000 nodes, spare the shared
broker and give each process fewer nodes:

    .venv/bin/python benchmarks/fleet.py --nodes 10000 --processes 10 --private-broker \
        --agents rpcutil,discovery --rounds 5 --timeout 120

`--agents` keeps only those agents active on the nodes (the others get
MCollective's `plugin.<agent>.activate_agent = 0`), so each node holds fewer
subscriptions, hence the broker fewer queues; `--private-broker` starts a
RabbitMQ node of its own on free loopback ports (tests/support/private_rabbitmq.py).

`--nats N` runs the fleet on a private cluster of N routed nats-server
processes on loopback (`connector = nats`), node i connected to member
i mod N, the client to the first; `--nats-url` uses running servers instead.
One process may hold at most 20,000 descriptors here, so give each process
fewer nodes than that:

    .venv/bin/python benchmarks/fleet.py --nodes 50000 --processes 25 --nats 3 \
        --agents rpcutil,discovery --rounds 3 --timeout 300 --mco --quiet-min 10

A process answers for all its nodes in one burst, hence more processes than
the descriptor limit needs, and a longer discovery quiet window (--quiet-min).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ and tests/support; pymco itself comes from the venv

from benchmarks.helpers import cpu_seconds, nats_servers, shares, start_all  # noqa: E402
from tests.support.cluster import BROKER, PSK, setup_collectives, unique_name  # noqa: E402


ALL_AGENTS = ("discovery", "package", "puppet", "rpcutil", "service")
#: the program of the private NATS servers, whose share of a round's CPU is reported apart
BROKER_PROGRAM = "nats-server"
#: discovery's shortest quiet window, seconds (--quiet-min); set before the client starts
QUIET_MIN = [1.0]


def broker_settings(port: int, heartbeat: int, servers: list[str] | None) -> dict[str, str]:
    """The connector's plugin settings: NATS `servers`, else the RabbitMQ on `port`."""
    if servers:
        # thousands of simulated nodes connect at once on a loaded machine: be patient
        return {"nats.servers": ",".join(servers), "nats.ping_interval": str(heartbeat or 120),
                "nats.connect_timeout": "30"}
    return {"rabbitmq.vhost": BROKER["vhost"], "rabbitmq.pool.size": "1",
            "rabbitmq.pool.1.host": BROKER["host"], "rabbitmq.pool.1.port": str(port),
            "rabbitmq.pool.1.user": BROKER["user"], "rabbitmq.pool.1.password": BROKER["password"],
            "rabbitmq.heartbeat_interval": str(heartbeat)}


def node_config(identity: str, collective: str, heartbeat: int, port: int = BROKER["port"],
                agents: tuple[str, ...] = ALL_AGENTS, servers: list[str] | None = None,
                probe: float = 0) -> Any:
    from pymco.config import Config

    config = Config(path=None, mode="server")
    for key, value in {"identity": identity, "collectives": collective, "securityprovider": "psk",
                       "connector": "nats" if servers else "rabbitmq", "classesfile": "/nonexistent",
                       "max_workers": "4", "probe_interval": str(probe)}.items():
        config.set(key, value)
    config.pluginconf.update({"psk": PSK, **broker_settings(port, heartbeat, servers)})
    config.pluginconf.update({f"{name}.activate_agent": "0" for name in ALL_AGENTS if name not in agents})
    return config


def node_process(collective: str, first: int, count: int, heartbeat: int, ready: Any, stop: Any,
                 ports: tuple[int, ...] = (BROKER["port"],), active: tuple[str, ...] = ALL_AGENTS,
                 servers: list[str] | None = None, probe: float = 0) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from pymco import plugins
    from pymco.data.base import run_data_plugin
    from pymco.errors import ConnectorError
    from pymco.facts.base import FactSource
    from pymco.security.psk import PskSecurity
    from pymco.server.agents import AgentManager
    from pymco.server.node import NodeContext
    from pymco.server.runner import Runner
    from pymco.server.stats import RunnerStats
    from pymco.server.workers import WorkerPool

    class StaticFacts(FactSource):
        def __init__(self, config: Any, facts: dict[str, Any]) -> None:
            super().__init__(config)
            self.static = facts

        def load(self) -> dict[str, Any]:
            return self.static

    from pymco.server import agents as agent_files

    # Every node of the process loads the same agent files: import each once (a real pymcod
    # imports them once too), not once per node, or setting up 10,000 nodes takes minutes.
    modules: dict[tuple[str, str], Any] = {}
    import_file = agent_files._import
    agent_files._import = lambda name, path: (  # type: ignore[assignment]
        modules.get((name, path)) or modules.setdefault((name, path), import_file(name, path)))

    pool = WorkerPool(8, 100_000, name="fleet-worker")
    runners = []
    for index in range(first, first + count):
        identity = f"sim{index:05d}"
        member = servers[index % len(servers):] + servers[:index % len(servers)] if servers else None
        config = node_config(identity, collective, heartbeat, ports[index % len(ports)], active, member, probe)
        facts = StaticFacts(config, {"role": ("web", "db", "cache")[index % 3], "index": index,
                                     "os": {"family": "Debian" if index % 4 else "RedHat"}})
        node = NodeContext(config, facts, RunnerStats(), run_data_plugin)
        agents = AgentManager(node)
        agents.load_all()
        connector = plugins.resolve("connector", config.connector)(config, identity, daemon=True)
        runners.append(Runner(config, connector, PskSecurity(config, client=False), node, agents, pool))

    def start(runner: Any) -> None:
        for attempt in (1, 2, 3):  # a loaded machine may drop a connection while thousands are set up
            try:
                runner.connector.connect()
                runner.subscribe()
                runner.connector.confirm_subscriptions()
                runner.probe.start()  # as pymcod does; off unless --probe-interval
                return
            except ConnectorError as exc:
                if attempt == 3:
                    raise
                print(f"{runner.connector.identity}: {exc}; setting it up again", file=sys.stderr, flush=True)

    # NATS connections share one event loop per process: many threads keep it busy with
    # connection hand-shakes at once (STOMP connections each have their own thread anyway)
    with ThreadPoolExecutor(16 if servers else 1) as starter:
        list(starter.map(start, runners))
    gc.freeze()  # as pymcod does once started
    ready.put(count)
    stop.wait()
    for runner in runners:
        runner.probe.stop()
        runner.connector.disconnect()


def client_config(collective: str, port: int, servers: list[str] | None) -> str:
    """A client config file for the fleet (the caller removes it)."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as handle:
        handle.write("\n".join([
            "identity = fleetclient", f"collectives = {collective}", "securityprovider = psk",
            f"plugin.psk = {PSK}", f"connector = {'nats' if servers else 'rabbitmq'}",
            *(f"plugin.{key} = {value}" for key, value in broker_settings(port, 0, servers).items()),
            "loglevel = warn",
            # the rounds' fleet: no node may be cut off by a pause
            f"discovery_quiet_min = {QUIET_MIN[0]:g}"]) + "\n")
    return handle.name


def mco_ping(collective: str, expected: int, timeout: float, port: int, servers: list[str] | None) -> int:
    """One real `mco rpc rpcutil ping` (discovery, then the broadcast): replies missing."""
    import re
    import subprocess

    config = client_config(collective, port, servers)
    start = time.monotonic()
    try:
        proc = subprocess.run([str(Path(sys.executable).parent / "mco"), "rpc", "rpcutil", "ping", "-c", config,
                               "--dt", str(int(timeout)), "--dq", f"{max(2.0, QUIET_MIN[0]):g}", "-t", str(int(timeout))],
                              capture_output=True, text=True, timeout=4 * timeout + 60)
    finally:
        os.unlink(config)
    wall = time.monotonic() - start
    done = re.search(r"Finished processing (\d+) / (\d+) hosts in ([\d.]+) ms", proc.stdout)
    if proc.returncode != 0 or done is None:
        print(f"mco rpc rpcutil ping failed (rc {proc.returncode}): {proc.stderr.strip()[-500:]}", flush=True)
        return expected
    answered = int(done.group(1))
    print(f"mco rpc rpcutil ping: {answered}/{expected} hosts, {wall:.1f}s wall (discovery and the broadcast), "
          f"RPC {float(done.group(3)) / 1000:.1f}s", flush=True)
    return expected - answered


def client_rounds(collective: str, expected: int, rounds: int, timeout: float,
                  port: int = BROKER["port"], servers: list[str] | None = None) -> tuple[list[float], int]:
    from pymco.client.rpc import CallOptions, RPCClient
    from pymco.client.session import Session
    from pymco.config import load_config

    config = client_config(collective, port, servers)
    session = Session(load_config(config, mode="client"))
    os.unlink(config)
    from pymco.ddl.loader import load_ddl
    from pymco.paths import ddl_dirs

    ddl = load_ddl("rpcutil", ddl_dirs(None))
    times, lost = [], 0
    try:
        start = time.monotonic()
        discovery = RPCClient(session, "rpcutil", ddl, CallOptions(discovery_timeout=int(timeout),
                                                                   quiet_window=max(2.0, QUIET_MIN[0])))
        found = discovery.discover()
        print(f"discovered {len(found)}/{expected} nodes in {time.monotonic() - start:.2f}s", flush=True)
        for round_no in range(1, rounds + 1):
            client = RPCClient(session, "rpcutil", ddl, CallOptions(timeout=timeout))
            client._discovered = list(found)  # same fleet every round: no re-discovery
            cpu, brokers = cpu_seconds(), cpu_seconds(BROKER_PROGRAM)
            stats = client.call("ping", {})
            cpu, brokers = cpu_seconds() - cpu, cpu_seconds(BROKER_PROGRAM) - brokers
            missing = len(found) - stats.responses
            lost += missing
            times.append(stats.blocktime * 1000)
            print(f"round {round_no:3d}: {stats.responses}/{len(found)} replies in {times[-1]:.1f} ms, "
                  f"CPU {cpu:.2f} s" + (f" (NATS servers {brokers:.2f} s)" if servers else "")
                  + (f", {missing} missing" if missing else ""), flush=True)
            time.sleep(0.2)
        lost += expected - len(found)
    finally:
        session.close()
    return times, lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=30, help="reply timeout per round, seconds")
    parser.add_argument("--heartbeat", type=int, default=0, help="STOMP heart-beat interval of the nodes")
    parser.add_argument("--agents", default=",".join(ALL_AGENTS), help="agents active on the nodes, comma separated")
    parser.add_argument("--private-broker", action="store_true",
                        help="start a RabbitMQ node of its own instead of using the shared one on 61613")
    parser.add_argument("--nats", type=int, default=0, metavar="N",
                        help="run on a private cluster of N nats-server processes instead of RabbitMQ")
    parser.add_argument("--nats-url", default="", help="run on these NATS servers (comma separated) instead")
    parser.add_argument("--mco", action="store_true",
                        help="after the rounds, one real `mco rpc rpcutil ping` (discovery and broadcast)")
    parser.add_argument("--quiet-min", type=float, default=1.0,
                        help="discovery's shortest quiet window: a simulator process answers for all its nodes "
                             "in one burst, so many nodes per process need a longer one")
    parser.add_argument("--probe-interval", type=float, default=0,
                        help="the nodes' deafness probe interval (s); 0: off, as for pymcod's probe_interval = 0")
    parser.add_argument("--idle", type=float, default=0,
                        help="before the rounds, measure this many seconds of the idle fleet: CPU of the "
                             "simulator and (with a private broker or cluster) of RabbitMQ")
    parser.add_argument("--ports", default=str(BROKER["port"]),
                        help="STOMP ports of the brokers (members of one cluster), comma separated: node N "
                             "connects to the (N mod count)th, the client to the first")
    parser.add_argument("--private-cluster", type=int, metavar="MEMBERS",
                        help="start a RabbitMQ cluster of its own with MEMBERS members on loopback")
    args = parser.parse_args(argv)
    QUIET_MIN[0] = args.quiet_min
    agents = tuple(a.strip() for a in args.agents.split(",") if a.strip())
    if "discovery" not in agents or "rpcutil" not in agents:
        parser.error("--agents must include discovery and rpcutil")

    collective = unique_name("fleet")
    if args.nats or args.nats_url:
        with nats_servers(args.nats, args.nats_url) as servers:
            return run_fleet(args, collective, (0,), agents, servers=servers)
    brokers: Any = None
    ports = tuple(int(p) for p in args.ports.split(",") if p.strip())
    directory = Path(tempfile.mkdtemp(prefix="pymco-fleet-broker-"))
    if args.private_broker:
        from tests.support.private_rabbitmq import PrivateRabbitMQ

        brokers = PrivateRabbitMQ(directory, name="pymcofleet", collectives=[collective]).start().setup()
        ports = (brokers.stomp_port,)
    elif args.private_cluster:
        from tests.support.private_rabbitmq import PrivateRabbitMQCluster

        brokers = PrivateRabbitMQCluster(directory, args.private_cluster, collectives=[collective]).start()
        ports = tuple(member.stomp_port for member in brokers.members)
    else:
        setup_collectives([collective])  # on the shared broker (or a cluster it is a member of)
    if brokers is not None:
        print(f"private RabbitMQ on STOMP port(s) {', '.join(map(str, ports))}", flush=True)
    try:
        return run_fleet(args, collective, ports, agents, brokers)
    finally:
        if brokers is not None:
            brokers.stop()
        shutil.rmtree(directory, ignore_errors=True)


def process_cpu(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_idle(seconds: float, procs: list[Any], brokers: Any) -> None:
    """CPU the idle fleet costs: what heart-beats and deafness probes alone use."""
    members = [] if brokers is None else getattr(brokers, "members", [brokers])
    pids = {"simulator": [p.pid for p in procs], "RabbitMQ": [m.pid for m in members if m.pid]}
    before = {k: sum(process_cpu(p) for p in v) for k, v in pids.items()}
    time.sleep(seconds)
    used = {k: sum(process_cpu(p) for p in v) - before[k] for k, v in pids.items()}
    print(f"idle {seconds:g}s: simulator {used['simulator']:.2f} CPU-s"
          + (f", RabbitMQ {used['RabbitMQ']:.2f} CPU-s" if pids["RabbitMQ"] else ""), flush=True)


def run_fleet(args: argparse.Namespace, collective: str, ports: tuple[int, ...], agents: tuple[str, ...],
              brokers: Any = None, servers: list[str] | None = None) -> int:
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Queue(), ctx.Event()
    procs, first = [], 0
    for count in shares(args.nodes, args.processes):
        procs.append(ctx.Process(target=node_process, args=(collective, first, count, args.heartbeat, ready,
                                                            stop, ports, agents, servers, args.probe_interval),
                                 daemon=True))
        first += count
    start = time.monotonic()
    up = start_all(procs, ready, stop)
    print(f"{up} simulated nodes up in {time.monotonic() - start:.1f}s ({len(procs)} processes)", flush=True)
    try:
        if args.idle:
            measure_idle(args.idle, procs, brokers)
        times, lost = client_rounds(collective, up, args.rounds, args.timeout, ports[0], servers)
        if args.mco:
            lost += mco_ping(collective, up, args.timeout, ports[0], servers)
    finally:
        stop.set()
        for proc in procs:
            proc.join(60)
    print(f"{up} nodes over {len(ports)} broker(s), {args.rounds} rounds of broadcast rpcutil ping: min {min(times):.1f} ms, "
          f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms; replies lost {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
