"""Issue 17: `connector = nats` against real nats-server processes.

test_collective.py and test_targeting.py run the collective's requests over
NATS too; this file covers what only NATS has or does differently: a
private 3-server cluster whose members are stopped under the daemons
(failover, full restart), user/password and token authentication, TLS,
the x509 provider and registration over NATS.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time

import pytest

from tests.support.cluster import PSK, Transport, nats_lines, tool, unique_name, wait_for, write_config
from tests.support.pki import Pki
from tests.support.ports import free_port, free_ports
from tests.support.private_nats import PrivateNats

pytestmark = pytest.mark.integration

NODES = [f"nn{i:02d}" for i in range(1, 7)]
#: nodes come back within reconnect_time_wait of a server (production default 2 s)
DAEMON = {"reconnect_time_wait": "0.5", "connect_timeout": "2", "ping_interval": "2"}


def rotated(servers: list[str], by: int) -> list[str]:
    return servers[by:] + servers[:by]


@pytest.fixture(scope="module")
def nats(tmp_path_factory):
    private = PrivateNats(tmp_path_factory.mktemp("nats-outage")).start()
    yield private
    private.stop()


@pytest.fixture(scope="module")
def fleet(cluster_factory, nats):
    cluster = cluster_factory(name="nats-outage", on=Transport("nats", nats.urls))
    for index, name in enumerate(NODES):  # spread over the members: node i prefers member i % 3
        cluster.add_node(name, base_facts=False,
                         connector_lines=nats_lines(rotated(nats.urls, index % 3), **DAEMON))
    cluster.wait()
    cluster.client_config = cluster.write_client("nats-client.cfg",
                                                 connector_lines=nats_lines(nats.urls, connect_timeout="2"))
    return cluster


def pinged(cluster, config=None) -> set[str]:
    result = cluster.mco("ping", "-t", "3", config=config)
    return set(re.findall(r"^(\S+)\s+time=", result.out, re.M))


def all_answer_within(cluster, expected, seconds: float = 30, config=None) -> set[str]:
    end = time.monotonic() + seconds
    seen: set[str] = set()
    while time.monotonic() < end:
        seen = pinged(cluster, config)
        if seen >= set(expected):
            break
        time.sleep(0.3)
    return seen


def test_nodes_on_different_members_all_answer(fleet, nats):
    assert pinged(fleet) == set(NODES)
    # each node really is connected to the member it prefers, so the replies crossed routes
    assert all(f"connected to NATS server 127.0.0.1:{nats.ports[i % 3]}" in fleet.nodes[n].log()
               for i, n in enumerate(NODES))


def test_failover_when_a_member_stops(fleet, nats):
    nats.stop_member(0)
    try:
        assert all_answer_within(fleet, NODES, 20) == set(NODES)
        moved = [n for i, n in enumerate(NODES) if i % 3 == 0]
        assert all("reconnected to NATS server" in fleet.nodes[n].log() for n in moved)
    finally:
        nats.start_member(0)


def test_restart_of_every_member_daemons_answer_again(fleet, nats):
    nats.stop()
    time.sleep(1)
    assert pinged(fleet) == set()
    nats.start()
    assert all_answer_within(fleet, NODES, 30) == set(NODES)
    assert all(fleet.nodes[n].proc.poll() is None for n in NODES)


def test_client_without_any_reachable_server_fails_fast(fleet):
    config = fleet.write_client("nats-down.cfg", connector_lines=nats_lines(
        [f"nats://127.0.0.1:{free_port()}", f"nats://127.0.0.1:{free_port()}"], connect_timeout="2"))
    result = fleet.mco("ping", config=config)
    assert result.rc != 0 and result.elapsed < 15, result
    assert "could not connect to any NATS server" in result.err and "Traceback" not in result.err, result
    assert len(result.err.strip().splitlines()) == 1, result


def test_daemon_exits_once_it_gives_up(fleet):
    node = fleet.add_node("nngiveup", base_facts=False, connector_lines=nats_lines(
        [f"nats://127.0.0.1:{free_port()}"], max_reconnect_attempts="2", reconnect_time_wait="0.2",
        connect_timeout="1"))
    try:
        assert node.proc.wait(60) == 1
    finally:
        del fleet.nodes["nngiveup"]
    err = (node.directory / "stderr.log").read_text()
    assert "no NATS server reachable after 2 attempts" in err.strip().splitlines()[-1], err
    assert "Traceback" not in node.log()


# ------------------------------------------------------------------ authentication and TLS

def refused_where_allowed(cluster_factory, name: str, urls: list[str], good: list[str], bad: list[str]):
    """A node and a client with the `good` settings meet; a client with the `bad` ones: its mco result."""
    cluster = cluster_factory(name=name, on=Transport("nats", urls))
    node = cluster.add_node(f"nn{name}", base_facts=False, connector_lines=good)
    try:
        cluster.wait()
        ok = cluster.mco("ping", config=cluster.write_client(f"{name}-ok.cfg", connector_lines=good))
        assert f"nn{name}" in ok.out, ok
        refused = cluster.mco("ping", config=cluster.write_client(f"{name}-bad.cfg", connector_lines=bad))
        assert refused.rc != 0 and "Traceback" not in refused.err, refused
        assert len(refused.err.strip().splitlines()) == 1, refused
        return refused
    finally:
        node.stop()


@pytest.mark.parametrize("auth, good, bad", [
    ("authorization { user: mco, password: s3cret }", {"user": "mco", "password": "s3cret"},
     {"user": "mco", "password": "wrong"}),
    ("authorization { token: t0ken }", {"token": "t0ken"}, {"token": "nope"}),
])
def test_authentication(cluster_factory, tmp_path_factory, auth, good, bad):
    server = PrivateNats(tmp_path_factory.mktemp("nats-auth"), size=1, extra=auth).start()
    try:
        refused = refused_where_allowed(cluster_factory, "auth", server.urls, nats_lines(server.urls, **good),
                                        nats_lines(server.urls, **bad))
        assert "refused the connection" in refused.err and "authorization" in refused.err.lower(), refused
    finally:
        server.stop()


def test_tls_with_a_verified_server_certificate(cluster_factory, tmp_path_factory):
    pki = Pki(tmp_path_factory.mktemp("nats-pki") / "ssl")
    pki.issue("localhost")
    ssl = pki.ssldir
    server = PrivateNats(tmp_path_factory.mktemp("nats-tls"), size=1, scheme="tls", extra=(
        f'tls {{ cert_file: "{ssl}/certs/localhost.pem", key_file: "{ssl}/private_keys/localhost.pem", '
        f'ca_file: "{ssl}/certs/ca.pem" }}')).start()
    try:
        urls = [u.replace("127.0.0.1", "localhost") for u in server.urls]
        # without the CA the server's certificate cannot be verified: a clear one-line refusal
        refused = refused_where_allowed(cluster_factory, "tls", urls, nats_lines(urls, ssl__ca=f"{ssl}/certs/ca.pem"),
                                        nats_lines(urls))
        assert "certificate verify failed" in refused.err, refused
    finally:
        server.stop()


# ------------------------------------------------------------------ security providers and registration

def test_x509_provider_over_nats(fleet, tmp_path_factory):
    pki = Pki(tmp_path_factory.mktemp("nats-x509") / "ssl")
    pki.issue("nnx509.example.test")
    pki.issue("alice")
    node = fleet.add_node("nnx509.example.test", base_facts=False, securityprovider="x509",
                          **{"plugin.x509.ssldir": str(pki.ssldir)})
    node.wait_started()
    config = fleet.write_client("x509.cfg", securityprovider="x509",
                                **{"plugin.x509.ssldir": str(pki.ssldir), "plugin.x509.certname": "alice"})
    result = fleet.mco("rpc", "rpcutil", "ping", "-I", "nnx509.example.test", config=config)
    assert result.rc == 0 and "Finished processing 1 / 1 hosts" in result.out, result
    node.stop()


def test_registration_over_nats(fleet):
    reg = unique_name("reg")
    database = fleet.directory / "nats-inventory.sqlite"
    node = fleet.add_node("nnreg", base_facts=False, facts={"role": "web"}, registerinterval=1,
                          registration="meta", registration_collective=reg,
                          collectives=[fleet.collective, reg])
    receiver_cfg = write_config(fleet.directory / "nats-receiver.cfg", {
        "identity": "nnregistry", "collectives": f"{fleet.collective},{reg}", "logger_type": "file",
        "logfile": str(fleet.directory / "nats-receiver.log"), "loglevel": "info", "securityprovider": "psk",
        "plugin.psk": PSK, "connector_lines": fleet.transport.lines(), "plugin.inventory.database": str(database)})
    proc = subprocess.Popen([tool("pymcod"), "registration-receiver", "-c", str(receiver_cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def registered():
            if not database.exists():
                return None
            try:
                with sqlite3.connect(database) as db:
                    return db.execute("SELECT facts FROM nodes WHERE identity = 'nnreg'").fetchone()
            except sqlite3.OperationalError:  # the receiver has not created its table yet
                return None
        row = wait_for(registered, 30)
        assert '"role": "web"' in row[0]
    finally:
        proc.terminate()
        proc.wait(15)
        node.stop()


# ------------------------------------------------------------------ scripts/broker-setup --nats

def test_broker_setup_nats_cluster_with_per_collective_permissions(cluster_factory, tmp_path_factory, repo):
    directory = tmp_path_factory.mktemp("broker-setup-nats")
    port, route = free_ports(3), free_ports(3)
    collective = unique_name("bs")
    setup = ["bash", str(repo / "scripts" / "broker-setup"), "--nats", "--dir", str(directory), "--cluster", "3",
             "--port", str(port), "--cluster-port", str(route), "--collectives", collective,
             "--node-password", "nodepw", "--client-password", "clientpw"]
    first = subprocess.run(setup, capture_output=True, text=True, timeout=60)
    try:
        assert first.returncode == 0, first.stderr
        again = subprocess.run(setup, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "started" not in again.stdout and "reloaded" not in again.stdout, again
        urls = [f"nats://127.0.0.1:{port + i}" for i in range(3)]
        node_lines = nats_lines(rotated(urls, 2), user="pymco-node", password="nodepw")
        client_lines = nats_lines(urls, user="pymco-client", password="clientpw")
        cluster = cluster_factory([collective], name="broker-setup-nats", on=Transport("nats", urls))
        cluster.add_node("nnbs", base_facts=False, connector_lines=node_lines)
        cluster.wait()
        client = cluster.write_client("bs-client.cfg", connector_lines=client_lines)
        wait_for(lambda: "nnbs" in cluster.mco("ping", "-t", "2", config=client).out)  # across the routes
        # a node's credentials cannot send requests: the servers refuse the publish
        as_node = cluster.mco("rpc", "rpcutil", "ping", "-t", "2", config=cluster.write_client(
            "bs-as-node.cfg", connector_lines=node_lines))
        assert "nnbs" not in as_node.out, as_node
        assert "the NATS server refused: permissions violation for publish" in as_node.err, as_node
        # nor can they read another collective's requests
        other = cluster.add_node("nnbs2", base_facts=False, collectives=[unique_name("other")],
                                 connector_lines=node_lines)
        other.wait_started()
        assert wait_for(lambda: "refused: permissions violation for subscription to" in other.log())
        cluster.nodes["nnbs"].stop()
        other.stop()
    finally:
        subprocess.run([*setup, "--stop"], capture_output=True, timeout=60)
