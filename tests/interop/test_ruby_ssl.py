"""Issue 6 interop: MCollective 2.12's `ssl` security plugin between Ruby and pymco.

Debian's Ruby `mco` (ssl plugin, client key pair, the shared server public
key) drives a pymcod node, and pymco's `mco` drives a Ruby `mcollectived`
using the same plugin; keys are generated in the test.  Both serializers are
covered: Marshal as shipped, and YAML, for which Ruby needs a shim: the
plugin calls `YAML.safe_load(msg, [Symbol, Regexp])`, the Psych 3 signature,
which Debian 12's Ruby 3.1 (Psych 4) rejects with ArgumentError, so the YAML
tests load `psych_compat.rb` through RUBYOPT to accept that call.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from pymco.config import Config
from pymco.connector.stomp_import import stomp
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Request, rpc_body
from pymco.security.ssl import SslSecurity
from tests.support.cluster import BROKER
from tests.support.pki import rsa_pair
from tests.support.ruby import RubyNode, ruby_client_config, ruby_mco

pytestmark = pytest.mark.interop

PSYCH_COMPAT = """\
# Debian 12's Psych 4 dropped safe_load's positional permitted-classes argument,
# which MCollective 2.12's ssl plugin still passes; accept it again (tests only).
require 'yaml'
module Psych
  class << self
    alias_method :pymcotest_safe_load, :safe_load
    def safe_load(yaml, legacy_permitted = nil, *rest, **kwargs)
      kwargs[:permitted_classes] ||= legacy_permitted if legacy_permitted.is_a?(Array)
      pymcotest_safe_load(yaml, **kwargs)
    end
  end
end
"""


def make_keys(directory):
    server_private, server_public = rsa_pair(directory / "server", "server")
    alice_private, alice_public = rsa_pair(directory / "alice", "alice")
    bob_private, bob_public = rsa_pair(directory / "bob", "bob")
    clients = directory / "clients"
    clients.mkdir()
    shutil.copy(alice_public, clients / "alice.pem")
    return {
        "server": {"securityprovider": "ssl", "plugin.ssl_server_private": str(server_private),
                   "plugin.ssl_server_public": str(server_public), "plugin.ssl_client_cert_dir": str(clients)},
        "alice": {"securityprovider": "ssl", "plugin.ssl_server_public": str(server_public),
                  "plugin.ssl_client_private": str(alice_private), "plugin.ssl_client_public": str(alice_public)},
        "bob": {"securityprovider": "ssl", "plugin.ssl_server_public": str(server_public),
                "plugin.ssl_client_private": str(bob_private), "plugin.ssl_client_public": str(bob_public)},
    }


def ssl_collective(cluster, directory, serializer, monkeypatch_env=None):
    keys = make_keys(directory / "keys")
    extra = {"plugin.ssl_serializer": serializer}
    py = cluster.add_node(f"pyssl-{serializer}", **keys["server"], **extra)
    py.wait_started()
    rb = RubyNode(f"rbssl-{serializer}", directory / "rb", cluster.collectives,
                  settings={**keys["server"], **extra}).start()
    rb.wait_started()
    return {
        "py": py, "rb": rb, "keys": keys,
        "ruby_alice": ruby_client_config(directory / "ruby-alice" / "client.cfg", cluster.collectives,
                                         {**keys["alice"], **extra}),
        "ruby_bob": ruby_client_config(directory / "ruby-bob" / "client.cfg", cluster.collectives,
                                       {**keys["bob"], **extra}),
        "py_alice": cluster.write_client(f"ssl-{serializer}-alice.cfg", **keys["alice"], **extra),
    }


def _mkdirs(*paths):
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def marshal_fleet(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(name="sslmarshal")
    directory = tmp_path_factory.mktemp("ssl-marshal")
    _mkdirs(directory / "ruby-alice", directory / "ruby-bob")
    fleet = ssl_collective(cluster, directory, "marshal")
    yield cluster, fleet
    fleet["rb"].stop()


@pytest.fixture(scope="module")
def yaml_fleet(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(name="sslyaml")
    directory = tmp_path_factory.mktemp("ssl-yaml")
    _mkdirs(directory / "ruby-alice", directory / "ruby-bob")
    shim = directory / "psych_compat.rb"
    shim.write_text(PSYCH_COMPAT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUBYOPT", f"-r{shim}")
        fleet = ssl_collective(cluster, directory, "yaml")
    fleet["rubyopt"] = f"-r{shim}"
    yield cluster, fleet
    fleet["rb"].stop()


def py_stats(cluster, fleet):
    result = cluster.mco("rpc", "rpcutil", "daemon_stats", "-I", fleet["py"].identity, "--json",
                         config=fleet["py_alice"])
    assert result.rc == 0, result
    return json.loads(result.out)[0]["data"]


# ------------------------------------------------------------------ Marshal

def test_ruby_mco_ssl_pings_pymcod_and_ruby(marshal_fleet):
    cluster, fleet = marshal_fleet
    result = ruby_mco("ping", config=fleet["ruby_alice"])
    assert result.rc == 0, result
    assert fleet["py"].identity in result.out and fleet["rb"].identity in result.out, result


def test_ruby_mco_ssl_drives_pymcod(marshal_fleet):
    cluster, fleet = marshal_fleet
    result = ruby_mco("rpc", "rpcutil", "inventory", "-I", fleet["py"].identity, "--json",
                      config=fleet["ruby_alice"])
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == fleet["py"].identity and reply["statuscode"] == 0
    assert "rpcutil" in reply["data"]["agents"]
    assert "signed by cert=alice" in fleet["py"].log()


def test_pymco_mco_ssl_drives_ruby_mcollectived(marshal_fleet):
    cluster, fleet = marshal_fleet
    result = cluster.mco("rpc", "rpcutil", "ping", "-I", fleet["rb"].identity, "--json", config=fleet["py_alice"])
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == fleet["rb"].identity and reply["statuscode"] == 0
    ping = cluster.mco("ping", config=fleet["py_alice"])
    assert fleet["rb"].identity in ping.out and fleet["py"].identity in ping.out, ping
    assert "cert=alice" in fleet["rb"].log()


def test_unknown_ruby_client_key_is_refused_by_pymcod(marshal_fleet):
    cluster, fleet = marshal_fleet
    before = py_stats(cluster, fleet)
    result = ruby_mco("rpc", "rpcutil", "ping", "-I", fleet["py"].identity, "--dt", "2", "-t", "3",
                      config=fleet["ruby_bob"])
    assert result.rc != 0 and "No response from" in result.out, result
    after = py_stats(cluster, fleet)
    assert after["untrusted"] > before["untrusted"] and after["unvalidated"] > before["unvalidated"]
    assert "Could not find a public key for bob" in fleet["py"].log()


def test_tampered_ssl_ttl_is_refused_by_pymcod_and_ruby(marshal_fleet):
    """The signed :ssl_ttl must equal the envelope's :ttl in both implementations."""
    cluster, fleet = marshal_fleet
    alice = SslSecurity(Config(settings={"identity": "rawclient"},
                               pluginconf={k[len("plugin."):]: v for k, v in fleet["keys"]["alice"].items()
                                           if k.startswith("plugin.")}), client=True)
    conn = stomp.Connection12([(BROKER["host"], BROKER["port"])], vhost=BROKER["vhost"], auto_decode=False)
    conn.connect(BROKER["user"], BROKER["password"], wait=True)
    before = py_stats(cluster, fleet)
    try:
        for node in (fleet["py"], fleet["rb"]):
            req = Request(agent="rpcutil", collective=cluster.collective, filter={"agent": ["rpcutil"]},
                          body=rpc_body("rpcutil", "ping", alice.callerid(), {}))
            outer = marshal.loads(alice.encode_request(req))
            outer[Symbol("ttl")] = 3600
            conn.send(f"/exchange/{cluster.collective}_directed/{node.identity}", marshal.dumps(outer),
                      headers={"reply-to": "/temp-queue/ssltamper", "expiration": "70000"})
    finally:
        conn.disconnect()
    end = time.monotonic() + 15
    while "possible tampering" not in fleet["rb"].log() and time.monotonic() < end:
        time.sleep(0.2)
    assert "TTL does not match encrypted TTL - possible tampering" in fleet["rb"].log()
    after = py_stats(cluster, fleet)
    assert after["tampered"] == before["tampered"] + 1
    assert "possible tampering" in fleet["py"].log()


# ------------------------------------------------------------------ YAML

def test_ruby_mco_ssl_yaml_drives_pymcod(yaml_fleet, monkeypatch):
    cluster, fleet = yaml_fleet
    monkeypatch.setenv("RUBYOPT", fleet["rubyopt"])
    result = ruby_mco("rpc", "rpcutil", "inventory", "-I", fleet["py"].identity, "--json",
                      config=fleet["ruby_alice"])
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == fleet["py"].identity and reply["statuscode"] == 0
    assert "rpcutil" in reply["data"]["agents"]
    ping = ruby_mco("ping", config=fleet["ruby_alice"])
    assert fleet["py"].identity in ping.out and fleet["rb"].identity in ping.out, ping


def test_pymco_mco_ssl_yaml_drives_ruby_mcollectived(yaml_fleet):
    cluster, fleet = yaml_fleet
    result = cluster.mco("rpc", "rpcutil", "get_fact", "fact=role", "-I", fleet["rb"].identity, "--json",
                         config=fleet["py_alice"])
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == fleet["rb"].identity and reply["statuscode"] == 0
    assert "De-Serializing using yaml" in fleet["rb"].log()
