"""Issue 7: the `activemq` connector against a real ActiveMQ 5.17 (Debian's package).

MCollective's layout: broadcasts on `/topic/<collective>.<agent>.agent`,
directed requests on `/queue/<collective>.nodes` picked by each daemon's
`mc_identity` selector, a reply queue per request, and `timestamp`,
`expires`, `priority` headers.  What goes over the wire is checked with a
raw stomp.py connection to the same broker.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from pymco.config import Config
from pymco.connector.stomp_import import stomp
from pymco.protocol.message import Request, rpc_body
from pymco.security.psk import PskSecurity
from tests.support.activemq import PrivateActiveMQ
from tests.support.cluster import PSK
from tests.support.subscribe import subscribe_confirmed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def amq(tmp_path_factory):
    broker = PrivateActiveMQ(tmp_path_factory.mktemp("activemq")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def fleet(amq, cluster_factory):
    cluster = cluster_factory(name="amqcluster")
    lines = amq.connector_lines()
    for name, role in (("amq01", "web"), ("amq02", "web"), ("amq03", "db")):
        cluster.add_node(name, facts={"role": role}, connector_lines=lines)
    cluster.add_node("amq64", facts={"role": "b64"}, connector_lines=amq.connector_lines(base64="1"))
    cluster.wait()
    cluster.client_config = cluster.write_client("amq-client.cfg", connector_lines=lines)
    return cluster


class Tap:
    """A raw STOMP subscriber that records every frame it gets."""

    def __init__(self, amq: PrivateActiveMQ, destination: str, headers: dict[str, str] | None = None) -> None:
        self.frames: list[tuple[dict[str, str], bytes]] = []
        self.event = threading.Event()
        self.conn = stomp.Connection12([("127.0.0.1", amq.port)], vhost="mcollective", auto_decode=False)
        self.conn.set_listener("tap", self)
        self.conn.connect(amq.user, amq.password, wait=True)
        subscribe_confirmed(self.conn, destination, "tap", headers)

    def on_message(self, frame) -> None:  # type: ignore[no-untyped-def]
        self.frames.append((dict(frame.headers), frame.body))
        self.event.set()

    def wait(self, count: int = 1, timeout: float = 15) -> list[tuple[dict[str, str], bytes]]:
        end = time.monotonic() + timeout
        while len(self.frames) < count and time.monotonic() < end:
            time.sleep(0.05)
        return self.frames

    def close(self) -> None:
        self.conn.disconnect()


def stats(cluster, node):
    result = cluster.mco("rpc", "rpcutil", "daemon_stats", "-I", node, "--json")
    assert result.rc == 0, result
    return json.loads(result.out)[0]["data"]


def test_broadcast_ping_finds_every_node(fleet):
    result = fleet.mco("ping")
    assert result.rc == 0, result
    for name in ("amq01", "amq02", "amq03"):
        assert name in result.out
    assert "amq64" not in result.out  # base64 payloads are not understood by plain clients


def test_activemq_confirms_the_daemons_subscriptions(fleet):
    log = fleet.nodes["amq01"].log_path.read_text()
    assert log.index("subscriptions confirmed by the broker") < log.index("started as")


def test_fact_filter_over_the_agent_topic(fleet):
    result = fleet.mco("rpc", "rpcutil", "ping", "-F", "role=web", "--json", "--dt", "2")
    assert result.rc == 0, result
    assert sorted(r["sender"] for r in json.loads(result.out)) == ["amq01", "amq02"]


def test_directed_request_reaches_only_its_node(fleet):
    before = {n: stats(fleet, n) for n in ("amq01", "amq03")}
    result = fleet.mco("rpc", "rpcutil", "ping", "-I", "amq02", "--json")
    assert result.rc == 0, result
    assert [r["sender"] for r in json.loads(result.out)] == ["amq02"]
    after = {n: stats(fleet, n) for n in ("amq01", "amq03")}
    # the selector keeps other nodes' requests away from them: nothing new was filtered out
    # (each daemon_stats call is itself one directed request that passes)
    for name in before:
        assert after[name]["filtered"] == before[name]["filtered"]
        assert after[name]["total"] == before[name]["total"] + 1


def test_request_headers_and_reply_queue(fleet, amq):
    tap = Tap(amq, f"/topic/{fleet.collective}.discovery.agent")
    try:
        priority_client = fleet.write_client("amq-priority.cfg",
                                             connector_lines=amq.connector_lines(priority="7"))
        result = fleet.mco("ping", "-F", "role=db", config=priority_client)
        assert result.rc == 0, result
        [(headers, _)] = [f for f in tap.wait() if "mc_sender" in f[0]][:1]
    finally:
        tap.close()
    assert headers["mc_sender"] == "testclient"
    assert re.fullmatch(rf"/queue/{fleet.collective}\.reply\.testclient_\d+\.\d+", headers["reply-to"])
    now_ms = time.time() * 1000
    assert abs(int(headers["timestamp"]) - now_ms) < 120_000
    # expires = timestamp + (ttl + 10) s, MCollective's formula, with the default ttl of 60
    assert int(headers["expires"]) - int(headers["timestamp"]) == 70_000
    assert headers["priority"] == "7"


def test_reply_headers(fleet, amq):
    reply_queue = f"/queue/{fleet.collective}.reply.rawtap_1.1"
    tap = Tap(amq, reply_queue)
    try:
        config = Config(settings={"identity": "rawtap"}, pluginconf={"psk": PSK})
        request = Request(agent="rpcutil", collective=fleet.collective,
                          body=rpc_body("rpcutil", "ping", "uid=0", {}), filter={"agent": ["rpcutil"]},
                          callerid="uid=0", senderid="rawtap")
        payload = PskSecurity(config, client=True).encode_request(request)
        tap.conn.send(f"/queue/{fleet.collective}.nodes", payload,
                      headers={"mc_identity": "amq03", "reply-to": reply_queue, "mc_sender": "rawtap",
                               "expires": str(int((time.time() + 70) * 1000))})
        frames = tap.wait()
    finally:
        tap.close()
    assert len(frames) == 1
    headers, body = frames[0]
    assert headers["mc_sender"] == "amq03"
    assert int(headers["expires"]) > int(headers["timestamp"])
    reply = PskSecurity(config, client=True).decode_reply(body, headers)
    assert reply.senderid == "amq03" and reply.requestid == request.requestid


def test_base64_payloads(fleet, amq):
    client = fleet.write_client("amq-b64.cfg", connector_lines=amq.connector_lines(base64="yes"))
    result = fleet.mco("rpc", "rpcutil", "ping", "-F", "role=b64", "--json", "--dt", "2", config=client)
    assert result.rc == 0, result
    assert [r["sender"] for r in json.loads(result.out)] == ["amq64"]
    node = fleet.nodes["amq01"]
    assert "is not base64" not in node.log()


def test_wrong_password_is_a_clear_error(fleet, amq):
    lines = [line.replace(f"password = {amq.password}", "password = wrong") for line in amq.connector_lines()]
    client = fleet.write_client("amq-badpass.cfg", connector_lines=lines)
    result = fleet.mco("ping", config=client)
    assert result.rc == 1
    assert "refused the connection" in result.err and "password is invalid" in result.err
    assert "Traceback" not in result.err


def test_daemons_come_back_after_an_activemq_restart(fleet, amq):
    # last in this module: the broker restarts under the daemons (MCollective's default back-off)
    amq.stop()
    amq.start()
    end = time.monotonic() + 30
    seen: set[str] = set()
    while time.monotonic() < end and seen != {"amq01", "amq02", "amq03"}:
        seen = set(re.findall(r"^(amq0\d)\s+time=", fleet.mco("ping", "-t", "3").out, re.M))
    assert seen == {"amq01", "amq02", "amq03"}
    # the directed queue's selector subscription is back too
    result = fleet.mco("rpc", "rpcutil", "ping", "-I", "amq03", "--json")
    assert result.rc == 0, result
    assert [r["sender"] for r in json.loads(result.out)] == ["amq03"]
