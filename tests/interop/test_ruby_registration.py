"""Issue 7 interop: Ruby mcollectived's agentlist registration lands in pymco's inventory.

A Ruby node registers every second (MCollective's Agentlist plugin); a real
`pymcod registration-receiver` records it, and pymco's `mco --dm inventory`
then reaches the Ruby node directly.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import pytest

from tests.support.cluster import PSK, connector_lines, tool, unique_name, write_config
from tests.support.ruby import RubyNode

pytestmark = pytest.mark.interop


def registered(database):
    if not database.exists():
        return {}
    with sqlite3.connect(database) as db:
        return {row[0]: json.loads(row[1]) for row in db.execute("SELECT identity, agents FROM nodes")}


@pytest.fixture(scope="module")
def ruby_registry(cluster_factory, tmp_path_factory):
    main, reg = unique_name("m"), unique_name("reg")
    cluster = cluster_factory([main, reg], name="rubyreg")
    database = cluster.directory / "inventory.sqlite"
    receiver_cfg = write_config(cluster.directory / "receiver.cfg", {
        "identity": "registry1", "collectives": f"{main},{reg}", "logger_type": "file",
        "logfile": str(cluster.directory / "receiver.log"), "loglevel": "debug", "securityprovider": "psk",
        "plugin.psk": PSK, "connector_lines": connector_lines(), "plugin.inventory.database": str(database)})
    with open(cluster.directory / "receiver.err", "wb") as err:
        receiver = subprocess.Popen([tool("pymcod"), "registration-receiver", "-c", str(receiver_cfg)],
                                    stdout=err, stderr=err, start_new_session=True)
    ruby = RubyNode("rbreg1", tmp_path_factory.mktemp("rubyreg") / "rbreg1", [main, reg],
                    settings={"registerinterval": 1, "registration": "agentlist",
                              "registration_collective": reg}).start()
    cluster.client_config = cluster.write_client("client.cfg", **{"plugin.inventory.database": str(database)})
    try:
        ruby.wait_started()
        end = time.monotonic() + 30
        while "rbreg1" not in registered(database) and time.monotonic() < end:
            time.sleep(0.2)
        yield cluster, database, receiver
    finally:
        ruby.stop()
        receiver.terminate()
        receiver.wait(15)


def test_ruby_registration_is_recorded(ruby_registry):
    cluster, database, receiver = ruby_registry
    agents = registered(database).get("rbreg1")
    assert agents is not None, (cluster.directory / "receiver.log").read_text()
    assert "rpcutil" in agents and "discovery" in agents
    assert receiver.poll() is None


def test_pymco_reaches_the_ruby_node_through_the_inventory(ruby_registry):
    cluster, *_ = ruby_registry
    result = cluster.mco("rpc", "rpcutil", "ping", "--dm", "inventory", "--json")
    assert result.rc == 0, result
    assert [r["sender"] for r in json.loads(result.out)] == ["rbreg1"]
