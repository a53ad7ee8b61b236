"""Issue 6: the client applies max_message_size to replies, as the daemon does to requests.

A node's reply is whatever the node sends: a compromised or broken node must
not make every client decode megabytes.  The daemon side (oversized requests
dropped and counted) is covered by test_daemon_robustness.py.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node(cluster):
    node = cluster.add_node("lim01")
    cluster.wait()
    return node


def test_oversized_replies_are_ignored_with_a_warning(cluster, node):
    small = cluster.write_client("client-small.cfg", max_message_size="600")
    ping = cluster.mco("rpc", "rpcutil", "ping", "-I", "lim01", "--json", "-t", "5", config=small)
    assert [r["sender"] for r in json.loads(ping.out)] == ["lim01"], ping  # a ping reply fits
    inventory = cluster.mco("rpc", "rpcutil", "inventory", "-I", "lim01", "--json", "-t", "5", config=small)
    assert json.loads(inventory.out or "[]") == [], inventory
    assert "Traceback" not in inventory.err
    assert "larger than max_message_size (600)" in inventory.err, inventory
    full = cluster.mco("rpc", "rpcutil", "inventory", "-I", "lim01", "--json", "-t", "5")
    assert [r["sender"] for r in json.loads(full.out)] == ["lim01"], full  # the same reply, default limit
