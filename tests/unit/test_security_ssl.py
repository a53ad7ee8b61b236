"""The ssl provider (MCollective 2.12's ssl plugin) and its Ruby-compatible YAML codec.

Wire compatibility with the real Ruby plugin is proven in
tests/interop/test_ruby_ssl.py; here Ruby itself (Psych, OpenSSL) checks the
YAML and the signature format, and every refusal path is exercised.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from pymco.config import Config
from pymco.errors import ConfigError, DecodeError, SecurityError, SecurityValidationFailed
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request, rpc_body
from pymco.security import rubyyaml
from pymco.security.ssl import SslSecurity
from tests.support.pki import rsa_pair

RUBY = shutil.which("ruby")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("sslkeys")
    server_private, server_public = rsa_pair(root / "server", "server-public")
    alice_private, alice_public = rsa_pair(root / "alice", "alice")
    clients = root / "clients"
    clients.mkdir()
    shutil.copy(alice_public, clients / "alice.pem")
    return {"server_private": server_private, "server_public": server_public, "clients": clients,
            "alice_private": alice_private, "alice_public": alice_public, "root": root}


def ssl(keys, client, serializer="marshal", **extra):
    if client:
        conf = {"ssl_server_public": keys["server_public"], "ssl_client_private": keys["alice_private"],
                "ssl_client_public": keys["alice_public"]}
    else:
        conf = {"ssl_server_public": keys["server_public"], "ssl_server_private": keys["server_private"],
                "ssl_client_cert_dir": keys["clients"]}
    conf["ssl_serializer"] = serializer
    conf.update(extra)
    return SslSecurity(Config(settings={"identity": "n1"}, pluginconf={k: str(v) for k, v in conf.items()}),
                       client=client)


def request(**changes):
    req = Request(agent="rpcutil", collective="mcollective", filter={"agent": ["rpcutil"]},
                  body=rpc_body("rpcutil", "ping", "cert=alice", {}))
    for key, value in changes.items():
        setattr(req, key, value)
    return req


@pytest.mark.parametrize("serializer", ["marshal", "yaml"])
def test_round_trip(keys, serializer):
    client, server = ssl(keys, True, serializer), ssl(keys, False, serializer)
    assert client.callerid() == "cert=alice" and server.callerid() == "cert=server-public"
    req = request()
    got = server.decode_request(client.encode_request(req))
    assert (got.callerid, got.ttl, got.msgtime, got.body) == ("cert=alice", req.ttl, req.msgtime, req.body)
    reply = client.decode_reply(server.encode_reply(Reply(senderid="n1", requestid=got.requestid,
                                                          senderagent="rpcutil", body={"a": [1, b"\xff"]}), got))
    assert reply.body == {"a": [1, b"\xff"]}


def test_wire_format_is_the_ruby_plugins(keys):
    """:body = Marshal({:ssl_msg, :ssl_ttl, :ssl_msgtime}), :hash = Base64.encode64(RSA-SHA1 signature)."""
    payload = ssl(keys, True).encode_request(request(ttl=42))
    outer = marshal.loads(payload)
    inner = marshal.loads(outer[Symbol("body")])
    assert set(inner) == {"ssl_msg", "ssl_ttl", "ssl_msgtime"} and inner[Symbol("ssl_ttl")] == 42
    assert outer[Symbol("callerid")] == "cert=alice" and outer[Symbol("ttl")] == 42
    assert all(len(line) <= 60 for line in outer[Symbol("hash")].splitlines())
    if RUBY:
        script = ("require 'openssl'; require 'base64'; k = OpenSSL::PKey::RSA.new(File.read(ARGV[0])); "
                  "d = Marshal.load(STDIN.read); "
                  "puts k.verify(OpenSSL::Digest::SHA1.new, Base64.decode64(d[:hash]), d[:body])")
        proc = subprocess.run([RUBY, "-e", script, str(keys["alice_public"])], input=payload, capture_output=True,
                              timeout=60)
        assert proc.stdout.strip() == b"true", proc.stderr


def test_tampered_secure_properties_are_refused(keys):
    client, server = ssl(keys, True), ssl(keys, False)
    for field in ("ttl", "msgtime"):
        outer = marshal.loads(client.encode_request(request()))
        outer[Symbol(field)] += 100
        with pytest.raises(SecurityValidationFailed, match="possible tampering") as exc:
            server.decode_request(marshal.dumps(outer))
        assert exc.value.counter == "tampered"


def test_enforce_ttl_0_only_warns_and_keeps_the_signed_values(keys, caplog):
    client, lax = ssl(keys, True), ssl(keys, False, **{"ssl.enforce_ttl": "0"})
    req = request(ttl=30)
    outer = marshal.loads(client.encode_request(req))
    outer[Symbol("ttl")] = 9999
    with caplog.at_level(logging.WARNING, logger="pymco.security.ssl"):
        got = lax.decode_request(marshal.dumps(outer))
    assert got.ttl == 30
    assert "TTL does not match encrypted TTL" in caplog.text


def test_missing_secure_ttl_is_refused(keys):
    client, server = ssl(keys, True), ssl(keys, False)
    outer = marshal.loads(client.encode_request(request()))
    inner = {Symbol("ssl_msg"): "x", Symbol("ssl_msgtime"): outer[Symbol("msgtime")]}
    outer[Symbol("body")] = marshal.dumps(inner)
    outer[Symbol("hash")] = client._sign(outer[Symbol("body")])
    with pytest.raises(SecurityValidationFailed, match="does not have a secure TTL"):
        server.decode_request(marshal.dumps(outer))


def test_refusals_name_their_counters(keys, tmp_path):
    client, server = ssl(keys, True), ssl(keys, False)
    good = marshal.loads(client.encode_request(request()))
    cases = []
    unsigned = dict(good)
    del unsigned[Symbol("hash")]
    cases.append((unsigned, "unsigned"))
    bad_sig = dict(good)
    bad_sig[Symbol("body")] = bad_sig[Symbol("body")] + b"x"
    cases.append((bad_sig, "tampered"))
    for callerid in ("cert=bob", "uid=0", "cert=../alice"):
        other = dict(good)
        other[Symbol("callerid")] = callerid
        cases.append((other, "untrusted"))
    for outer, name in cases:
        with pytest.raises(SecurityValidationFailed) as exc:
            server.decode_request(marshal.dumps(outer))
        assert exc.value.counter == name, (outer.get(Symbol("callerid")), exc.value)
    forged_reply = ssl(keys, False).encode_reply(Reply("n1", "r", "rpcutil", {}), request())
    outer = marshal.loads(forged_reply)
    outer[Symbol("body")] = marshal.dumps({"forged": True})
    with pytest.raises(SecurityValidationFailed):
        client.decode_reply(marshal.dumps(outer))


def test_replaced_client_key_takes_effect(keys, tmp_path):
    client, server = ssl(keys, True), ssl(keys, False)
    payload = client.encode_request(request())
    server.decode_request(payload)
    original = (keys["clients"] / "alice.pem").read_bytes()
    _, other_public = rsa_pair(tmp_path, "alice")
    try:
        (keys["clients"] / "alice.pem").write_bytes(other_public.read_bytes() + b"\n")
        with pytest.raises(SecurityValidationFailed, match="invalid signature"):
            server.decode_request(payload)
    finally:
        (keys["clients"] / "alice.pem").write_bytes(original)


def test_environment_overrides_the_client_key(keys, monkeypatch, tmp_path):
    private, public = rsa_pair(tmp_path, "carol")
    monkeypatch.setenv("MCOLLECTIVE_SSL_PRIVATE", str(private))
    monkeypatch.setenv("MCOLLECTIVE_SSL_PUBLIC", str(public))
    assert ssl(keys, True).callerid() == "cert=carol"


def test_configuration_errors(keys, tmp_path):
    with pytest.raises(ConfigError, match="No plugin.ssl_client_private configuration option specified"):
        ssl(keys, True, ssl_client_private="")
    with pytest.raises(ConfigError, match="No plugin.ssl_client_cert_dir"):
        ssl(keys, False, ssl_client_cert_dir="")
    with pytest.raises(ConfigError, match="marshal or yaml"):
        ssl(keys, True, "json")
    with pytest.raises(SecurityError, match="cannot read ssl private key"):
        ssl(keys, True, ssl_client_private=tmp_path / "absent.pem")
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(SecurityError, match="not an RSA key"):
        ssl(keys, True, ssl_client_private=ec_key)
    (tmp_path / "public-junk.pem").write_text("junk")
    with pytest.raises(SecurityError, match="not a PEM public key"):
        ssl(keys, True, ssl_server_public=tmp_path / "public-junk.pem")


# ------------------------------------------------------------------ YAML codec

def test_yaml_reads_what_psych_writes():
    if not RUBY:
        pytest.fail("ruby is not installed; run .ci/run (it installs the test dependencies)")
    script = ('require "yaml"; print YAML.dump({:body => "x\\xff".b, :sym => :"a b", :empty => :"", '
              '"s" => ":not_a_symbol", :list => [1, 2.5, nil, true, "yes"], :re => /ab+c/})')
    out = subprocess.run([RUBY, "-e", script], capture_output=True, text=True, timeout=60, check=True).stdout
    data = rubyyaml.loads(out)
    assert data["body"] == b"x\xff" and type(list(data)[0]) is Symbol
    assert data["sym"] == "a b" and type(data["sym"]) is Symbol and data["empty"] == ""
    assert data["s"] == ":not_a_symbol" and type(data["s"]) is str
    assert data["list"] == [1, 2.5, None, True, "yes"]
    assert data["re"] == "/ab+c/"


def test_psych_safe_load_reads_what_we_write():
    if not RUBY:
        pytest.fail("ruby is not installed; run .ci/run (it installs the test dependencies)")
    value = {Symbol("body"): "x", "k": [Symbol("a b"), ":s", "1,000", "yes", "2020-01-01", "a: b", b"\xff\x00",
                                       "héllo\nworld", None, True, -3, 2.5, "~", "null", "0x1f"]}
    script = ('require "yaml"; d = YAML.safe_load(STDIN.read, permitted_classes: [Symbol, Regexp]); '
              'print Marshal.dump(d)')
    proc = subprocess.run([RUBY, "-e", script], input=rubyyaml.dumps(value).encode(), capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert marshal.loads(proc.stdout) == value
    back = marshal.loads(proc.stdout)
    assert type(list(back)[0]) is Symbol and type(back["k"][0]) is Symbol and type(back["k"][1]) is str


@pytest.mark.parametrize("document,why", [
    ("a: &x [1]\nb: *x\n", "aliases"),
    ("--- !ruby/object:Gem::Installer\ni: x\n", "invalid YAML"),
    ("--- !!python/object/apply:os.system ['true']\n", "invalid YAML"),
    ("[" * 200 + "]" * 200, "nested"),
    ("key: [unclosed\n", "invalid YAML"),
    ("--- !binary '###'\n", "not base64"),
])
def test_hostile_yaml_is_refused(document, why):
    with pytest.raises(DecodeError, match=why):
        rubyyaml.loads(document)


def test_non_utf8_yaml_is_refused():
    with pytest.raises(DecodeError, match="UTF-8"):
        rubyyaml.loads(b"\xff\xfe")


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**62, 2**62), st.text(max_size=30),
                     st.binary(max_size=20), st.text(min_size=1, max_size=10).map(Symbol))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8) | st.text(min_size=1, max_size=8).map(Symbol), inner, max_size=4), max_leaves=20)


def _normal(value):
    """bytes that are UTF-8 come back as str (Psych does the same for valid UTF-8 binary strings)."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


@settings(max_examples=300, deadline=None)
@given(_values)
def test_yaml_round_trip_keeps_types(value):
    back = rubyyaml.loads(rubyyaml.dumps(value))
    assert back == _normal(value)
    if isinstance(value, dict):
        assert [type(k) for k in back] == [type(k) for k in value]


def test_signature_is_base64_with_ruby_line_breaks(keys):
    sig = ssl(keys, True)._sign(b"data")
    assert sig.endswith("\n") and base64.b64decode(sig)


def test_world_readable_private_key_is_warned_about(keys, tmp_path, caplog):
    private, public = rsa_pair(tmp_path, "loose")
    private.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="pymco.security.keys"):
        ssl(keys, True, ssl_client_private=private, ssl_client_public=public)
    assert "readable by every user" in caplog.text
    caplog.clear()
    private.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="pymco.security.keys"):
        ssl(keys, True, ssl_client_private=private, ssl_client_public=public)
    assert "readable by every user" not in caplog.text
