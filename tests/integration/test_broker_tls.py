"""Issue 6: TLS to the broker, over a TLS-only STOMP listener on a private RabbitMQ node.

The node's listener configuration is what `scripts/broker-setup --tls-only`
writes (printed with --print-config), so the script's TLS setup is what is
proven here.  Certificates come from a throwaway CA made in the test; a
second, unrelated CA plays the wrong one.  A real pymcod and the real mco
must work over TLS, and refuse, with one clear line and no traceback, to talk
to a broker whose certificate they cannot verify.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.cluster import BROKER, PSK, REPO, Node, tool, unique_name, write_config
from tests.support.private_rabbitmq import PrivateRabbitMQ

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- a throwaway CA

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def make_ca(directory: Path, cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    path = directory / f"{cn.replace(' ', '_')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def issue(directory: Path, ca: tuple, cn: str, ips: tuple[str, ...] = (), dns: tuple[str, ...] = (),
          server: bool = True) -> tuple[Path, Path]:
    ca_key, ca_cert, _ = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips] + [x509.DNSName(d) for d in dns]
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path = directory / f"{cn}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, _write_key(key, directory / f"{cn}.key")


# ---------------------------------------------------------------- the broker and the collective

class TLSWorld:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        certs = directory / "certs"
        certs.mkdir()
        self.ca = make_ca(certs, "pymco test CA")
        self.wrong_ca = make_ca(certs, "some other CA")
        self.server_cert, self.server_key = issue(certs, self.ca, "broker", ips=("127.0.0.1",))
        self.client_cert, self.client_key = issue(certs, self.ca, "client", server=False)
        self.collective = unique_name("tls")
        self.broker = PrivateRabbitMQ(directory / "rabbit", name="pymcotls", collectives=[self.collective],
                                      tls={"ca": str(self.ca[2]), "cert": str(self.server_cert),
                                           "key": str(self.server_key)}, tls_only=True)
        printed = subprocess.run(
            ["bash", str(REPO / "scripts" / "broker-setup"), "--print-config", "--tls-only",
             "--tls-port", str(self.broker.tls_port), "--tls-cert", str(self.server_cert),
             "--tls-key", str(self.server_key), "--tls-ca", str(self.ca[2])],
            capture_output=True, text=True, check=True).stdout
        self.broker.stomp_conf = [line for line in printed.splitlines() if line and not line.startswith("#")]
        self.nodes: list[Node] = []

    def connector(self, ca: Path | None = None, cert: bool = True, host: str = "127.0.0.1",
                  ssl: bool = True, port: int | None = None, key: Path | None = None) -> list[str]:
        p = "plugin.rabbitmq.pool.1"
        lines = ["connector = rabbitmq", f"plugin.rabbitmq.vhost = {BROKER['vhost']}", "plugin.rabbitmq.pool.size = 1",
                 f"{p}.host = {host}", f"{p}.port = {port or self.broker.tls_port}", f"{p}.user = {BROKER['user']}",
                 f"{p}.password = {BROKER['password']}", "plugin.rabbitmq.connect_timeout = 5",
                 "plugin.rabbitmq.initial_reconnect_delay = 0.5", "plugin.rabbitmq.max_reconnect_delay = 2"]
        if ssl:
            lines += [f"{p}.ssl = 1", f"{p}.ssl.ca = {ca or self.ca[2]}"]
            if cert:
                lines += [f"{p}.ssl.cert = {self.client_cert}", f"{p}.ssl.key = {key or self.client_key}"]
        return lines

    def node(self, identity: str, **connector: object) -> Node:
        node = Node(identity, self.directory / identity, [self.collective],
                    settings={"connector_lines": self.connector(**connector)})  # type: ignore[arg-type]
        self.nodes.append(node)
        return node.start()

    def mco(self, name: str, *args: str, **connector: object) -> subprocess.CompletedProcess[str]:
        config = write_config(self.directory / f"{name}.cfg", {
            "identity": name, "collectives": self.collective, "main_collective": self.collective,
            "logger_type": "console", "loglevel": "warn", "securityprovider": "psk", "plugin.psk": PSK,
            "connector_lines": self.connector(**connector), "color": "0"})  # type: ignore[arg-type]
        return subprocess.run([tool("mco"), *args, "-c", str(config)], capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = TLSWorld(tmp_path_factory.mktemp("tls"))
    w.broker.start()
    try:
        w.broker.setup()
        w.node("tls01").wait_started()
        w.node("tls02").wait_started()
        yield w
    finally:
        for node in w.nodes:
            node.stop()
        w.broker.destroy()


def one_clear_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_the_listener_is_tls_only(world):
    conf = (world.broker.directory / "rabbitmq.conf").read_text()
    assert "stomp.listeners.tcp = none" in conf and f"stomp.listeners.ssl.1 = 127.0.0.1:{world.broker.tls_port}" in conf
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", world.broker.stomp_port)) != 0
    context = ssl.create_default_context(cafile=str(world.ca[2]))
    with socket.create_connection(("127.0.0.1", world.broker.tls_port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            assert tls.getpeercert()["subject"] == ((("commonName", "broker"),),)


def test_collective_works_over_tls(world):
    result = world.mco("tlsclient", "rpc", "rpcutil", "ping", "--json", "-t", "10")
    assert result.returncode == 0, result
    replies = {r["sender"]: r for r in json.loads(result.stdout)}
    assert set(replies) == {"tls01", "tls02"} and all(r["statuscode"] == 0 for r in replies.values())
    ping = world.mco("tlsclient", "ping", "-t", "5")
    assert ping.returncode == 0 and "tls01" in ping.stdout and "tls02" in ping.stdout, ping
    # every STOMP connection the broker has is a TLS one: the two daemons and nothing else right now
    listed = world.broker.ctl("-s", "list_stomp_connections", "ssl", "ssl_protocol", "port").stdout.strip()
    rows = [line.split("\t") for line in listed.splitlines()]
    assert len(rows) >= 2, listed
    assert all(r[0] == "true" and r[1].startswith("tlsv1.") and r[2] == str(world.broker.tls_port)
               for r in rows), listed


def test_client_without_a_certificate_of_its_own(world):
    result = world.mco("nocert", "rpc", "rpcutil", "ping", "--json", "-t", "10", cert=False)
    assert result.returncode == 0, result
    assert {r["sender"] for r in json.loads(result.stdout)} == {"tls01", "tls02"}


def test_client_with_the_wrong_ca_refuses_and_says_why(world):
    result = world.mco("wrongca", "rpc", "rpcutil", "ping", "-t", "5", ca=world.wrong_ca[2])
    assert result.returncode != 0
    line = one_clear_line(result.stderr)
    assert "TLS certificate verification failed" in line and "127.0.0.1" in line, line
    assert f"not signed by a CA in plugin.rabbitmq.pool.1.ssl.ca = {world.wrong_ca[2]}" in line, line
    assert result.stdout == ""


def test_hostname_mismatch_is_refused(world):
    result = world.mco("wronghost", "rpc", "rpcutil", "ping", "-t", "5", host="localhost")
    assert result.returncode != 0
    line = one_clear_line(result.stderr)
    assert "TLS certificate verification failed" in line and "mismatch" in line.lower(), line


def test_plain_stomp_to_the_tls_port_fails_clearly(world):
    start = time.monotonic()
    result = world.mco("plain", "rpc", "rpcutil", "ping", "-t", "5", ssl=False)
    assert result.returncode != 0
    line = one_clear_line(result.stderr)
    assert str(world.broker.tls_port) in line, line
    assert "that port speaks TLS: set plugin.rabbitmq.pool.1.ssl = 1" in line, line
    assert time.monotonic() - start < 60


def test_missing_ca_file_is_a_config_error(world):
    result = world.mco("noca", "rpc", "rpcutil", "ping", "-t", "5", ca=world.directory / "nope.pem")
    assert result.returncode != 0
    line = one_clear_line(result.stderr)
    assert "plugin.rabbitmq.pool.1.ssl.ca" in line and "nope.pem" in line and "does not exist" in line, line


def test_encrypted_key_is_refused_before_connecting(world):
    encrypted = world.directory / "certs" / "encrypted.key"
    key = serialization.load_pem_private_key(world.client_key.read_bytes(), None)
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"passphrase")))
    result = world.mco("enckey", "rpc", "rpcutil", "ping", "-t", "5", key=encrypted)
    assert result.returncode != 0
    line = one_clear_line(result.stderr)
    assert "plugin.rabbitmq.pool.1.ssl.key" in line and "is encrypted" in line, line


def test_daemon_with_the_wrong_ca_refuses_and_says_why(world):
    node = world.node("tlsbad", ca=world.wrong_ca[2])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "TLS certificate verification failed" not in node.log():
        time.sleep(0.2)
    log = node.log()
    assert node.proc is not None and node.proc.poll() is None, log  # it keeps running and retrying
    failures = [line for line in log.splitlines() if "TLS certificate verification failed" in line]
    assert failures, log
    assert "not signed by a CA in plugin.rabbitmq.pool.1.ssl.ca" in failures[0], failures[0]
    assert "Traceback" not in log
    result = world.mco("tlsclient", "rpc", "rpcutil", "ping", "--json", "-t", "5")
    assert {r["sender"] for r in json.loads(result.stdout)} == {"tls01", "tls02"}  # tlsbad never joined
    assert node.stop() is not None
