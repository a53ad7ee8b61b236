"""Issue 6: the x509 provider on the real broker, with certificates from a throwaway CA.

A pymcod node and the mco client use certificates issued in the test by a
Puppet-like CA (`tests.support.pki`).  Requests are crafted in the test and
published as raw STOMP frames with stomp.py: correctly signed ones are
served, every kind of bad one is refused and counted in rpcutil daemon_stats.
A fake responder on the broker forges replies that the real mco must reject.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from types import SimpleNamespace

import pytest

from pymco.config import Config
from pymco.connector.stomp_import import stomp
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request, new_requestid, rpc_body
from pymco.security.psk import PskSecurity
from pymco.security.x509 import X509Security
from tests.support.cluster import BROKER, PSK, wait_for
from tests.support.pki import Pki
from tests.support.subscribe import subscribe_confirmed

pytestmark = pytest.mark.integration

NODE = "x509n1.example.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    ca = Pki(root / "ssl")
    ca.issue(NODE)
    ca.issue("alice")
    mallory, _ = ca.issue("mallory")
    ca.revoke(mallory)
    ca.issue("stale", days=-1, not_before_days=-10)
    ca.issue("ghost.example.test")
    ca.issue("ghost2.example.test")
    other = Pki(root / "other", name="Puppet CA: somebody else")
    other.issue("alice")
    other.issue("evil.example.test")
    return SimpleNamespace(ca=ca, other=other)


@pytest.fixture(scope="module")
def node(cluster, pki, tmp_path_factory):
    journal = tmp_path_factory.mktemp("x509-replay") / "replay.journal"
    node = cluster.add_node(NODE, securityprovider="x509", **{"plugin.x509.ssldir": str(pki.ca.ssldir),
                                                              "plugin.x509.replay_cache": str(journal)})
    node.wait_started()
    return node


@pytest.fixture(scope="module")
def client_cfg(cluster, pki):
    return cluster.write_client("x509.cfg", securityprovider="x509", **{
        "plugin.x509.ssldir": str(pki.ca.ssldir), "plugin.x509.certname": "alice"})


def signer(ssldir, certname, **plugin):
    """An in-process x509 provider signing as `certname` (what a real client or node would send)."""
    pluginconf = {"x509.ssldir": str(ssldir), "x509.certname": certname}
    pluginconf.update({f"x509.{k}": v for k, v in plugin.items()})
    return X509Security(Config(settings={"identity": "rawclient"}, pluginconf=pluginconf), client=True)


class Raw:
    """A plain stomp.py connection: publishes crafted frames, collects what comes back to temp queues."""

    def __init__(self) -> None:
        self.frames: queue.Queue = queue.Queue()
        self.conn = stomp.Connection12([(BROKER["host"], BROKER["port"])], vhost=BROKER["vhost"],
                                       auto_decode=False)
        raw = self

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame):
                raw.frames.put(frame)

        self.conn.set_listener("raw", Listener())
        self.conn.connect(BROKER["user"], BROKER["password"], wait=True)

    def send(self, collective: str, payload: bytes, reply: str) -> None:
        self.conn.send(f"/exchange/{collective}_directed/{NODE}", payload,
                       headers={"reply-to": f"/temp-queue/{reply}", "expiration": "70000"})

    def replies(self, reply: str, wait: float) -> list[bytes]:
        got, end = [], time.monotonic() + wait
        while time.monotonic() < end:
            try:
                frame = self.frames.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            if reply in json.dumps({k: str(v) for k, v in frame.headers.items()}):
                got.append(frame.body)
        return got

    def close(self) -> None:
        self.conn.disconnect()


@pytest.fixture(scope="module")
def raw(cluster):
    conn = Raw()
    yield conn
    conn.close()


def stats(cluster, client_cfg):
    result = cluster.mco("rpc", "rpcutil", "daemon_stats", "-I", NODE, "--json", config=client_cfg)
    assert result.rc == 0, result
    return json.loads(result.out)[0]["data"]


def wait_counter(cluster, client_cfg, name, expected, timeout=15.0):
    end = time.monotonic() + timeout
    while True:
        current = stats(cluster, client_cfg)
        if current[name] >= expected:
            return current
        if time.monotonic() > end:
            raise AssertionError(f"daemon_stats {name} is {current[name]}, expected {expected}: {current}")
        time.sleep(0.3)


def request(cluster, **changes) -> Request:
    req = Request(agent="rpcutil", collective=cluster.collective,
                  body=rpc_body("rpcutil", "ping", "cert=alice", {}), filter={"agent": ["rpcutil"]})
    for key, value in changes.items():
        setattr(req, key, value)
    return req


def with_outer(payload: bytes, field: str, value) -> bytes:
    outer = marshal.loads(payload)
    outer[Symbol(field)] = value
    return marshal.dumps(outer)


def with_signed(payload: bytes, mutate) -> bytes:
    """Change the signed part itself (keeping the old signature)."""
    outer = marshal.loads(payload)
    signed = marshal.loads(outer[Symbol("body")])
    mutate(signed, outer)
    outer[Symbol("body")] = marshal.dumps(signed)
    return marshal.dumps(outer)


def refused(cluster, client_cfg, raw, payload, counter, node):
    before = stats(cluster, client_cfg)
    reply = "x509_" + new_requestid()[:12]
    raw.send(cluster.collective, payload, reply)
    after = wait_counter(cluster, client_cfg, counter, before[counter] + 1)
    assert raw.replies(reply, 1.0) == [], f"a refused ({counter}) request was answered"
    assert node.proc.poll() is None
    return after


# ------------------------------------------------------------------ served

def test_mco_with_certificates_is_served(cluster, node, client_cfg):
    result = cluster.mco("rpc", "rpcutil", "ping", "-I", NODE, "--json", config=client_cfg)
    assert result.rc == 0, result
    replies = json.loads(result.out)
    assert [r["sender"] for r in replies] == [NODE]
    assert replies[0]["statuscode"] == 0
    ping = cluster.mco("ping", config=client_cfg)
    assert NODE in ping.out, ping


def test_callerid_comes_from_the_certificate(cluster, node, client_cfg, pki, raw):
    reply = "x509_" + new_requestid()[:12]
    alice = signer(pki.ca.ssldir, "alice")
    req = request(cluster, body=rpc_body("rpcutil", "get_config_item", "cert=alice", {"item": "identity"}))
    raw.send(cluster.collective, alice.encode_request(req), reply)
    payloads = raw.replies(reply, 10.0)
    assert len(payloads) == 1
    answer = alice.decode_reply(payloads[0])
    assert answer.senderid == NODE and answer.callerid == f"cert={NODE}"
    assert answer.body[Symbol("statuscode")] == 0
    assert answer.body[Symbol("data")][Symbol("value")] == NODE
    assert "cert=alice" in node.log()


def test_correctly_signed_raw_request_is_answered_once_then_replay_refused(cluster, node, client_cfg, pki, raw):
    alice = signer(pki.ca.ssldir, "alice")
    payload = alice.encode_request(request(cluster))
    reply = "x509_" + new_requestid()[:12]
    before = stats(cluster, client_cfg)
    raw.send(cluster.collective, payload, reply)
    assert len(raw.replies(reply, 10.0)) == 1
    after = refused(cluster, client_cfg, raw, payload, "replay", node)
    assert after["replies"] >= before["replies"] + 1
    assert "is a replay" in node.log()


def test_replay_refused_after_the_daemon_restarted(cluster, node, client_cfg, pki, raw):
    alice = signer(pki.ca.ssldir, "alice")
    payload = alice.encode_request(request(cluster))
    reply = "x509_" + new_requestid()[:12]
    raw.send(cluster.collective, payload, reply)
    assert len(raw.replies(reply, 10.0)) == 1
    starts = node.log().count("started as")
    node.stop()
    node.start()
    wait_for(lambda: node.log().count("started as") > starts, timeout=20)
    refused(cluster, client_cfg, raw, payload, "replay", node)  # the journal remembered its id
    fresh = "x509_" + new_requestid()[:12]
    raw.send(cluster.collective, alice.encode_request(request(cluster)), fresh)
    assert len(raw.replies(fresh, 10.0)) == 1  # while new requests are served


# ------------------------------------------------------------------ refused

def test_unsigned_requests_are_refused(cluster, node, client_cfg, pki, raw):
    psk = PskSecurity(Config(settings={"identity": "rawclient"}, pluginconf={"psk": PSK}), client=True)
    refused(cluster, client_cfg, raw, psk.encode_request(request(cluster, callerid="uid=0")), "unsigned", node)
    alice = signer(pki.ca.ssldir, "alice")
    stripped = marshal.loads(alice.encode_request(request(cluster)))
    del stripped[Symbol("hash")]
    refused(cluster, client_cfg, raw, marshal.dumps(stripped), "unsigned", node)


OUTER_TAMPERING = [
    ("agent", "discovery"),
    ("collective", "someothercollective"),
    ("ttl", 3600),
    ("msgtime", None),          # one second earlier than signed
    ("requestid", None),        # a fresh id (what a replayer would try)
    ("filter", {"identity": ["somewhere.else"]}),
    ("callerid", "cert=root"),
    ("senderid", "spoofed.example.test"),
]


@pytest.mark.parametrize("field,value", OUTER_TAMPERING, ids=[f for f, _ in OUTER_TAMPERING])
def test_tampered_envelope_field_is_refused(cluster, node, client_cfg, pki, raw, field, value):
    alice = signer(pki.ca.ssldir, "alice")
    req = request(cluster)
    if field == "msgtime":
        value = req.msgtime - 1
    if field == "requestid":
        value = new_requestid()
    payload = with_outer(alice.encode_request(req), field, value)
    refused(cluster, client_cfg, raw, payload, "tampered", node)


def _set_action(signed, outer):
    signed[Symbol("body")][Symbol("action")] = "inventory"


def _set_data(signed, outer):
    signed[Symbol("body")][Symbol("data")][Symbol("item")] = "plugin.psk"


def _set_agent_both(signed, outer):
    signed[Symbol("agent")] = outer[Symbol("agent")] = "discovery"


def _set_ttl_both(signed, outer):
    signed[Symbol("ttl")] = outer[Symbol("ttl")] = 3600


def _set_filter_both(signed, outer):
    signed[Symbol("filter")] = outer[Symbol("filter")] = {}


def _set_collective_both(signed, outer):
    signed[Symbol("collective")] = outer[Symbol("collective")] = "someothercollective"


SIGNED_TAMPERING = [_set_action, _set_data, _set_agent_both, _set_ttl_both, _set_filter_both,
                    _set_collective_both]


@pytest.mark.parametrize("mutate", SIGNED_TAMPERING, ids=[m.__name__[5:] for m in SIGNED_TAMPERING])
def test_tampered_signed_part_is_refused(cluster, node, client_cfg, pki, raw, mutate):
    alice = signer(pki.ca.ssldir, "alice")
    req = request(cluster, body=rpc_body("rpcutil", "get_config_item", "cert=alice", {"item": "identity"}))
    refused(cluster, client_cfg, raw, with_signed(alice.encode_request(req), mutate), "tampered", node)


def test_expired_request_is_refused(cluster, node, client_cfg, pki, raw):
    alice = signer(pki.ca.ssldir, "alice")
    old = request(cluster, msgtime=int(time.time()) - 120, ttl=60)
    refused(cluster, client_cfg, raw, alice.encode_request(old), "ttlexpired", node)


def test_request_from_the_future_is_refused_beyond_the_skew(cluster, node, client_cfg, pki, raw):
    alice = signer(pki.ca.ssldir, "alice")
    future = request(cluster, msgtime=int(time.time()) + 3600, ttl=60)
    refused(cluster, client_cfg, raw, alice.encode_request(future), "clockskew", node)
    # within plugin.x509.max_clock_skew (default 30 s) a fast sender clock is tolerated
    reply = "x509_" + new_requestid()[:12]
    raw.send(cluster.collective, alice.encode_request(request(cluster, msgtime=int(time.time()) + 10)), reply)
    assert len(raw.replies(reply, 10.0)) == 1


def test_unknown_ca_is_refused(cluster, node, client_cfg, pki, raw):
    stranger = signer(pki.other.ssldir, "alice")
    refused(cluster, client_cfg, raw, stranger.encode_request(request(cluster)), "untrusted", node)
    assert "is not trusted by" in node.log()


def test_revoked_certificate_is_refused(cluster, node, client_cfg, pki, raw):
    mallory = signer(pki.ca.ssldir, "mallory")
    refused(cluster, client_cfg, raw, mallory.encode_request(request(cluster)), "revoked", node)
    assert "is revoked by" in node.log()


def test_expired_certificate_is_refused(cluster, node, client_cfg, pki, raw):
    stale = signer(pki.ca.ssldir, "stale")
    refused(cluster, client_cfg, raw, stale.encode_request(request(cluster)), "untrusted", node)


def test_certificate_revoked_while_running_is_refused(cluster, node, client_cfg, pki, raw):
    cert, key = pki.ca.issue("carol")
    carol = signer(pki.ca.ssldir, "carol")
    reply = "x509_" + new_requestid()[:12]
    raw.send(cluster.collective, carol.encode_request(request(cluster)), reply)
    assert len(raw.replies(reply, 10.0)) == 1
    time.sleep(0.01)
    pki.ca.revoke(cert)  # a new crl.pem: the node rereads it on the next message
    os.utime(pki.ca.ssldir / "crl.pem")
    refused(cluster, client_cfg, raw, carol.encode_request(request(cluster)), "revoked", node)


def test_client_record_of_verified_certificates_does_not_outlive_a_revocation(cluster, pki, tmp_path):
    """mco records the node's certificate after a full check; a new crl.pem revoking it must win."""
    name = "x509rec.example.test"
    cert, _ = pki.ca.issue(name)
    recorded = cluster.add_node(name, securityprovider="x509", **{"plugin.x509.ssldir": str(pki.ca.ssldir),
                                                                  "plugin.x509.crl_refresh_interval": "0"})
    recorded.wait_started()
    record = tmp_path / "cache" / "x509-verified"
    cfg = cluster.write_client("x509-record.cfg", securityprovider="x509", **{
        "plugin.x509.ssldir": str(pki.ca.ssldir), "plugin.x509.certname": "alice",
        "plugin.x509.verified_cache": str(record)})
    try:
        for _ in range(2):  # the first call checks and records both certificates, the second finds them
            result = cluster.mco("rpc", "rpcutil", "ping", "-I", name, "--json", config=cfg)
            assert result.rc == 0 and json.loads(result.out)[0]["sender"] == name, result
        [anchor] = record.iterdir()
        assert sorted(json.loads(entry.read_text())[0] for entry in anchor.iterdir()) == ["alice", name]
        pki.ca.revoke(cert)
        result = cluster.mco("rpc", "rpcutil", "ping", "-I", name, "--json", config=cfg)
        assert name not in result.out and "is revoked by" in result.err, result
    finally:
        recorded.stop()


def test_daemon_keeps_serving_and_logged_no_traceback(cluster, node, client_cfg):
    result = cluster.mco("rpc", "rpcutil", "ping", "-I", NODE, config=client_cfg)
    assert result.rc == 0, result
    assert "Traceback" not in node.log()


# ------------------------------------------------------------------ forged replies

class FakeResponder:
    """Answers discovery pings on the broker with replies signed by whatever certificates it is given."""

    def __init__(self, collective: str, answers) -> None:
        self.answers = answers
        self.seen = threading.Event()
        self.conn = stomp.Connection12([(BROKER["host"], BROKER["port"])], vhost=BROKER["vhost"],
                                       auto_decode=False)
        responder = self

        class Listener(stomp.ConnectionListener):
            def on_message(self, frame):
                responder.answer(frame)

        self.conn.set_listener("fake", Listener())
        self.conn.connect(BROKER["user"], BROKER["password"], wait=True)
        subscribe_confirmed(self.conn, f"/exchange/{collective}_broadcast/discovery", "fake-discovery")

    def answer(self, frame) -> None:
        outer = marshal.loads(frame.body)
        requestid = outer[Symbol("requestid")]
        target = frame.headers["reply-to"]
        for make in self.answers:
            self.conn.send(target, make(requestid), headers={"expiration": "30000"})
        self.seen.set()

    def close(self) -> None:
        self.conn.disconnect()


def forged(provider: X509Security, senderid: str, requestid: str) -> bytes:
    reply = Reply(senderid=senderid, requestid=requestid, senderagent="discovery", body="pong")
    return provider.encode_reply(reply, Request(agent="discovery", collective="x", body="ping"))


def test_forged_replies_are_rejected_by_the_client(cluster, node, client_cfg, pki):
    server_like = lambda name: X509Security(Config(settings={"identity": name}, pluginconf={  # noqa: E731
        "x509.ssldir": str(pki.ca.ssldir), "x509.certname": name}), client=False)
    alice = server_like("alice")
    ghost, ghost2 = server_like("ghost.example.test"), server_like("ghost2.example.test")
    evil = X509Security(Config(settings={"identity": "evil.example.test"}, pluginconf={
        "x509.ssldir": str(pki.other.ssldir), "x509.certname": "evil.example.test"}), client=False)
    psk = PskSecurity(Config(settings={"identity": "psk.example.test"}, pluginconf={"psk": PSK}), client=False)

    def tampered(requestid):
        payload = forged(ghost2, "ghost2.example.test", requestid)
        return with_outer(payload, "senderid", "tampered.example.test")

    answers = [
        lambda rid: forged(ghost, "ghost.example.test", rid),      # control: a genuine server certificate
        lambda rid: forged(alice, "alice", rid),                    # a user's certificate posing as a node
        lambda rid: forged(alice, "forged.example.test", rid),      # a user's certificate, another sender id
        lambda rid: forged(ghost, "impostor.example.test", rid),    # a server certificate, another node's id
        lambda rid: forged(evil, "evil.example.test", rid),         # a certificate of another CA
        tampered,                                                   # a genuine reply, altered
        lambda rid: psk.encode_reply(Reply(senderid="psk.example.test", requestid=rid, senderagent="discovery",
                                           body="pong"), Request(agent="discovery", collective="x", body="")),
    ]
    fake = FakeResponder(cluster.collective, answers)
    try:
        result = cluster.mco("ping", config=client_cfg)
    finally:
        fake.close()
    assert fake.seen.is_set(), "the fake responder never saw the discovery ping"
    assert result.rc == 0, result
    responders = {line.split()[0] for line in result.out.splitlines() if "time=" in line}
    assert responders == {NODE, "ghost.example.test"}, result
    assert result.err.count("failed verification") == 6, result
    assert "not a server certificate" in result.err
    assert "is not trusted by" in result.err


def test_reply_certnames_are_configurable(cluster, node, pki):
    """plugin.x509.server_certnames narrows which certificates may answer."""
    narrow = cluster.write_client("x509-narrow.cfg", securityprovider="x509", **{
        "plugin.x509.ssldir": str(pki.ca.ssldir), "plugin.x509.certname": "alice",
        "plugin.x509.server_certnames": r"web\d+\.example\.test"})
    result = cluster.mco("rpc", "rpcutil", "ping", "-I", NODE, "--json", config=narrow)
    assert "not a server certificate" in result.err, result
    assert NODE not in result.out, result


def test_missing_certificate_is_a_one_line_error(cluster, pki, tmp_path):
    broken = cluster.write_client("x509-missing.cfg", securityprovider="x509", **{
        "plugin.x509.ssldir": str(tmp_path), "plugin.x509.certname": "nobody"})
    result = cluster.mco("rpc", "rpcutil", "ping", config=broken)
    assert result.rc != 0
    assert "Traceback" not in result.err
    assert "plugin.x509.cert" in result.err and "nobody.pem" in result.err, result


def test_daemon_without_its_certificate_exits_with_a_one_line_error(cluster, pki):
    broken = cluster.add_node("x509broken.example.test", securityprovider="x509",
                              **{"plugin.x509.ssldir": str(pki.ca.ssldir)})
    assert broken.proc.wait(30) != 0
    log = broken.log()
    assert "plugin.x509.cert certificate" in log and "x509broken.example.test.pem" in log, log
    assert "Traceback" not in log
