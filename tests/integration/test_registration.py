"""Issue 7: registration (agentlist and meta), the SQLite registration receiver, `--dm inventory`.

Real daemons register every second into a separate registration collective;
a real `pymcod registration-receiver` keeps the inventory; `mco` discovers
from it without a broadcast and then talks to the nodes directly.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import pytest

from pymco.config import Config
from pymco.connector.stomp_import import stomp
from pymco.protocol.message import Request
from pymco.security.psk import PskSecurity
from tests.support.cluster import BROKER, PSK, connector_lines, tool, unique_name, wait_for, write_config

pytestmark = pytest.mark.integration


def rows(database):
    if not database.exists():
        return {}
    with sqlite3.connect(database) as db:
        return {r[0]: r for r in db.execute("SELECT identity, agents, facts, classes, collectives, first_seen, "
                                            "last_seen FROM nodes")}


@pytest.fixture(scope="module")
def registry(cluster_factory):
    main, reg = unique_name("m"), unique_name("reg")
    cluster = cluster_factory([main, reg], name="registration")
    common = {"registerinterval": 1, "registration_collective": reg, "base_facts": False}
    cluster.add_node("reg01", facts={"role": "web", "dc": {"name": "ams"}}, classes=["nginx"],
                     registration="meta", **common)
    cluster.add_node("reg02", facts={"role": "db"}, classes=["postgresql"], registration="meta", **common)
    cluster.add_node("reg03", facts={"role": "web"}, registration="agentlist", **common)
    database = cluster.directory / "inventory.sqlite"
    receiver_cfg = write_config(cluster.directory / "receiver.cfg", {
        "identity": "registry1", "collectives": f"{main},{reg}", "logger_type": "file",
        "logfile": str(cluster.directory / "receiver.log"), "loglevel": "debug", "securityprovider": "psk",
        "plugin.psk": PSK, "connector_lines": connector_lines(),
        "plugin.inventory.database": str(database)})
    with open(cluster.directory / "receiver.err", "wb") as err:
        proc = subprocess.Popen([tool("pymcod"), "registration-receiver", "-c", str(receiver_cfg)],
                                stdout=err, stderr=err, start_new_session=True)
    cluster.client_config = cluster.write_client("client.cfg", **{"plugin.inventory.database": str(database),
                                                                  "plugin.inventory.max_age": 4})
    try:
        cluster.wait()
        wait_for(lambda: set(rows(database)) >= {"reg01", "reg02", "reg03"})
        yield cluster, database, proc, reg
    finally:
        proc.terminate()
        proc.wait(15)


def test_inventory_holds_agents_facts_classes_and_last_seen(registry):
    cluster, database, _, reg = registry
    table = rows(database)
    identity, agents, facts, classes, collectives, first, last = table["reg01"]
    assert {"rpcutil", "package", "service", "puppet"} <= set(json.loads(agents))
    assert json.loads(facts)["dc"] == {"name": "ams"}
    assert json.loads(classes) == ["nginx"]
    assert set(json.loads(collectives)) == set(cluster.collectives)
    # agentlist registration: agents only
    _, agents3, facts3, classes3, _, _, _ = table["reg03"]
    assert "rpcutil" in json.loads(agents3) and facts3 is None and classes3 is None
    # kept up to date: last_seen moves on with every registration
    wait_for(lambda: rows(database)["reg01"][6] > last)


def test_registration_goes_to_the_registration_collective(registry):
    cluster, database, _, reg = registry
    log = cluster.nodes["reg02"].log()
    assert f"to collective {reg}" in log
    assert f"to collective {cluster.collective}" not in log


def test_rpc_with_inventory_discovery(registry):
    cluster, *_ = registry
    result = cluster.mco("rpc", "rpcutil", "ping", "--dm", "inventory", "--json")
    assert result.rc == 0, result
    assert sorted(r["sender"] for r in json.loads(result.out)) == ["reg01", "reg02", "reg03"]


@pytest.mark.parametrize("args, expected", [
    (["-F", "role=web"], ["reg01"]),               # reg03 is a web node too, but sent no facts
    (["-F", "dc.name=ams"], ["reg01"]),
    (["-C", "postgresql"], ["reg02"]),
    (["-I", "/reg0[23]/"], ["reg02", "reg03"]),
    (["-A", "service"], ["reg01", "reg02", "reg03"]),
    (["-F", "role=nothing"], []),
])
def test_inventory_filters(registry, args, expected):
    cluster, *_ = registry
    result = cluster.mco("rpc", "rpcutil", "ping", "--dm", "inventory", "--json", *args)
    assert result.rc in (0, 1), result
    senders = sorted(r["sender"] for r in json.loads(result.out)) if result.out.strip() else []
    assert senders == expected, result


def test_compound_filter_is_refused_clearly(registry):
    cluster, *_ = registry
    result = cluster.mco("rpc", "rpcutil", "ping", "--dm", "inventory", "-S", "role=web")
    assert result.rc == 1
    assert "Cannot use compound filters while using the 'inventory' discovery method" in result.err
    assert "Traceback" not in result.err


def test_missing_database_is_a_clear_error(registry, tmp_path):
    cluster, *_ = registry
    result = cluster.mco("rpc", "rpcutil", "ping", "--dm", "inventory", "--do", str(tmp_path / "none.sqlite"))
    assert result.rc == 1
    assert "none.sqlite does not exist" in result.err and "Traceback" not in result.err


def test_hostile_registration_is_dropped_and_the_receiver_keeps_going(registry):
    cluster, database, proc, reg = registry
    conn = stomp.Connection12([(BROKER["host"], BROKER["port"])], vhost=BROKER["vhost"], auto_decode=False)
    conn.connect(BROKER["user"], BROKER["password"], wait=True)
    try:
        destination = f"/exchange/{reg}_broadcast/registration"
        conn.send(destination, b"not marshal at all", headers={"mc_sender": "evil"})
        config = Config(settings={"identity": "evil"}, pluginconf={"psk": PSK})
        odd = Request(agent="registration", collective=reg, body=12345, filter={"agent": ["registration"]},
                      callerid="uid=0", senderid="evil")
        conn.send(destination, PskSecurity(config, client=True).encode_request(odd), headers={"mc_sender": "evil"})
        forged = Request(agent="registration", collective=reg, body=["rpcutil"], callerid="uid=0", senderid="evil")
        wrong_key = Config(settings={"identity": "evil"}, pluginconf={"psk": "not-the-key"})
        conn.send(destination, PskSecurity(wrong_key, client=True).encode_request(forged),
                  headers={"mc_sender": "evil"})
    finally:
        conn.disconnect()
    log_path = cluster.directory / "receiver.log"
    wait_for(lambda: log_path.read_text().count("dropping") >= 3)
    assert "evil" not in rows(database)
    assert proc.poll() is None
    assert "Traceback" not in log_path.read_text()
    before = rows(database)["reg02"][6]
    wait_for(lambda: rows(database)["reg02"][6] > before)


def test_no_response_list_is_exact_and_stale_nodes_age_out(registry):
    cluster, database, _, _ = registry
    cluster.nodes["reg03"].stop()
    result = cluster.mco("rpc", "rpcutil", "ping", "--dm", "inventory", "-t", "2")
    assert "No response from:" in result.out, result
    missing = result.out.split("No response from:")[1].split()
    assert missing == ["reg03"], result
    assert "Finished processing 2 / 3 hosts" in result.out
    # not heard from within plugin.inventory.max_age (4 s): no longer discovered
    seen = rows(database)["reg03"][6]
    wait_for(lambda: time.time() - seen > 5, timeout=10)
    result = cluster.mco("rpc", "rpcutil", "ping", "--dm", "inventory", "--json")
    assert sorted(r["sender"] for r in json.loads(result.out)) == ["reg01", "reg02"]


def test_receiver_list_prints_the_inventory(registry):
    cluster, database, _, _ = registry
    proc = subprocess.run([tool("pymcod"), "registration-receiver", "-c", str(cluster.directory / "receiver.cfg"),
                           "--list"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    listed = {json.loads(line)["identity"]: json.loads(line) for line in proc.stdout.splitlines()}
    assert {"reg01", "reg02", "reg03"} <= set(listed)
    assert listed["reg02"]["facts"]["role"] == "db"
