"""Issue 7 interop: Ruby MCollective 2.12 and pymco share one ActiveMQ 5.17.

Ruby's activemq connector (STOMP 1.0, its own destinations and headers) and
pymco's must meet on the same topics, the same `nodes` queue with its
`mc_identity` selector, and each other's per-request reply queues.
"""

from __future__ import annotations

import json

import pytest

from tests.support.activemq import PrivateActiveMQ
from tests.support.ruby import ruby_fleet, ruby_mco

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def mixed(cluster_factory, tmp_path_factory):
    amq = PrivateActiveMQ(tmp_path_factory.mktemp("activemq")).start()
    cluster = cluster_factory(name="amqmixed")
    lines = amq.connector_lines()
    cluster.add_node("pyamq1", facts={"role": "web"}, connector_lines=lines)
    cluster.add_node("pyamq2", facts={"role": "db"}, connector_lines=lines)
    cluster.client_config = cluster.write_client("amq-client.cfg", connector_lines=lines)
    ruby_nodes = {"rbamq1": {"facts": {"role": "web"}, "settings": {"connector_lines": lines}}}
    try:
        with ruby_fleet(tmp_path_factory.mktemp("rubyamq"), cluster.collectives, ruby_nodes,
                        client_settings={"connector_lines": lines}) as config:
            cluster.wait()
            yield cluster, config
    finally:
        cluster.stop()
        amq.stop()


def test_ruby_mco_ping_sees_pymcod_and_ruby(mixed):
    cluster, config = mixed
    result = ruby_mco("ping", config=config)
    assert result.rc == 0, result
    for name in ("pyamq1", "pyamq2", "rbamq1"):
        assert name in result.out


def test_ruby_mco_directed_request_to_pymcod(mixed):
    cluster, config = mixed
    result = ruby_mco("rpc", "rpcutil", "inventory", "-I", "pyamq2", "--json", config=config)
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == "pyamq2"
    assert reply["data"]["facts"]["role"] == "db"


def test_ruby_mco_fact_filter_broadcast(mixed):
    cluster, config = mixed
    result = ruby_mco("rpc", "rpcutil", "ping", "-F", "role=web", "--json", config=config)
    assert result.rc == 0, result
    assert sorted(r["sender"] for r in json.loads(result.out)) == ["pyamq1", "rbamq1"]


def test_pymco_directed_request_to_ruby(mixed):
    cluster, config = mixed
    result = cluster.mco("rpc", "rpcutil", "get_fact", "fact=role", "-I", "rbamq1", "--json")
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == "rbamq1" and reply["data"]["value"] == "web"


def test_pymco_ping_sees_ruby(mixed):
    cluster, config = mixed
    result = cluster.mco("ping")
    assert result.rc == 0, result
    assert "rbamq1" in result.out and "pyamq1" in result.out
