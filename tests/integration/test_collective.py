"""Issue 2: a working collective — real pymcod nodes answering the real mco."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

#: run on the shared RabbitMQ, the system's nats-server and a private 3-server NATS cluster
TRANSPORTS = ("rabbitmq", "nats", "nats-cluster")


@pytest.fixture(scope="module")
def fleet(cluster):
    for i in range(1, 4):
        cluster.add_node(f"node{i:02d}", facts={"role": "web" if i % 2 else "db", "index": i},
                         classes=["base", f"role::{'web' if i % 2 else 'db'}"])
    cluster.wait()
    return cluster


def test_mco_ping_finds_every_node(fleet):
    result = fleet.mco("ping")
    assert result.rc == 0, result
    for name in ("node01", "node02", "node03"):
        assert name in result.out
    assert "3 replies max:" in result.out


def test_rpc_ping_replies_with_a_timestamp(fleet):
    result = fleet.mco("rpc", "rpcutil", "ping", "--json")
    assert result.rc == 0, result
    replies = json.loads(result.out)
    assert sorted(r["sender"] for r in replies) == ["node01", "node02", "node03"]
    assert all(r["statuscode"] == 0 and isinstance(r["data"]["pong"], int) for r in replies)


def test_fact_filter_selects_nodes(fleet):
    result = fleet.mco("rpc", "rpcutil", "get_fact", "fact=role", "-F", "role=web", "--json")
    assert result.rc == 0, result
    replies = json.loads(result.out)
    assert sorted(r["sender"] for r in replies) == ["node01", "node03"]
    assert {r["data"]["value"] for r in replies} == {"web"}


def test_structured_fact_from_facter(fleet):
    result = fleet.mco("rpc", "rpcutil", "get_fact", "fact=os.family", "-I", "node02", "--json")
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["data"]["value"] == "Debian"


def test_inventory_text_output(fleet):
    result = fleet.mco("rpc", "rpcutil", "inventory", "-I", "node01")
    assert result.rc == 0, result
    assert "Agents:" in result.out and "rpcutil" in result.out
    assert "Finished processing 1 / 1 hosts" in result.out


def test_invalid_input_is_refused_before_sending(fleet):
    result = fleet.mco("rpc", "rpcutil", "get_fact", "fact=a;b")
    assert result.rc == 1
    assert "Cannot validate input fact" in result.err
    assert "Traceback" not in result.err


def test_unknown_action_is_refused(fleet):
    result = fleet.mco("rpc", "rpcutil", "nosuchaction")
    assert result.rc == 1
    assert "not declared in the DDL" in result.err


def test_no_response_from_missing_node(fleet):
    result = fleet.mco("rpc", "rpcutil", "ping", "-I", "node01", "-I", "ghost", "-t", "2")
    assert result.rc == 0, result
    assert "No response from:" in result.out
    assert "ghost" in result.out


def test_daemon_reports_started_only_once_the_broker_bound_its_subscriptions(fleet):
    # Without the confirmation a request sent the moment "started as" appears can be routed before the binding.
    log = fleet.nodes["node01"].log_path.read_text()
    assert log.index("subscriptions confirmed by the broker") < log.index("started as")


def test_confirming_subscriptions_needs_a_connection():
    from pymco.config import Config
    from pymco.connector.rabbitmq import RabbitMQConnector
    from pymco.errors import ConnectorError

    pool = {"rabbitmq.pool.size": "1", "rabbitmq.pool.1.host": "127.0.0.1"}
    connector = RabbitMQConnector(Config(settings={"identity": "offline"}, pluginconf=pool), "offline")
    with pytest.raises(ConnectorError, match="not connected"):
        connector.confirm_subscriptions()
