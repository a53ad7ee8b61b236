"""Issue 15: MCollective's multi-broker layout on ActiveMQ, a network of two brokers.

Two private ActiveMQ brokers (scripts/activemq-setup; the second with
`--network-to` the first), two daemons on each; clients on either broker reach
all four: broadcasts, filters and directed requests cross the network, and so do
the replies.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.activemq import PrivateActiveMQ
from tests.support.cluster import wait_for

pytestmark = pytest.mark.integration

NODES = {"na1": "a", "na2": "a", "nb1": "b", "nb2": "b"}


@pytest.fixture(scope="module")
def network(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(name="amqnet")
    a = PrivateActiveMQ(tmp_path_factory.mktemp("amq-a"), name="pymcoa", networked=True)
    b = PrivateActiveMQ(tmp_path_factory.mktemp("amq-b"), name="pymcob", network_to=a)
    try:
        a.start()
        b.start()
        brokers = {"a": a, "b": b}
        for name, where in NODES.items():
            cluster.add_node(name, facts={"role": "web" if name.endswith("1") else "db"}, base_facts=False,
                             connector_lines=brokers[where].connector_lines())
        cluster.wait()
        yield cluster, brokers
    finally:
        cluster.stop()
        for broker in (b, a):
            broker.stop()


def client(cluster, broker, where):
    return cluster.write_client(f"client-{where}.cfg", connector_lines=broker.connector_lines())


def pinged(cluster, config) -> set[str]:
    return set(re.findall(r"^(n[ab]\d)\s+time=", cluster.mco("ping", "-t", "3", config=config).out, re.M))


@pytest.mark.parametrize("where", ["a", "b"])
def test_a_client_on_either_broker_reaches_every_daemon(network, where):
    cluster, brokers = network
    config = client(cluster, brokers[where], where)
    # the network learns where consumers are from advisories: give it a moment after start
    wait_for(lambda: pinged(cluster, config) == set(NODES), timeout=30, interval=1)
    filtered = cluster.mco("rpc", "rpcutil", "ping", "-F", "role=web", "--json", config=config)
    assert sorted(r["sender"] for r in json.loads(filtered.out)) == ["na1", "nb1"], filtered
    direct = cluster.mco("rpc", "rpcutil", "ping", "-I", "na2", "-I", "nb2", "--json", config=config)
    assert sorted(r["sender"] for r in json.loads(direct.out)) == ["na2", "nb2"], direct
