"""Issue 2 interop: Ruby mco drives pymcod; pymco's mco drives Ruby mcollectived."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.ruby import ruby_fleet, ruby_mco

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def mixed(cluster, tmp_path_factory):
    cluster.add_node("py01", facts={"role": "web"})
    cluster.add_node("py02", facts={"role": "db"})
    cluster.wait()
    with ruby_fleet(tmp_path_factory.mktemp("ruby"), cluster.collectives,
                    {"rb01": {"facts": {"role": "web"}}, "rb02": {"facts": {"role": "web"}}}) as config:
        yield cluster, config

def test_ruby_mco_ping_sees_pymcod(mixed):
    cluster, config = mixed
    result = ruby_mco("ping", config=config)
    assert result.rc == 0, result
    for name in ("py01", "py02", "rb01", "rb02"):
        assert name in result.out


def test_ruby_mco_inventory_of_pymcod(mixed):
    cluster, config = mixed
    result = ruby_mco("rpc", "rpcutil", "inventory", "-I", "py01", "--json", config=config)
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == "py01"
    assert "rpcutil" in reply["data"]["agents"]
    assert reply["data"]["facts"]["role"] == "web"


def test_pymco_ping_sees_ruby_nodes(mixed):
    cluster, config = mixed
    result = cluster.mco("ping")
    assert result.rc == 0, result
    assert "rb01" in result.out and "rb02" in result.out


def test_pymco_rpc_ping_to_ruby_nodes(mixed):
    cluster, config = mixed
    result = cluster.mco("rpc", "rpcutil", "ping", "-I", "rb01", "-I", "rb02", "--json")
    assert result.rc == 0, result
    replies = json.loads(result.out)
    assert sorted(r["sender"] for r in replies) == ["rb01", "rb02"]
    assert all(r["statuscode"] == 0 for r in replies)


def test_deafness_probes_never_reach_ruby_nodes(mixed):
    # pymcod's probes (server/probe.py) go only where that daemon alone listens
    cluster, config = mixed
    logs = [config.parent / name / "mcollectived.log" for name in ("rb01", "rb02")]
    marks = [len(log.read_text(errors="replace")) for log in logs]
    node = cluster.add_node("py03", probe_interval=0.5, probe_timeout=2)
    node.wait_started()
    time.sleep(4)  # several probe rounds on both paths
    assert "deaf:" not in node.log()
    for log, mark in zip(logs, marks):
        text = log.read_text(errors="replace")[mark:]
        assert "probe" not in text and " ERROR -- " not in text, text
    result = ruby_mco("ping", config=config)
    assert "py03" in result.out and "rb01" in result.out, result
    node.stop()
