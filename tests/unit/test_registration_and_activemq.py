"""Issue 7, pure logic: registration bodies, the SQLite inventory, `--dm inventory`, the
registrar's schedule and the activemq connector's destinations and headers.

The connector's transport is replaced by a recorder here; the real broker
paths are in tests/integration (test_activemq.py, test_registration.py).
"""

from __future__ import annotations

import base64
import logging
import time
import types

import pytest

from pymco.config import Config
from pymco.connector.activemq import KEEP_REPLY_QUEUES, ActiveMQConnector
from pymco.discovery.base import DiscoveryRequest
from pymco.discovery.inventory import InventoryDiscovery
from pymco.errors import DiscoveryError, MessageError
from pymco.matcher.filter import Filter
from pymco.protocol.marshal import Symbol
from pymco.registration.base import Registrar, Registration, target_collective
from pymco.registration.receiver import Inventory, parse_registration
from pymco.security.psk import PskSecurity


def test_agentlist_body():
    assert parse_registration("n1", ["rpcutil", b"package"]) == (["rpcutil", "package"], None, None, [])


def test_meta_body_with_symbol_keys():
    body = {Symbol("agentlist"): ["rpcutil"], Symbol("facts"): {"role": b"web", "os": {Symbol("family"): "Debian"}},
            Symbol("classes"): ["nginx"], Symbol("collectives"): ["mcollective", "eu"]}
    agents, facts, classes, collectives = parse_registration("n1", body)
    assert agents == ["rpcutil"] and classes == ["nginx"] and collectives == ["mcollective", "eu"]
    assert facts == {"role": "web", "os": {"family": "Debian"}}


@pytest.mark.parametrize("body", [12345, "rpcutil", None, {Symbol("facts"): {}}, {"agentlist": "rpcutil"}])
def test_other_bodies_are_refused(body):
    with pytest.raises(MessageError, match="neither an agent list nor a meta hash"):
        parse_registration("n1", body)


def test_inventory_keeps_facts_across_agentlist_updates(tmp_path):
    inventory = Inventory(str(tmp_path / "inv.sqlite"))
    inventory.record("n1", ["rpcutil"], {"role": "web"}, ["nginx"], ["mc"], seen=100.0)
    inventory.record("n1", ["rpcutil", "package"], None, None, [], seen=200.0)
    [node] = inventory.nodes()
    assert node.agents_list == ["rpcutil", "package"]
    assert node.facts == {"role": "web"} and node.classes_list == ["nginx"]
    assert (node.first_seen, node.last_seen) == (100.0, 200.0)


def test_inventory_max_age(tmp_path):
    inventory = Inventory(str(tmp_path / "inv.sqlite"))
    inventory.record("old", ["rpcutil"], None, None, [], seen=time.time() - 1000)
    inventory.record("new", ["rpcutil"], None, None, [])
    assert [n.identity for n in inventory.nodes(max_age=60)] == ["new"]
    assert [n.identity for n in inventory.nodes()] == ["new", "old"]


@pytest.fixture
def discovery(tmp_path):
    path = tmp_path / "inv.sqlite"
    inventory = Inventory(str(path))
    inventory.record("web1", ["rpcutil", "service"], {"role": "web", "dc": {"name": "ams"}}, ["nginx"], ["mc"])
    inventory.record("web2", ["rpcutil"], {"role": "web"}, [], ["other"])  # not in collective mc
    inventory.record("db1", ["rpcutil", "service"], {"role": "db"}, ["postgresql"], ["mc"])
    inventory.record("bare", ["rpcutil"], None, None, [])  # agentlist registration: agents only
    inventory.close()
    config = Config(settings={"identity": "client"}, pluginconf={"inventory.database": str(path)})
    method = InventoryDiscovery(types.SimpleNamespace(config=config))  # type: ignore[arg-type]

    def run(flt: Filter, agent: str = "rpcutil", limit: int | None = None) -> list[str]:
        method.check(flt)
        return method.discover(DiscoveryRequest(flt, "mc", agent, 2, limit=limit))

    return run


def test_inventory_discovery_filters(discovery):
    assert discovery(Filter()) == ["bare", "db1", "web1"]
    flt = Filter()
    flt.add_fact("role=web")
    assert discovery(flt) == ["web1"]
    flt = Filter()
    flt.add_fact("dc.name=ams")
    assert discovery(flt) == ["web1"]
    flt = Filter()
    flt.add_class("/postgres/")
    assert discovery(flt) == ["db1"]
    flt = Filter()
    flt.add_identity("/^(web|bare)/")
    assert discovery(flt) == ["bare", "web1"]
    assert discovery(Filter(), agent="service") == ["db1", "web1"]
    assert discovery(Filter(), limit=1) == ["bare"]


def test_inventory_discovery_refuses_compound_and_a_missing_file(discovery, tmp_path):
    flt = Filter()
    flt.add_compound("role=web")
    with pytest.raises(DiscoveryError, match="Cannot use compound filters while using the 'inventory'"):
        discovery(flt)
    config = Config(settings={"identity": "client"},
                    pluginconf={"inventory.database": str(tmp_path / "missing.sqlite")})
    method = InventoryDiscovery(types.SimpleNamespace(config=config))  # type: ignore[arg-type]
    with pytest.raises(DiscoveryError, match="missing.sqlite does not exist"):
        method.discover(DiscoveryRequest(Filter(), "mc", "rpcutil", 2))


def test_registration_collective_falls_back_to_main(caplog):
    config = Config(settings={"collectives": ["mc", "reg"], "registration_collective": "reg"})
    assert target_collective(config) == "reg"
    config = Config(settings={"collectives": ["mc"], "registration_collective": "nowhere"})
    with caplog.at_level(logging.WARNING):
        assert target_collective(config) == "mc"
    assert "nowhere is not a valid collective" in caplog.text


class Recorder:
    """Stands in for a connector: records what would be published."""

    def __init__(self) -> None:
        self.connected = True
        self.published: list[tuple[bytes, str, str, str]] = []

    def reply_address(self, agent: str, collective: str) -> str:
        return f"/temp-queue/mcollective_reply_{agent}"

    def publish_request(self, payload, agent, collective, reply_to, ttl, nodes=None):  # type: ignore[no-untyped-def]
        assert nodes is None
        self.published.append((payload, agent, collective, reply_to))


class Fixed(Registration):
    name = "fixed"

    def body(self):  # type: ignore[no-untyped-def]
        return ["rpcutil"]


def test_registrar_publishes_a_signed_broadcast_to_the_registration_agent():
    config = Config(settings={"identity": "n1", "collectives": ["mc"], "registerinterval": 60},
                    pluginconf={"psk": "k"})
    connector = Recorder()
    security = PskSecurity(config, client=False)
    registrar = Registrar(config, Fixed(config, None), connector, security)  # type: ignore[arg-type]
    assert registrar.publish()
    [(payload, agent, collective, reply_to)] = connector.published
    assert (agent, collective) == ("registration", "mc")
    request = PskSecurity(config, client=False).decode_request(payload, {})
    assert request.agent == "registration" and request.body == ["rpcutil"] and request.senderid == "n1"
    assert list(request.filter["agent"]) == ["registration"]


def test_registrar_registers_again_after_a_reconnect():
    config = Config(settings={"identity": "n1", "collectives": ["mc"], "registerinterval": 3600},
                    pluginconf={"psk": "k"})
    connector = Recorder()
    registrar = Registrar(config, Fixed(config, None), connector,  # type: ignore[arg-type]
                          PskSecurity(config, client=False))
    registrar.start()
    try:
        end = time.monotonic() + 10
        while len(connector.published) < 1 and time.monotonic() < end:
            time.sleep(0.05)
        connector.connected = False
        time.sleep(1.5)
        connector.connected = True
        while len(connector.published) < 2 and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        registrar.stop()
    assert len(connector.published) == 2  # the interval (an hour) did not pass: the reconnect triggered it


def activemq(**plugin: str) -> tuple[ActiveMQConnector, list, list]:
    pluginconf = {"activemq.pool.size": "1", "activemq.pool.1.host": "localhost"}
    pluginconf.update({f"activemq.{k}": v for k, v in plugin.items()})
    connector = ActiveMQConnector(Config(settings={"identity": "client1"}, pluginconf=pluginconf), "client1")
    sent: list = []
    subscribed: list = []
    connector._send = lambda dest, body, headers: sent.append((dest, body, headers))  # type: ignore[method-assign]
    connector._subscribe = lambda dest, sub_id, headers=None: subscribed.append((dest, sub_id, headers))  # type: ignore[method-assign]
    connector._unsubscribe = lambda dest: subscribed.remove(next(s for s in subscribed if s[0] == dest))  # type: ignore[method-assign]
    return connector, sent, subscribed


def test_activemq_directed_requests_one_send_per_node():
    connector, sent, _ = activemq(priority="4")
    before = int(time.time())
    connector.publish_request(b"x", "rpcutil", "mc", "/queue/mc.reply.client1_1.1", 60, nodes=["a", "b"])
    assert [(d, h["mc_identity"]) for d, _, h in sent] == [("/queue/mc.nodes", "a"), ("/queue/mc.nodes", "b")]
    headers = sent[0][2]
    assert headers["priority"] == "4" and headers["reply-to"] == "/queue/mc.reply.client1_1.1"
    assert int(headers["expires"]) - int(headers["timestamp"]) == 70_000
    assert int(headers["timestamp"]) // 1000 >= before


def test_activemq_broadcast_and_multiplex_topics():
    connector, sent, subscribed = activemq()
    connector.publish_request(b"x", "rpcutil", "mc", "r", 60)
    assert sent[0][0] == "/topic/mc.rpcutil.agent" and "priority" not in sent[0][2]
    connector.subscribe_directed("mc")
    assert subscribed[-1] == ("/queue/mc.nodes", "mc_directed_to_identity", {"selector": "mc_identity = 'client1'"})
    multiplexed, sent2, _ = activemq(agents_multiplex="1")
    multiplexed.publish_request(b"x", "rpcutil", "mc", "r", 60)
    assert sent2[0][0] == "/topic/mc.agents"


def test_activemq_reply_queues_are_per_request_and_released_lazily():
    connector, _, subscribed = activemq()
    targets = [connector.reply_target("rpcutil", "mc") for _ in range(KEEP_REPLY_QUEUES + 2)]
    assert len(set(targets)) == len(targets) and targets[0].startswith("/queue/mc.reply.client1_")
    for target in targets:
        connector.release_reply_target(target)
    # the newest few stay subscribed so that late replies are still seen and counted
    assert [s[0] for s in subscribed] == targets[-KEEP_REPLY_QUEUES:]


def test_activemq_base64_payloads():
    connector, sent, _ = activemq(base64="yes")
    received: list = []
    connector.on_message(received.append)
    connector.publish_request(b"\x04\x08binary", "rpcutil", "mc", "r", 60)
    assert sent[0][1] == base64.b64encode(b"\x04\x08binary")
    connector._deliver(sent[0][1], {})
    assert received[0].payload == b"\x04\x08binary"


def test_reconnect_delays_follow_mcollectives_back_off():
    from itertools import islice

    from pymco.connector.stomp import reconnect_delays

    delays = list(islice(reconnect_delays(0.01, 2, 30), 14))
    assert delays[:4] == [0.01, 0.02, 0.04, 0.08]
    assert delays[-1] == 30 and max(delays) == 30 and delays == sorted(delays)
    assert list(islice(reconnect_delays(0.5, 2, 30, exponential=False), 3)) == [0.5, 0.5, 0.5]
    assert list(islice(reconnect_delays(50, 2, 30), 2)) == [30, 30]
