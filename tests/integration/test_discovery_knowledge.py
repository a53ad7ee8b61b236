"""Issue 12: mc discovery is fast from knowledge and never drops a node that answers in time.

Real pymcod nodes, one of them frozen with SIGSTOP while `mco` discovers; the
client's discovery cache lives in a directory of this module's own, so the
tests decide when it is cold or warm.  What discovery did is checked through
the line `mco` prints with -v, never through timings.
"""

from __future__ import annotations

import json
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

import pytest

from tests.support.cluster import Node

pytestmark = pytest.mark.integration

NODES = ["k1", "k2", "k3", "k4"]


@pytest.fixture(scope="module")
def fleet(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(name="discovery")
    for identity in NODES:
        cluster.add_node(identity, facts={"role": "web"}, base_facts=False)
    cluster.wait()
    cluster.cache = str(tmp_path_factory.mktemp("client-cache"))
    return cluster


def mco(fleet, *args: str, **kw):
    return fleet.mco(*args, env={"PYMCO_CACHE_DIR": kw.pop("cache", fleet.cache)}, **kw)


@contextmanager
def frozen(node: Node, seconds: float) -> Iterator[None]:
    """The node stopped (SIGSTOP) now and resumed `seconds` later, whatever happens meanwhile."""
    node.signal(signal.SIGSTOP)
    timer = threading.Timer(seconds, node.signal, (signal.SIGCONT,))
    timer.start()
    try:
        yield
    finally:
        timer.join()
        node.signal(signal.SIGCONT)


def found(result) -> list[str]:
    assert result.rc == 0, result
    return sorted(result.out.split())


def test_first_discovery_waits_the_full_time_and_learns(fleet):
    with frozen(fleet.nodes["k2"], 0.9):
        result = mco(fleet, "find", "-v")
    assert found(result) == NODES
    assert "Discovering hosts using the mc method for 2 second(s) .... 4 (no known nodes" in result.err


def test_a_warm_cache_ends_discovery_early(fleet):
    result = mco(fleet, "find", "-v")
    assert found(result) == NODES
    assert "ended after" in result.err and "all 4 known nodes answered" in result.err, result


def test_a_node_frozen_for_0_9_s_is_found_by_find_ping_and_rpc(fleet):
    assert mco(fleet, "ping", "-t", "2").rc == 0  # teaches the cache who answers an unfiltered ping
    with frozen(fleet.nodes["k3"], 0.9):
        result = mco(fleet, "find")
    assert found(result) == NODES
    with frozen(fleet.nodes["k3"], 0.9):
        result = mco(fleet, "ping", "-v")
    assert result.rc == 0, result
    assert sorted(line.split()[0] for line in result.out.splitlines() if "time=" in line) == NODES
    assert "all 4 known nodes answered" in result.err, result
    with frozen(fleet.nodes["k3"], 0.9):
        result = mco(fleet, "rpc", "rpcutil", "ping", "--json")
    assert result.rc == 0, result
    assert sorted(r["sender"] for r in json.loads(result.out)) == NODES


def test_an_explicit_dt_is_waited_in_full(fleet):
    with frozen(fleet.nodes["k4"], 2.5):
        result = mco(fleet, "find", "--dt", "4", "-v")
    assert found(result) == NODES
    assert "for 4 second(s) .... 4\n" in result.err, result  # no early end


def test_a_filter_is_known_on_its_own(fleet):
    result = mco(fleet, "find", "-F", "role=web", "-v")
    assert found(result) == NODES
    assert "no known nodes for this filter yet" in result.err, result
    result = mco(fleet, "find", "-F", "role=web", "-v")
    assert "all 4 known nodes answered" in result.err, result


def test_a_new_node_is_found_and_a_silent_known_node_named(fleet):
    mco(fleet, "find")
    new = fleet.add_node("k5", facts={"role": "web"}, base_facts=False)
    new.wait_started()
    result = mco(fleet, "find", "-v")
    assert found(result) == NODES + ["k5"]
    assert "all 4 known nodes answered, 1 new" in result.err, result
    new.stop()
    result = mco(fleet, "find", "-v")
    assert found(result) == NODES
    assert "1 known node did not answer discovery: k5" in result.err, result
    assert "ended after" not in result.err


def test_the_quiet_window_stays_an_option(fleet):
    result = mco(fleet, "find", "--dq", "0.5", "-v")
    assert found(result) == NODES
    assert "replies stopped (--dq)" in result.err, result


def test_the_registration_inventory_is_knowledge_too(fleet, tmp_path):
    from pymco.registration.receiver import Inventory

    path = str(tmp_path / "inventory.db")
    inventory = Inventory(path)
    for identity in NODES:
        inventory.record(identity, ["discovery", "rpcutil"], {"role": "web"}, [], [fleet.collective])
    inventory.close()
    config = fleet.write_client("inventory.cfg", **{"plugin.inventory.database": path})
    result = mco(fleet, "find", "-F", "role=web", "-v", config=config, cache=str(tmp_path / "cold"))
    assert found(result) == NODES
    assert "all 4 known nodes answered" in result.err, result
