"""`--dm puppetdb` against a stand-in PuppetDB: what is sent, how answers and failures come back.

The stand-in is a real HTTPS server on loopback with certificates from a
throwaway Puppet-like CA, requiring a client certificate as PuppetDB does, so
the TLS paths (trust, host name, client certificate) are real; only its
answers are scripted.  Discovery against a real PuppetDB is tested in
tests/integration.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from pymco import plugins
from pymco.config import Config
from pymco.discovery import pql
from pymco.discovery.base import DiscoveryRequest
from pymco.discovery.puppetdb import PuppetdbDiscovery, Server, parse_server
from pymco.errors import DiscoveryError
from pymco.matcher.filter import Filter
from pymco.security.x509_paths import x509_paths
from tests.support.pki import Pki

ADMIN = "admin.example.test"
Answer = Callable[[str], "tuple[int, bytes]"]


class StandIn:
    """A PuppetDB-shaped HTTPS endpoint: records each request, answers with `answer(query)`."""

    def __init__(self, cert: Path, key: Path, client_ca: Path) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: Answer = lambda query: (200, b"[]")
        self.delay = 0.0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                peer = dict(x[0] for x in self.connection.getpeercert()["subject"])  # type: ignore[union-attr]
                stand_in.requests.append({"path": self.path, "type": self.headers.get("Content-Type"),
                                          "body": body, "client": peer.get("commonName")})
                time.sleep(stand_in.delay)
                status, answer = stand_in.answer(json.loads(body)["query"])
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign] # a client gone
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def queries(self) -> list[str]:
        return [json.loads(r["body"])["query"] for r in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    pki = Pki(tmp_path_factory.mktemp("pdb") / "ssl")
    for name in (ADMIN, "localhost", "elsewhere.example.test"):
        pki.issue(name)
    return pki


def stand_in_for(pki: Pki, name: str = "localhost", client_ca: Pki | None = None) -> StandIn:
    ssl_dir = pki.ssldir
    return StandIn(ssl_dir / f"certs/{name}.pem", ssl_dir / f"private_keys/{name}.pem",
                   (client_ca or pki).ssldir / "certs/ca.pem")


@pytest.fixture
def pdb(ca):
    server = stand_in_for(ca)
    yield server
    server.close()


def config_for(pki: Pki, server: str, **plugin: str) -> Config:
    pluginconf = {"x509.ssldir": str(pki.ssldir), "x509.certname": ADMIN, "puppetdb.server": server}
    pluginconf.update(plugin)
    return Config(settings={"identity": ADMIN, "securityprovider": "psk"}, pluginconf=pluginconf, mode="client")


def discover(config: Config, flt: Filter | None = None, timeout: float = 2.0, explicit: bool = False,
             limit: int | None = None) -> list[str]:
    method = PuppetdbDiscovery(SimpleNamespace(config=config))  # type: ignore[arg-type]
    flt = flt or Filter()
    method.check(flt)
    return method.discover(DiscoveryRequest(flt, "mcollective", "rpcutil", timeout, limit=limit,
                                            explicit_timeout=explicit))


def rows(*names: str) -> bytes:
    return json.dumps([{"certname": n} for n in names]).encode()


# ------------------------------------------------------------------ configuration

@pytest.mark.parametrize("value, server", [
    ("puppet:8081", Server("puppet", 8081, "")),
    ("puppetdb.example.com", Server("puppetdb.example.com", 8081, "")),
    ("pdb:9081", Server("pdb", 9081, "")),
    ("https://pdb.example.com", Server("pdb.example.com", 8081, "")),
    ("https://pdb.example.com:8443/puppetdb/", Server("pdb.example.com", 8443, "/puppetdb")),
    ("https://[::1]:8081", Server("::1", 8081, "")),
    (" localhost:8081 ", Server("localhost", 8081, "")),
])
def test_server_setting(value, server):
    assert parse_server(value) == server


def test_server_url_for_messages():
    assert Server("::1", 8081, "").url == "https://[::1]:8081"
    assert Server("pdb", 8443, "/p").url == "https://pdb:8443/p"


@pytest.mark.parametrize("value, message", [
    ("http://pdb:8080", "over https only"),
    ("ftp://pdb", "over https only"),
    ("pdb:port", "is not host"),
    ("https://", "is not host"),
    ("https://user@pdb:8081", "is not host"),
    ("https://pdb:8081/?query=x", "is not host"),
    ("pdb:99999", "is not host"),
])
def test_bad_server_settings_are_one_line(value, message):
    with pytest.raises(DiscoveryError, match=message):
        parse_server(value)


def test_certificate_paths_are_the_x509_providers(tmp_path, monkeypatch):
    import pymco.security.x509_paths as paths_module

    config = Config(settings={"identity": "me.example.test"}, pluginconf={"x509.ssldir": "/ssl"})
    assert x509_paths(config) == paths_module.X509Paths(
        "me.example.test", "/ssl/certs/me.example.test.pem", "/ssl/private_keys/me.example.test.pem",
        "/ssl/certs/ca.pem", "/ssl/crl.pem", crl_required=False)
    monkeypatch.setattr(paths_module, "default_ssldir", lambda: pytest.fail("Puppet asked without need"))
    explicit = {"x509.certname": "op", "x509.cert": "/c.pem", "x509.private_key": "/k.pem", "x509.ca": "/ca.pem",
                "x509.crl": "/crl.pem"}
    assert x509_paths(Config(settings={"identity": "x"}, pluginconf=explicit)) == paths_module.X509Paths(
        "op", "/c.pem", "/k.pem", "/ca.pem", "/crl.pem", crl_required=True)


def test_registered_and_described():
    assert plugins.resolve("discovery", "puppetdb") is PuppetdbDiscovery
    assert "PuppetDB" in plugins.describe("discovery", "puppetdb")


# ------------------------------------------------------------------ a working PuppetDB

def test_the_query_goes_as_a_json_post_with_our_certificate(ca, pdb):
    pdb.answer = lambda query: (200, rows("web2.example.test", "web1.example.test", "web1.example.test"))
    flt = Filter()
    flt.add_fact("os.family=Debian")
    flt.add_class("apache")
    found = discover(config_for(ca, f"localhost:{pdb.port}"), flt)
    assert found == ["web1.example.test", "web2.example.test"]
    [request] = pdb.requests
    assert request["path"] == "/pdb/query/v4"
    assert request["type"] == "application/json"
    assert request["client"] == ADMIN
    assert json.loads(request["body"]) == {"query": pql.query(flt, collective="mcollective")}


def test_limit_keeps_the_first_identities(ca, pdb):
    pdb.answer = lambda query: (200, rows("c", "a", "b"))
    assert discover(config_for(ca, f"https://localhost:{pdb.port}"), limit=2) == ["a", "b"]


def test_a_url_prefix_is_kept(ca, pdb):
    discover(config_for(ca, f"https://localhost:{pdb.port}/puppetdb/"))
    assert pdb.requests[0]["path"] == "/puppetdb/pdb/query/v4"


def test_inequalities_are_resolved_from_the_facts_values_first(ca, pdb):
    values = [{"certname": "new", "facts.os.release.major": "12"},
              {"certname": "old", "facts.os.release.major": "10"},
              {"certname": "typed", "facts.os.release.major": 11},
              {"certname": "other", "facts.os.release.major": 9}]

    def answer(query: str) -> tuple[int, bytes]:
        if query.startswith("inventory["):
            return 200, json.dumps(values).encode()
        return 200, rows("new", "old", "unknown")  # as if the rest of the filter selected these

    pdb.answer = answer
    flt = Filter()
    flt.add_fact("os.release.major>=11")
    flt.add_compound("os.release.major>=11 or kernel=Linux")
    # -F: PuppetDB's answer is filtered by the resolved term; -S: the term is part of the query
    assert discover(config_for(ca, f"localhost:{pdb.port}"), flt) == ["new"]
    term = flt.fact[0]
    resolved = pql.Resolved(frozenset({"new", "typed"}), frozenset({"new", "old", "typed", "other"}))
    assert pdb.queries == [pql.values_query(term), pql.query(flt, (), {term: resolved}, "mcollective")]
    assert '(certname in ["new", "typed"]) or (inventory { facts.kernel' in pdb.queries[1]


def test_what_cannot_be_translated_is_refused_before_connecting(ca):
    flt = Filter()
    flt.add_compound("fstat('/etc/hosts').size>1")
    # port 9 would refuse: the refusal must come from the filter, not the network
    with pytest.raises(DiscoveryError, match="data function fstat"):
        discover(config_for(ca, "localhost:9"), flt)
    flt = Filter()
    flt.add_fact("kernel>Linux")
    with pytest.raises(DiscoveryError, match="with numbers only"):
        discover(config_for(ca, "localhost:9"), flt)


# ------------------------------------------------------------------ failures, each one line

def one_line(exc_info: pytest.ExceptionInfo[DiscoveryError]) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize("status, body, expected", [
    (400, b"PQL parse error at line 1, column 7:\n\nnodes[certname] { ~ }\n      ^",
     "answered 400 Bad Request: PQL parse error at line 1, column 7: nodes[certname] { ~ } ^"),
    (500, b'{"error": "database is down"}', "answered 500 Internal Server Error: database is down"),
    (403, b"x" * 1000, "answered 403 Forbidden: " + "x" * 300 + "..."),
])
def test_http_errors_carry_puppetdbs_message(ca, pdb, status, body, expected):
    pdb.answer = lambda query: (status, body)
    with pytest.raises(DiscoveryError) as exc_info:
        discover(config_for(ca, f"localhost:{pdb.port}"))
    assert one_line(exc_info) == f"PuppetDB at https://localhost:{pdb.port} {expected}"


@pytest.mark.parametrize("body, expected", [
    (b"<html>not json</html>", "answered with invalid JSON"),
    (b'{"certname": "a"}', "answered dict, not a list of nodes"),
    (b'["a", "b"]', "not a list of nodes"),
])
def test_answers_that_are_not_node_lists(ca, pdb, body, expected):
    pdb.answer = lambda query: (200, body)
    with pytest.raises(DiscoveryError, match=expected) as exc_info:
        discover(config_for(ca, f"localhost:{pdb.port}"))
    one_line(exc_info)


def test_connection_refused(ca):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(DiscoveryError) as exc_info:
            discover(config_for(ca, f"127.0.0.1:{port}"))
    assert one_line(exc_info) == f"PuppetDB at https://127.0.0.1:{port} refused the connection"


def test_unknown_host(ca):
    with pytest.raises(DiscoveryError, match=r"^PuppetDB at https://puppetdb\.invalid:8081: unknown host "
                                             r"puppetdb\.invalid") as exc_info:
        discover(config_for(ca, "puppetdb.invalid"))
    one_line(exc_info)


def test_a_server_certificate_from_another_ca_is_refused(ca, tmp_path):
    other = Pki(tmp_path / "other")
    other.issue("localhost")
    server = stand_in_for(other, client_ca=ca)
    try:
        with pytest.raises(DiscoveryError, match="its certificate is not trusted: .*certificate") as exc_info:
            discover(config_for(ca, f"localhost:{server.port}"))
    finally:
        server.close()
    one_line(exc_info)
    assert server.requests == []


def test_a_revoked_server_certificate_is_refused(tmp_path):
    pki = Pki(tmp_path / "ssl")
    pki.issue(ADMIN)
    cert, _ = pki.issue("localhost")
    server = stand_in_for(pki)
    try:
        assert discover(config_for(pki, f"localhost:{server.port}")) == []
        pki.revoke(cert)
        with pytest.raises(DiscoveryError, match="not trusted: certificate revoked") as exc_info:
            discover(config_for(pki, f"localhost:{server.port}"))
    finally:
        server.close()
    one_line(exc_info)
    assert len(server.requests) == 1


def test_the_host_name_is_checked(ca):
    server = stand_in_for(ca, name="elsewhere.example.test")
    try:
        with pytest.raises(DiscoveryError, match="not trusted: Hostname mismatch") as exc_info:
            discover(config_for(ca, f"localhost:{server.port}"))
    finally:
        server.close()
    one_line(exc_info)
    assert server.requests == []


def test_a_client_certificate_puppetdb_does_not_trust(ca, tmp_path):
    other = Pki(tmp_path / "other")
    server = stand_in_for(ca, client_ca=other)
    try:
        with pytest.raises(DiscoveryError, match="TLS failed .*does PuppetDB trust our certificate") as exc_info:
            discover(config_for(ca, f"localhost:{server.port}"))
    finally:
        server.close()
    one_line(exc_info)
    assert server.requests == []


@pytest.mark.parametrize("setting", ["x509.cert", "x509.private_key", "x509.ca"])
def test_missing_certificate_files(ca, pdb, tmp_path, setting):
    missing = str(tmp_path / "nothing.pem")
    with pytest.raises(DiscoveryError, match=f"needs the Puppet certificate files: plugin.{setting} {missing} "
                                             "does not exist") as exc_info:
        discover(config_for(ca, f"localhost:{pdb.port}", **{setting: missing}))
    one_line(exc_info)


def test_an_explicit_crl_must_exist(ca, pdb, tmp_path):
    missing = str(tmp_path / "crl.pem")
    with pytest.raises(DiscoveryError, match=f"cannot read the CRL {missing}") as exc_info:
        discover(config_for(ca, f"localhost:{pdb.port}", **{"x509.crl": missing}))
    one_line(exc_info)


def test_a_key_that_is_not_the_certificates(ca, pdb):
    wrong_key = str(ca.ssldir / "private_keys/localhost.pem")
    with pytest.raises(DiscoveryError, match="cannot use the Puppet certificate") as exc_info:
        discover(config_for(ca, f"localhost:{pdb.port}", **{"x509.private_key": wrong_key}))
    one_line(exc_info)


def test_an_explicit_timeout_bounds_a_slow_puppetdb(ca, pdb):
    pdb.delay = 1.5
    start = time.monotonic()
    with pytest.raises(DiscoveryError, match="did not answer in time") as exc_info:
        discover(config_for(ca, f"localhost:{pdb.port}"), timeout=0.3, explicit=True)
    assert time.monotonic() - start < 1.2
    one_line(exc_info)


def test_without_an_explicit_timeout_the_methods_own_default_applies(ca, pdb):
    pdb.delay = 0.6  # longer than the 0.3 s the request carries, well within DEFAULT_TIMEOUT
    pdb.answer = lambda query: (200, rows("slow.example.test"))
    assert discover(config_for(ca, f"localhost:{pdb.port}"), timeout=0.3) == ["slow.example.test"]


# ------------------------------------------------------------------ through mco

def mco(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    python = os.path.dirname(sys.executable)
    return subprocess.run([os.path.join(python, "mco"), *args, "--config", str(config_file)],
                          capture_output=True, text=True, timeout=60)


def client_cfg(tmp_path: Path, pki: Pki, server: str) -> Path:
    path = tmp_path / "client.cfg"
    path.write_text(f"identity = {ADMIN}\ncollectives = mcollective,dc_east\nconnector = rabbitmq\n"
                    "securityprovider = psk\nplugin.psk = not-used-by-discovery\n"
                    f"plugin.x509.ssldir = {pki.ssldir}\nplugin.x509.certname = {ADMIN}\n"
                    f"plugin.puppetdb.server = {server}\n")
    path.chmod(0o600)
    return path


def test_mco_find_with_a_psk_collective(ca, pdb, tmp_path):
    pdb.answer = lambda query: (200, rows("b.example.test", "a.example.test"))
    result = mco(client_cfg(tmp_path, ca, f"localhost:{pdb.port}"), "find", "--dm", "puppetdb",
                 "-F", "os.family=Debian", "-C", "/apache/")
    assert (result.returncode, result.stdout) == (0, "a.example.test\nb.example.test\n"), result.stderr
    flt = Filter()
    flt.add_fact("os.family=Debian")
    flt.add_class("/apache/")
    assert pdb.queries == [pql.query(flt, collective="mcollective")]


@pytest.mark.parametrize("args, collective", [([], "mcollective"), (["-T", "dc_east"], "dc_east"),
                                              (["--target", "mcollective"], "mcollective")])
def test_mco_find_asks_for_the_nodes_of_the_requests_collective(ca, pdb, tmp_path, args, collective):
    pdb.answer = lambda query: (200, rows("a.example.test"))
    result = mco(client_cfg(tmp_path, ca, f"localhost:{pdb.port}"), "find", "--dm", "puppetdb", "-C", "apache", *args)
    assert (result.returncode, result.stdout) == (0, "a.example.test\n"), result.stderr
    assert pdb.queries == [
        'nodes[certname] { node_state = "active" and '
        f'(resources {{ type = "Class" and title = "Pymco" and parameters.collectives = ["{collective}"] }} or '
        '!(resources { type = "Class" and title = "Pymco" })) and '
        '(resources { type = "Class" and title = "Apache" }) }']


def test_mco_prints_a_failure_in_one_line(ca, pdb, tmp_path):
    pdb.answer = lambda query: (400, b"Unrecognized column 'facts.x' specified")
    result = mco(client_cfg(tmp_path, ca, f"localhost:{pdb.port}"), "find", "--dm", "puppetdb")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(f"PuppetDB at https://localhost:{pdb.port} answered 400 Bad Request: "
                                          "Unrecognized column 'facts.x' specified")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_python_api_discovers_from_puppetdb(ca, pdb):
    from pymco.api import Client

    pdb.answer = lambda query: (200, rows("db2.example.test", "db1.example.test"))
    config = config_for(ca, f"localhost:{pdb.port}")
    config.settings["collectives"] = ["mcollective"]
    with Client("rpcutil", config, discovery_method="puppetdb") as client:
        client.fact_filter("role", "db").identity_filter("/^db/")
        assert client.discover() == ["db1.example.test", "db2.example.test"]
    flt = Filter()
    flt.add_fact("role=db")
    flt.add_identity("/^db/")
    assert pdb.queries == [pql.query(flt, collective="mcollective")]
