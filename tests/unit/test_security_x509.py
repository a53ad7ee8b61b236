"""The x509 provider in-process: what is signed, what is checked, and the errors operators see.

The integration tests (tests/integration/test_x509_security.py) prove the
same on the real broker and daemon; these cover every branch quickly.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time

import pytest

from pymco.errors import ConfigError, MsgTTLExpired, SecurityError, SecurityValidationFailed
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request, new_requestid, rpc_body
from pymco.security.replay import ReplayCache
from pymco.security.x509 import DEFAULT_SERVER_CERTNAMES
from pymco.security.x509_paths import default_ssldir
from tests.support.pki import Pki, x509_provider

NODE = "node1.example.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = Pki(tmp_path_factory.mktemp("x509") / "ssl")
    for name in (NODE, "node2.example.test", "alice", "alice.mcollective"):
        ca.issue(name)
    return ca


provider = x509_provider


@pytest.fixture(scope="module")
def server(pki):
    return provider(pki.ssldir, NODE, client=False)


@pytest.fixture(scope="module")
def alice(pki):
    return provider(pki.ssldir, "alice")


def request(**changes):
    req = Request(agent="rpcutil", collective="mcollective", filter={"agent": ["rpcutil"], "fact": []},
                  body=rpc_body("rpcutil", "get_fact", "cert=alice", {"fact": "role"}))
    for key, value in changes.items():
        setattr(req, key, value)
    return req


def counter(exc_info):
    return getattr(exc_info.value, "counter", None)


def test_round_trip_takes_callerid_from_the_certificate(server, alice):
    req = request()
    got = server.decode_request(alice.encode_request(req))
    assert (got.agent, got.collective, got.requestid, got.ttl, got.msgtime) == \
        (req.agent, req.collective, req.requestid, req.ttl, req.msgtime)
    assert got.callerid == "cert=alice" and alice.callerid() == "cert=alice"
    assert got.filter == req.filter and got.body == req.body
    reply = alice.decode_reply(server.encode_reply(
        Reply(senderid=NODE, requestid=got.requestid, senderagent="rpcutil", body={"x": 1}), got))
    assert reply.body == {"x": 1} and reply.callerid == f"cert={NODE}"


def test_envelope_is_mcollective_shaped_and_carries_the_certificate(alice):
    outer = marshal.loads(alice.encode_request(request()))
    for key in ("body", "senderid", "requestid", "filter", "collective", "agent", "callerid", "ttl", "msgtime",
                "hash", "cert"):
        assert Symbol(key) in outer
    assert outer[Symbol("cert")].startswith("-----BEGIN CERTIFICATE-----")
    signed = marshal.loads(outer[Symbol("body")])
    assert signed[Symbol("x509")] == "pymco-x509-request/1"


@pytest.mark.parametrize("field,value", [
    ("agent", "discovery"), ("collective", "other"), ("ttl", 3600), ("msgtime", 1), ("requestid", "0" * 32),
    ("filter", {}), ("callerid", "cert=root"), ("senderid", "elsewhere"), ("ttl", "60"),
])
def test_each_outer_field_is_covered(server, alice, field, value):
    outer = marshal.loads(alice.encode_request(request()))
    outer[Symbol(field)] = value
    with pytest.raises(SecurityValidationFailed) as exc:
        server.decode_request(marshal.dumps(outer))
    assert counter(exc) == "tampered"
    assert f":{field}" in str(exc.value)


@pytest.mark.parametrize("path", ["body.action", "body.data", "agent", "ttl", "msgtime", "filter", "requestid"])
def test_the_signed_part_cannot_be_changed(server, alice, path):
    outer = marshal.loads(alice.encode_request(request()))
    signed = marshal.loads(outer[Symbol("body")])
    if path == "body.action":
        signed[Symbol("body")][Symbol("action")] = "inventory"
    elif path == "body.data":
        signed[Symbol("body")][Symbol("data")][Symbol("fact")] = "secret"
    else:
        signed[Symbol(path)] = outer[Symbol(path)] = {"ttl": 999, "msgtime": 5, "filter": {},
                                                      "requestid": "f" * 32}.get(path, "discovery")
    outer[Symbol("body")] = marshal.dumps(signed)
    with pytest.raises(SecurityValidationFailed) as exc:
        server.decode_request(marshal.dumps(outer))
    assert counter(exc) == "tampered"


def test_unsigned_and_half_signed_messages(server, alice):
    outer = marshal.loads(alice.encode_request(request()))
    for missing in ("hash", "cert", "body"):
        broken = dict(outer)
        del broken[Symbol(missing)]
        with pytest.raises(SecurityValidationFailed) as exc:
            server.decode_request(marshal.dumps(broken))
        assert counter(exc) == "unsigned"
    broken = dict(outer)
    broken[Symbol("hash")] = "not base64 !!"
    with pytest.raises(SecurityValidationFailed) as exc:
        server.decode_request(marshal.dumps(broken))
    assert counter(exc) == "unsigned"


def test_a_reply_cannot_pass_as_a_request_or_the_reverse(pki, server, alice):
    reply = server.encode_reply(Reply(senderid=NODE, requestid=new_requestid(), senderagent="rpcutil", body={}),
                                request())
    with pytest.raises(SecurityValidationFailed):
        server.decode_request(reply)
    with pytest.raises(SecurityValidationFailed):
        alice.decode_reply(provider(pki.ssldir, "node2.example.test", client=False).encode_request(request()))


def test_replay_expiry_and_skew(pki, server, alice):
    payload = alice.encode_request(request())
    server.decode_request(payload)
    with pytest.raises(SecurityValidationFailed) as exc:
        server.decode_request(payload)
    assert counter(exc) == "replay"
    with pytest.raises(MsgTTLExpired):
        server.decode_request(alice.encode_request(request(msgtime=int(time.time()) - 61, ttl=60)))
    with pytest.raises(SecurityValidationFailed) as exc:
        server.decode_request(alice.encode_request(request(msgtime=int(time.time()) + 31)))
    assert counter(exc) == "clockskew"
    server.decode_request(alice.encode_request(request(msgtime=int(time.time()) + 25)))
    strict = provider(pki.ssldir, NODE, client=False, max_clock_skew=0)
    with pytest.raises(SecurityValidationFailed):
        strict.decode_request(alice.encode_request(request(msgtime=int(time.time()) + 5)))
    with pytest.raises(SecurityValidationFailed):
        server.decode_request(alice.encode_request(request(ttl=0)))


def test_replay_cache_forgets_only_expired_ids():
    cache = ReplayCache(limit=3)
    assert cache.check_and_add("a", expires=100, now=10)
    assert not cache.check_and_add("a", expires=100, now=50)
    assert cache.check_and_add("a", expires=200, now=101)  # the first one has expired: not a replay
    assert cache.check_and_add("b", 300, 102) and cache.check_and_add("c", 300, 103)
    with pytest.raises(SecurityValidationFailed) as exc:  # full of live ids: refuse rather than forget one
        cache.check_and_add("d", 300, 104)
    assert counter(exc) == "replay"
    assert cache.check_and_add("d", 400, 250)  # "a" expired at 200 and was pruned


def test_replay_journal_outlives_a_restart(tmp_path):
    path = tmp_path / "replay.journal"
    now = time.time()
    first = ReplayCache(path=str(path))
    assert first.check_and_add("seen-before-restart", now + 60, now)
    assert first.check_and_add("odd id\nwith \"quotes\"", now + 60, now)
    assert first.check_and_add("expired-by-then", now - 2, now)  # journalled, expired when read back
    assert path.stat().st_mode & 0o777 == 0o600
    with open(path, "a") as fh:
        fh.write('[17, "cut sh')  # a crash in the middle of a line
    second = ReplayCache(path=str(path))  # the daemon started again
    later = time.time()
    assert not second.check_and_add("seen-before-restart", now + 60, later)
    assert not second.check_and_add("odd id\nwith \"quotes\"", now + 60, later)
    assert second.check_and_add("expired-by-then", later + 60, later)
    assert second.check_and_add("new", later + 60, later)
    lines = path.read_text().splitlines()  # rewritten at start: live ids only, no broken line
    assert sorted(json.loads(line)[1] for line in lines) == sorted(
        ["seen-before-restart", "odd id\nwith \"quotes\"", "expired-by-then", "new"])


def test_replay_journal_is_rewritten_before_it_grows_unbounded(tmp_path):
    path = tmp_path / "replay.journal"
    cache = ReplayCache(path=str(path))
    for i in range(5000):  # each id expires at once: only the newest few are live
        assert cache.check_and_add(f"id{i}", expires=1000 + i + 1, now=1000 + i)
    assert len(path.read_text().splitlines()) <= 1001


def test_replay_journal_in_a_missing_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="plugin.x509.replay_cache .*No such file"):
        ReplayCache(path=str(tmp_path / "absent" / "replay.journal"))


def test_reply_must_come_from_a_server_certificate_for_its_sender(pki, alice):
    node2 = provider(pki.ssldir, "node2.example.test", client=False)
    user = provider(pki.ssldir, "alice", client=False)
    choria_user = provider(pki.ssldir, "alice.mcollective", client=False)
    rid = new_requestid()

    def reply(signer, senderid):
        return signer.encode_reply(Reply(senderid=senderid, requestid=rid, senderagent="rpcutil", body={}),
                                   request())

    assert alice.decode_reply(reply(node2, "node2.example.test")).senderid == "node2.example.test"
    for signer, senderid, why in [(node2, NODE, "signed by"), (user, "alice", "not a server certificate"),
                                  (choria_user, "alice.mcollective", "not a server certificate")]:
        with pytest.raises(SecurityValidationFailed, match=why):
            alice.decode_reply(reply(signer, senderid))
    for field, value in [("senderid", NODE), ("requestid", "0" * 32), ("senderagent", "x"), ("msgtime", 3)]:
        outer = marshal.loads(reply(node2, "node2.example.test"))
        outer[Symbol(field)] = value
        with pytest.raises(SecurityValidationFailed, match=f":{field}"):
            alice.decode_reply(marshal.dumps(outer))
    narrow = provider(pki.ssldir, "alice", server_certnames=r"node1\..*")
    with pytest.raises(SecurityValidationFailed, match="server_certnames"):
        narrow.decode_reply(reply(node2, "node2.example.test"))


@pytest.mark.parametrize("name,server", [("web1.example.com", True), ("db-2.prod.example.org", True),
                                         ("alice", False), ("alice.mcollective", False), ("", False)])
def test_default_server_certnames(name, server):
    import re

    assert bool(re.fullmatch(DEFAULT_SERVER_CERTNAMES, name)) is server


def test_unknown_ca_revoked_and_crl_reload(tmp_path, pki, server):
    other = Pki(tmp_path / "other", name="Puppet CA: elsewhere")
    other.issue("alice")
    with pytest.raises(SecurityValidationFailed, match="is not trusted by") as exc:
        server.decode_request(provider(other.ssldir, "alice").encode_request(request()))
    assert counter(exc) == "untrusted"
    cert, _ = pki.issue("dave")
    dave = provider(pki.ssldir, "dave")
    server.decode_request(dave.encode_request(request()))
    pki.revoke(cert)
    os.utime(pki.ssldir / "crl.pem", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    with pytest.raises(SecurityValidationFailed, match="is revoked") as exc:
        server.decode_request(dave.encode_request(request()))
    assert counter(exc) == "revoked"


def test_expired_and_not_yet_valid_certificates(tmp_path, server, pki):
    pki.issue("old", days=-1, not_before_days=-5)
    pki.issue("young", days=30, not_before_days=2)
    for name in ("old", "young"):
        with pytest.raises(SecurityValidationFailed) as exc:
            server.decode_request(provider(pki.ssldir, name).encode_request(request()))
        assert counter(exc) == "untrusted"


def test_intermediate_ca_chain_and_its_crl(tmp_path):
    root = Pki(tmp_path / "root", name="Puppet Root CA: test")
    inter = Pki(tmp_path / "ssl", name="Puppet CA: intermediate", parent=root)
    inter.issue(NODE)
    inter.issue("erin")
    cert, _ = inter.issue("frank")
    inter.revoke(cert)
    node = provider(inter.ssldir, NODE, client=False)
    node.decode_request(provider(inter.ssldir, "erin").encode_request(request()))
    with pytest.raises(SecurityValidationFailed) as exc:
        node.decode_request(provider(inter.ssldir, "frank").encode_request(request()))
    assert counter(exc) == "revoked"
    # a leaf issued straight by a root that is not in our bundle
    Pki(tmp_path / "stranger").issue("erin")
    with pytest.raises(SecurityValidationFailed):
        node.decode_request(provider(tmp_path / "stranger", "erin").encode_request(request()))


def test_configuration_errors_are_one_line(tmp_path, pki):
    with pytest.raises(SecurityError, match=r"plugin.x509.cert certificate .*nobody.pem"):
        provider(pki.ssldir, "nobody")
    with pytest.raises(ConfigError, match="server_certnames"):
        provider(pki.ssldir, "alice", server_certnames="(")
    with pytest.raises(ConfigError, match="max_clock_skew"):
        provider(pki.ssldir, "alice", max_clock_skew=-1)
    with pytest.raises(SecurityError, match="does not belong to the certificate"):
        provider(pki.ssldir, "alice", private_key=pki.ssldir / "private_keys" / f"{NODE}.pem")
    with pytest.raises(SecurityError, match="plugin.x509.crl"):
        provider(pki.ssldir, "alice", crl=tmp_path / "missing-crl.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    with pytest.raises(SecurityError, match="malformed CRL"):
        provider(pki.ssldir, "alice", crl=garbage)


def test_default_paths_follow_puppets_ssldir(pki):
    proc = subprocess.run(["puppet", "config", "print", "ssldir"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert default_ssldir() == proc.stdout.strip()
    explicit = provider(pki.ssldir, "alice")
    assert explicit.cert_path == str(pki.ssldir / "certs" / "alice.pem")
    assert explicit.key_path == str(pki.ssldir / "private_keys" / "alice.pem")
    assert explicit.ca.ca_path == str(pki.ssldir / "certs" / "ca.pem")
    assert explicit.ca.crl_path == str(pki.ssldir / "crl.pem")


def test_own_certificate_from_another_ca_is_warned_about(tmp_path, pki, caplog):
    mine = Pki(tmp_path / "mine")
    mine.issue("alice")
    with caplog.at_level(logging.WARNING, logger="pymco.security.x509"):
        provider(mine.ssldir, "alice", ca=pki.ssldir / "certs" / "ca.pem", crl=pki.ssldir / "crl.pem")
    assert "would be refused by our peers" in caplog.text
