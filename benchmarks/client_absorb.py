#!/usr/bin/env python3
"""How many replies one `mco` process absorbs per second: decode, verify, aggregate.

A pymco client (the real `Session` and `RPCClient`, psk) sends one broadcast
`rpcutil get_fact fact=role` through the broker; a few "blaster" processes,
subscribed like nodes, answer it with N valid psk-signed replies from N
different identities, as fast as stomp.py can send them (the replies are
encoded before the request comes: only the request id is filled in).  The
client handles each reply as `mco rpc` does: STOMP frame, Marshal decode,
psk check, envelope, `RPCResult`, and the DDL's `summary` aggregate.

Printed per round: replies received, the wall time from the first to the last
reply, and the client process's CPU time (all threads, from the request to
the last reply).  Replies per CPU-second is the client's capacity; the wall
rate is also bounded by the broker and the blasters, which share the machine.

    .venv/bin/python benchmarks/client_absorb.py --replies 10000 --rounds 3

`--local` skips the broker: the encoded replies are handed straight to the
session's receive queue, which measures decode, verify and aggregate alone.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ and tests/support; pymco itself comes from the venv

from benchmarks.helpers import start_all  # noqa: E402
from tests.support.cluster import BROKER, PSK, setup_collectives, unique_name  # noqa: E402
from tests.support.subscribe import subscribe_confirmed  # noqa: E402

PLACEHOLDER = "0" * 32


def identities(count: int) -> list[str]:
    return [f"absorb{i:06d}" for i in range(count)]


def client_config(collective: str) -> Any:
    from pymco.config import Config

    config = Config(path=None, mode="client")
    for key, value in {"identity": "absorbclient", "collectives": collective, "securityprovider": "psk",
                       "connector": "rabbitmq", "loglevel": "warn"}.items():
        config.set(key, value)
    config.pluginconf.update({
        "psk": PSK, "rabbitmq.vhost": BROKER["vhost"], "rabbitmq.pool.size": "1",
        "rabbitmq.pool.1.host": BROKER["host"], "rabbitmq.pool.1.port": str(BROKER["port"]),
        "rabbitmq.pool.1.user": BROKER["user"], "rabbitmq.pool.1.password": BROKER["password"]})
    return config


def encoded_replies(names: list[str]) -> list[bytes]:
    """psk-signed get_fact replies, one per name, with PLACEHOLDER as request id."""
    from pymco.config import Config
    from pymco.protocol.message import Reply, Request, rpc_reply_body
    from pymco.security.psk import PskSecurity

    config = Config(path=None, mode="server")
    config.set("identity", "blaster")
    config.pluginconf["psk"] = PSK
    security = PskSecurity(config, client=False)
    request = Request(agent="rpcutil", collective="x", body="", requestid=PLACEHOLDER)
    payloads = []
    for index, name in enumerate(names):
        body = rpc_reply_body(0, "OK", {"fact": "role", "value": ("web", "db", "cache")[index % 3]})
        reply = Reply(senderid=name, requestid=PLACEHOLDER, senderagent="rpcutil", body=body)
        payloads.append(security.encode_reply(reply, request))
    return payloads


def blaster_process(collective: str, names: list[str], ready: Any, stop: Any) -> None:
    """One connection subscribed like a node; answers each request with every reply it holds."""
    from pymco.connector.stomp_import import stomp
    from pymco.protocol import marshal

    payloads = encoded_replies(names)
    placeholder = PLACEHOLDER.encode()
    requests: "list[tuple[str, bytes]]" = []
    wake = threading.Event()

    class Listener(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: Any) -> None:
            reply_to = frame.headers.get("reply-to")
            if reply_to:
                outer = marshal.loads(frame.body)
                requests.append((reply_to, str(outer["requestid"]).encode()))
                wake.set()

    conn = stomp.Connection12([(BROKER["host"], BROKER["port"])], vhost=BROKER["vhost"], auto_decode=False,
                              heartbeats=(0, 0))
    conn.set_listener("l", Listener())
    conn.connect(BROKER["user"], BROKER["password"], wait=True)
    subscribe_confirmed(conn, f"/exchange/{collective}_broadcast/rpcutil", "blaster")
    ready.put(len(names))
    while not stop.is_set():
        if not wake.wait(0.2):
            continue
        wake.clear()
        while requests:
            reply_to, requestid = requests.pop(0)
            headers = {"expiration": "70000"}
            for name, payload in zip(names, payloads):
                headers["mc_sender"] = name
                conn.send(reply_to, payload.replace(placeholder, requestid, 1), headers=headers)
    conn.disconnect()


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Round:
    """One request: when replies came and what the client spent on them."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.count = 0


def absorb(session: Any, ddl: Any, names: list[str], timeout: float) -> tuple[Round, float, int]:
    """One broadcast get_fact to `names` through the real client path; (times, CPU seconds, summary size)."""
    from pymco.aggregate.base import Aggregator
    from pymco.client.rpc import CallOptions, RPCClient

    spec = ddl.action("get_fact")
    aggregator = Aggregator(spec)
    client = RPCClient(session, "rpcutil", ddl, CallOptions(timeout=timeout))
    client._discovered = list(names)  # the fleet is known: no discovery round
    times = Round()

    def on_result(result: Any) -> None:
        now = time.monotonic()
        if times.first is None:
            times.first = now
        times.last = now
        times.count += 1
        aggregator.process(result.data, result)

    cpu = cpu_now()
    client.call("get_fact", {"fact": "role"}, on_result=on_result)
    used = cpu_now() - cpu
    summary = aggregator.results()
    return times, used, len(summary)


def local_session(config: Any, payloads: list[bytes], names: list[str]) -> Any:
    """A Session whose connector hands the encoded replies straight to the receive queue."""
    from pymco.client.session import Session
    from pymco.connector.base import Incoming
    from pymco.protocol import marshal

    session = Session(config)

    class Loopback:
        def reply_target(self, agent: str, collective: str) -> str:
            return "/temp-queue/loopback"

        def release_reply_target(self, target: str) -> None:
            pass

        def publish_request(self, payload: bytes, agent: str, collective: str, reply_to: str, ttl: int,
                            nodes: list[str] | None = None) -> None:
            requestid = str(marshal.loads(payload)["requestid"]).encode()
            for name, reply in zip(names, payloads):
                session._queue.put(Incoming(reply.replace(PLACEHOLDER.encode(), requestid, 1),
                                            {"mc_sender": name}))

        def disconnect(self) -> None:
            pass

    session._connector = Loopback()  # type: ignore[assignment]
    return session


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=10000, help="replies per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blasters", type=int, default=2, help="processes sending the replies")
    parser.add_argument("--timeout", type=float, default=60, help="reply timeout per round, seconds")
    parser.add_argument("--local", action="store_true", help="no broker: replies go straight to the client")
    args = parser.parse_args(argv)

    from pymco.ddl.loader import load_ddl
    from pymco.paths import ddl_dirs

    ddl = load_ddl("rpcutil", ddl_dirs(None))
    names = identities(args.replies)
    collective = unique_name("absorb")
    procs: list[Any] = []
    stop: Any = None
    if args.local:
        config = client_config(collective)
        session = local_session(config, encoded_replies(names), names)
        where = "no broker (replies handed to the session's queue)"
    else:
        setup_collectives([collective])
        ctx = multiprocessing.get_context("fork")
        ready, stop = ctx.Queue(), ctx.Event()
        share = [names[i::args.blasters] for i in range(args.blasters)]
        procs = [ctx.Process(target=blaster_process, args=(collective, part, ready, stop), daemon=True)
                 for part in share if part]
        start_all(procs, ready, stop, timeout=300)
        from pymco.client.session import Session

        session = Session(client_config(collective))
        where = f"RabbitMQ {BROKER['host']}:{BROKER['port']}, {len(procs)} blaster processes"
    print(f"{args.replies} replies per round through {where}", flush=True)
    rates, cpu_rates, lost = [], [], 0
    try:
        for round_no in range(1, args.rounds + 1):
            times, cpu, summaries = absorb(session, ddl, names, args.timeout)
            lost += args.replies - times.count
            wall = times.last - times.first if times.first is not None else 0.0
            rate = (times.count - 1) / wall if wall > 0 else float("nan")
            cpu_rate = times.count / cpu if cpu > 0 else float("nan")
            rates.append(rate)
            cpu_rates.append(cpu_rate)
            print(f"round {round_no}: {times.count}/{args.replies} replies, first to last {wall * 1000:.0f} ms "
                  f"({rate:,.0f}/s wall), client CPU {cpu * 1000:.0f} ms ({cpu_rate:,.0f} replies per CPU-second), "
                  f"{summaries} summary", flush=True)
            time.sleep(0.5)
    finally:
        session.close()
        if stop is not None:
            stop.set()
        for proc in procs:
            proc.join(30)
    print(f"client absorbed a median {statistics.median(rates):,.0f} replies/s (wall), "
          f"{statistics.median(cpu_rates):,.0f} per CPU-second; lost {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
