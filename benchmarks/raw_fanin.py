#!/usr/bin/env python3
"""The physical limit of fan-in: one broadcast, N plain stomp.py replies, no pymco code.

N replier connections (spread over a few processes) bind to the broadcast
exchange of a fresh collective; a requester publishes one request with a
`/temp-queue/` reply-to, and each replier answers from its receiver thread
with a 200-byte message.  Printed: time from the broadcast until the
requester holds all N replies, per round and as min/median/max.

    .venv/bin/python benchmarks/raw_fanin.py --nodes 1000 --rounds 20

Compare with benchmarks/fleet.py, which puts pymco's whole request path in
each replier.

`--nats N` does the same with plain nats-py on a private cluster of N routed
nats-server processes (replier i connected to member i mod N, one asyncio
loop per replier process, the requester on the first member); `--nats-url`
uses running servers instead:

    .venv/bin/python benchmarks/raw_fanin.py --nodes 10000 --processes 4 --nats 3 --rounds 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/; pymco itself comes from the venv

from pymco.connector.stomp_import import stomp  # noqa: E402
from benchmarks.helpers import cpu_seconds, nats_servers, shares, start_all  # noqa: E402
from tests.support.cluster import BROKER, setup_collectives, unique_name  # noqa: E402
from tests.support.subscribe import subscribe_confirmed  # noqa: E402

REPLY = b"r" * 200


PORT = [BROKER["port"]]  # set before the replier processes fork (--private-broker)


def connect(listener: object | None = None) -> object:
    conn = stomp.Connection12([(BROKER["host"], PORT[0])], vhost=BROKER["vhost"], auto_decode=False,
                              heartbeats=(0, 0))
    if listener is not None:
        conn.set_listener("l", listener)
    conn.connect(BROKER["user"], BROKER["password"], wait=True)
    return conn


class Replier:
    def __init__(self) -> None:
        self.conn: object | None = None

    def on_message(self, frame: object) -> None:
        reply_to = frame.headers.get("reply-to")  # type: ignore[attr-defined]
        if reply_to:
            self.conn.send(reply_to, REPLY)  # type: ignore[attr-defined]


def replier_process(collective: str, count: int, ready: object, stop: object) -> None:
    conns = []
    for i in range(count):
        replier = Replier()
        conn = connect(replier)
        replier.conn = conn
        subscribe_confirmed(conn, f"/exchange/{collective}_broadcast/bench", f"s{i}")
        conns.append(conn)
    ready.put(count)  # type: ignore[attr-defined]
    stop.wait()  # type: ignore[attr-defined]
    for conn in conns:
        try:
            conn.disconnect()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - best-effort teardown
            pass


class Collector:
    def __init__(self) -> None:
        self.replies: "queue.Queue[float]" = queue.Queue()

    def on_message(self, frame: object) -> None:
        self.replies.put(time.monotonic())


def nats_replier_process(servers: list[str], first: int, count: int, ready: object, stop: object) -> None:
    import asyncio

    import nats

    async def serve() -> None:
        conns = []

        async def answer(msg: object) -> None:
            await msg.respond(REPLY)  # type: ignore[attr-defined]

        async def quiet(exc: Exception) -> None:
            pass  # a hand-shake that timed out on a loaded machine is retried; nats-py would print a traceback

        async def one(index: int) -> None:
            nc = await nats.connect(servers[index % len(servers)], allow_reconnect=False, connect_timeout=30,
                                    error_cb=quiet)
            await nc.subscribe("bench.broadcast", cb=answer)
            await nc.flush()
            conns.append(nc)

        for start in range(first, first + count, 50):  # 50 hand-shakes in flight at a time
            await asyncio.gather(*(one(i) for i in range(start, min(start + 50, first + count))))
        ready.put(count)  # type: ignore[attr-defined]
        while not stop.is_set():  # type: ignore[attr-defined]
            await asyncio.sleep(0.2)
        for nc in conns:
            await nc.close()

    asyncio.run(serve())


def nats_fan_in(args: argparse.Namespace, servers: list[str]) -> int:
    import asyncio

    import nats

    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Queue(), ctx.Event()
    start = time.monotonic()
    procs, first = [], 0
    for n in shares(args.nodes, args.processes):
        procs.append(ctx.Process(target=nats_replier_process, args=(servers, first, n, ready, stop), daemon=True))
        first += n
    connected = start_all(procs, ready, stop)
    print(f"{connected} NATS repliers connected and subscribed in {time.monotonic() - start:.1f}s "
          f"({len(procs)} processes over {len(servers)} servers)", flush=True)

    async def rounds() -> tuple[list[float], int]:
        nc = await nats.connect(servers[0])
        got = [0]
        done = asyncio.Event()
        last = [0.0]

        async def collect(msg: object) -> None:
            got[0] += 1
            last[0] = time.monotonic()
            if got[0] >= connected:
                done.set()

        await nc.subscribe("bench.reply.*", cb=collect)
        await nc.flush()
        await asyncio.sleep(1)  # the reply subscription reaches every route
        times, lost = [], 0
        for round_no in range(1, args.rounds + 1):
            got[0] = 0
            done.clear()
            cpu = cpu_seconds()
            sent = time.monotonic()
            await nc.publish("bench.broadcast", b"ping", reply=f"bench.reply.{round_no}")
            try:
                await asyncio.wait_for(done.wait(), args.timeout)
            except asyncio.TimeoutError:
                pass
            lost += connected - got[0]
            times.append((last[0] - sent) * 1000)
            print(f"round {round_no:3d}: {got[0]}/{connected} replies, all in {times[-1]:.1f} ms, "
                  f"CPU {cpu_seconds() - cpu:.2f} s", flush=True)
            await asyncio.sleep(0.2)
        await nc.close()
        return times, lost

    try:
        times, lost_total = asyncio.run(rounds())
    finally:
        stop.set()
        for proc in procs:
            proc.join(30)
    print(f"NATS fan-in of {connected} replies: min {min(times):.1f} ms, median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms; lost {lost_total}")
    return 0 if lost_total == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--private-broker", action="store_true",
                        help="start a RabbitMQ node of its own instead of using the shared one on 61613")
    parser.add_argument("--nats", type=int, default=0, metavar="N",
                        help="plain nats-py on a private cluster of N nats-server processes instead of RabbitMQ")
    parser.add_argument("--nats-url", default="", help="plain nats-py on these NATS servers (comma separated)")
    args = parser.parse_args(argv)
    if args.nats or args.nats_url:
        with nats_servers(args.nats, args.nats_url) as servers:
            return nats_fan_in(args, servers)

    collective = unique_name("fanin")
    if not args.private_broker:
        setup_collectives([collective])
        return fan_in(args, collective)
    import shutil
    import tempfile

    from tests.support.private_rabbitmq import PrivateRabbitMQ

    broker = PrivateRabbitMQ(Path(tempfile.mkdtemp(prefix="pymco-fanin-broker-")), name="pymcofanin",
                             collectives=[collective])
    try:
        broker.start().setup()
        PORT[0] = broker.stomp_port
        print(f"private RabbitMQ {broker.node} on STOMP port {broker.stomp_port}", flush=True)
        return fan_in(args, collective)
    finally:
        broker.destroy()
        shutil.rmtree(broker.directory, ignore_errors=True)


def fan_in(args: argparse.Namespace, collective: str) -> int:
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Queue(), ctx.Event()
    start = time.monotonic()
    procs = [ctx.Process(target=replier_process, args=(collective, n, ready, stop), daemon=True)
             for n in shares(args.nodes, args.processes)]
    connected = start_all(procs, ready, stop)
    print(f"{connected} repliers connected and subscribed in {time.monotonic() - start:.1f}s "
          f"({len(procs)} processes, pid {os.getpid()})")

    collector = Collector()
    conn = connect(collector)
    times = []
    lost_total = 0
    try:
        for round_no in range(1, args.rounds + 1):
            sent = time.monotonic()
            conn.send(f"/exchange/{collective}_broadcast/bench", b"ping",  # type: ignore[attr-defined]
                      headers={"reply-to": "/temp-queue/fanin", "expiration": "30000"})
            got = 0
            last = sent
            deadline = sent + args.timeout
            while got < connected and time.monotonic() < deadline:
                try:
                    last = collector.replies.get(timeout=max(0.0, deadline - time.monotonic()))
                    got += 1
                except queue.Empty:
                    break
            lost_total += connected - got
            times.append((last - sent) * 1000)
            print(f"round {round_no:3d}: {got}/{connected} replies, all in {times[-1]:.1f} ms", flush=True)
            time.sleep(0.2)
            while not collector.replies.empty():  # late stragglers of this round
                collector.replies.get_nowait()
    finally:
        conn.disconnect()  # type: ignore[attr-defined]
        stop.set()
        for proc in procs:
            proc.join(30)
    print(f"fan-in of {connected} replies: min {min(times):.1f} ms, median {statistics.median(times):.1f} ms, "
          f"max {max(times):.1f} ms; lost {lost_total}")
    return 0 if lost_total == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
