#!/usr/bin/env python3
"""Soak: requests to N pymcod daemons for a while, the broker restarted under them.

Starts a PRIVATE RabbitMQ node (tests/support/private_rabbitmq.py, never the
machine's shared broker) and N real pymcod daemons on it, then sends
`rpcutil ping` requests one after another, alternately broadcast and directed
to every node, each waiting until every node answered or --timeout passed.
Meanwhile the broker is stopped and started --restarts times, evenly spread.

An outage window runs from the broker's stop until the start of the first
request after its start that every node answered.  Requests overlapping a window may lose
replies (the broker dropped them); any other lost reply is a bug, and the
script then exits 1.  It prints requests sent, replies expected, received and
lost, in and outside the outage windows, and late replies (after --timeout).

    .venv/bin/python benchmarks/soak.py --nodes 50 --duration 300 --restarts 2

The test suite runs it once at a tiny size (tests/integration/test_benchmarks_run.py).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ and tests/support; pymco itself comes from the venv

from pymco.client.session import Session  # noqa: E402
from pymco.config import load_config  # noqa: E402
from pymco.errors import ConnectorError  # noqa: E402
from pymco.matcher.filter import Filter  # noqa: E402
from pymco.protocol.message import Reply, Request, rpc_body  # noqa: E402
from tests.support.cluster import PSK, Node, unique_name, write_config  # noqa: E402
from tests.support.private_rabbitmq import PrivateRabbitMQ  # noqa: E402


@dataclass
class Sent:
    start: float
    end: float
    expected: int
    received: int
    late: int = 0


@dataclass
class Window:
    start: float
    broker_up: float | None = None
    recovered: float | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=50, help="pymcod daemons (default 50)")
    parser.add_argument("--duration", type=float, default=300, help="seconds of requests (default 300)")
    parser.add_argument("--restarts", type=int, default=2, help="broker restarts during the run (default 2)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds to wait for a request's replies")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between requests")
    parser.add_argument("--max-reconnect-delay", type=float, default=5,
                        help="plugin.rabbitmq.max_reconnect_delay of the daemons (default 5)")
    parser.add_argument("--workdir", help="keep broker data, configs and logs here (default: a temporary dir)")
    return parser.parse_args(argv)


def connector_lines(broker: PrivateRabbitMQ, **extra: object) -> list[str]:
    return broker.connector_lines() + [f"plugin.rabbitmq.{k} = {v}" for k, v in extra.items()]


def start_fleet(args: argparse.Namespace, work: Path, broker: PrivateRabbitMQ, collective: str) -> list[Node]:
    lines = connector_lines(broker, initial_reconnect_delay=0.1, back_off_multiplier=2,
                            max_reconnect_delay=args.max_reconnect_delay)
    nodes = []
    for n in range(1, args.nodes + 1):
        node = Node(f"soak{n:03d}", work / f"soak{n:03d}", [collective],
                    settings={"connector_lines": lines, "loglevel": "info"})
        nodes.append(node.start())
    for node in nodes:
        node.wait_started(120)
    return nodes


class Soak:
    def __init__(self, args: argparse.Namespace, broker: PrivateRabbitMQ, client_cfg: Path, names: list[str],
                 collective: str) -> None:
        self.args = args
        self.broker = broker
        self.config = load_config(str(client_cfg), mode="client")
        self.names = names
        self.collective = collective
        self.sent: list[Sent] = []
        self.not_sent = 0
        self.windows: list[Window] = []
        self.restarting = threading.Event()
        self.session: Session | None = None

    # ---- the broker side
    def restarter(self, begin: float) -> None:
        for k in range(1, self.args.restarts + 1):
            at = begin + self.args.duration * k / (self.args.restarts + 1)
            while time.monotonic() < at:
                time.sleep(0.1)
            window = Window(time.monotonic())
            self.windows.append(window)
            self.restarting.set()
            self.broker.stop()
            self.broker.start()
            window.broker_up = time.monotonic()
            self.restarting.clear()

    # ---- the client side
    def connect(self) -> Session:
        while True:
            if self.session is not None:
                return self.session
            session = Session(self.config, connection_timeout=5)
            try:
                session.connector  # noqa: B018 - connects
                self.session = session
            except ConnectorError:
                session.close()
                time.sleep(0.5)

    def drop(self) -> None:
        if self.session is not None:
            try:
                self.session.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
            self.session = None

    def one_request(self, number: int) -> None:
        session = self.connect()
        flt = Filter()
        flt.add_agent("rpcutil")
        request = Request(agent="rpcutil", collective=self.collective,
                          body=rpc_body("rpcutil", "ping", session.callerid(), {}), filter=flt.to_wire(),
                          callerid=session.callerid(), senderid=session.identity, ttl=60)
        directed = number % 2 == 1
        start = time.monotonic()
        try:
            session.publish(request, self.names if directed else None)
        except ConnectorError:
            self.not_sent += 1
            self.drop()
            time.sleep(0.5)
            return
        waiting = set(self.names)

        def on_reply(reply: Reply) -> bool:
            waiting.discard(reply.senderid)
            return not waiting

        record = Sent(start, start, len(self.names), 0)
        try:
            outcome = session.collect(request.requestid, self.args.timeout, on_reply)
            record.late = outcome.late
        except ConnectorError:
            self.drop()
        record.end = time.monotonic()
        record.received = len(self.names) - len(waiting)
        self.sent.append(record)
        if not waiting:
            for window in self.windows:
                if window.broker_up is not None and window.recovered is None and start >= window.broker_up:
                    window.recovered = record.start

    def run(self) -> None:
        begin = time.monotonic()
        restarter = threading.Thread(target=self.restarter, args=(begin,), daemon=True)
        restarter.start()
        number = 0
        while True:
            done = time.monotonic() - begin >= self.args.duration
            settled = (not restarter.is_alive() and len(self.windows) == self.args.restarts
                       and all(w.recovered for w in self.windows))
            if done and settled:
                break
            if done and time.monotonic() - begin > self.args.duration + 300:
                break  # never recovered: reported below
            self.one_request(number)
            number += 1
            time.sleep(self.args.pause)
        self.drop()

    # ---- figures
    def report(self) -> int:
        def in_outage(s: Sent) -> bool:
            for w in self.windows:
                end = w.recovered if w.recovered is not None else float("inf")
                if s.start < end and s.end >= w.start:
                    return True
            return False

        inside = [s for s in self.sent if in_outage(s)]
        outside = [s for s in self.sent if not in_outage(s)]

        def totals(items: list[Sent]) -> tuple[int, int, int]:
            expected = sum(s.expected for s in items)
            received = sum(s.received for s in items)
            return expected, received, expected - received

        expected, received, lost = totals(self.sent)
        in_exp, in_rec, in_lost = totals(inside)
        out_exp, out_rec, out_lost = totals(outside)
        late = sum(s.late for s in self.sent)
        print(f"soak: {self.args.nodes} daemons, {self.args.duration:g} s of requests, "
              f"broker restarted {len(self.windows)} times")
        print(f"requests sent            {len(self.sent)}")
        print(f"requests not sent        {self.not_sent} (broker down)")
        print(f"replies expected         {expected}")
        print(f"replies received         {received}")
        print(f"lost                     {lost}")
        print(f"lost outside outages     {out_lost} (of {out_exp} expected in {len(outside)} requests)")
        print(f"lost in outage windows   {in_lost} (of {in_exp} expected in {len(inside)} requests)")
        print(f"late replies             {late}")
        for n, w in enumerate(self.windows, 1):
            up = f"{w.broker_up - w.start:.1f} s" if w.broker_up else "never"
            back = f"{w.recovered - w.start:.1f} s" if w.recovered else "never"
            print(f"outage {n}: broker back after {up}, every node answering after {back}")
        unrecovered = [w for w in self.windows if w.recovered is None]
        return 1 if out_lost or unrecovered or len(self.windows) < self.args.restarts else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("stomp.py").setLevel(logging.CRITICAL)  # connection refused while the broker is down
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pymco-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    collective = unique_name("soak")
    broker = PrivateRabbitMQ(work / "rabbit", name="pymcosoak", collectives=[collective])
    nodes: list[Node] = []
    try:
        broker.start().setup()
        nodes = start_fleet(args, work, broker, collective)
        client_cfg = write_config(work / "client.cfg", {
            "identity": "soakclient", "collectives": collective, "main_collective": collective,
            "logger_type": "console", "loglevel": "error", "securityprovider": "psk", "plugin.psk": PSK,
            "connector_lines": broker.connector_lines()})
        soak = Soak(args, broker, client_cfg, [n.identity for n in nodes], collective)
        soak.run()
        return soak.report()
    finally:
        for node in nodes:
            node.stop()
        broker.destroy()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
