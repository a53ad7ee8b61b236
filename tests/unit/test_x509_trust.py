"""The client's record of verified certificates (security/x509_trust.py): faster, and never more trusting.

A start that finds both its own and the node's certificate in the record must
not import cryptography.x509 at all (that is the whole gain, measured by
benchmarks/x509_startup.py); a new CRL, another CA bundle, a certificate
outside its validity window, or a record others may write must each fall back
to the full check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import serialization

from pymco.errors import SecurityValidationFailed
from pymco.protocol.message import Reply, Request, new_requestid
from pymco.security import keys
from pymco.security.x509_trust import Verified, VerifiedCertificates, canonical_pem
from tests.support.pki import Pki, cert_pem, x509_provider

NODE = "node1.example.test"

CLIENT = """
import json, sys
from pymco.config import Config
from pymco.errors import SecurityError
from pymco.security.x509 import X509Security
ssldir, record, payload = sys.argv[1:4]
try:
    alice = X509Security(Config(settings={"identity": "alice"}, pluginconf={
        "x509.ssldir": ssldir, "x509.certname": "alice", "x509.verified_cache": record}), client=True)
    outcome = alice.decode_reply(open(payload, "rb").read()).callerid
except SecurityError as exc:
    outcome = str(exc)
print(json.dumps([outcome, "cryptography.x509" in sys.modules]))
"""


@pytest.fixture
def pki(tmp_path):
    ca = Pki(tmp_path / "ssl")
    for name in (NODE, "alice"):
        ca.issue(name)
    return ca


provider = x509_provider


def reply_from(server) -> bytes:
    request = Request(agent="rpcutil", collective="mcollective", body="ping")
    return server.encode_reply(Reply(senderid=server.cn, requestid=new_requestid(), senderagent="rpcutil",
                                     body={"pong": 1}), request)


def client_run(ssldir, record, payload) -> list:
    """A fresh interpreter (nothing imported yet) starting an x509 client and checking one reply."""
    proc = subprocess.run([sys.executable, "-c", CLIENT, str(ssldir), str(record), str(payload)],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(proc.stdout)


def test_a_recorded_start_skips_cryptography_x509_until_the_crl_revokes_the_node(pki, tmp_path):
    record, payload = tmp_path / "cache" / "verified", tmp_path / "reply"
    node = provider(pki.ssldir, NODE, client=False)
    payload.write_bytes(reply_from(node))
    assert client_run(pki.ssldir, record, payload) == [f"cert={NODE}", True]  # full check, then recorded
    [anchor] = record.iterdir()
    assert len(list(anchor.iterdir())) == 2  # alice's own certificate and the node's
    assert {p.stat().st_mode & 0o777 for p in anchor.iterdir()} == {0o600}
    assert record.stat().st_mode & 0o777 == anchor.stat().st_mode & 0o777 == 0o700
    assert client_run(pki.ssldir, record, payload) == [f"cert={NODE}", False]  # signature check only
    pki.revoke(pki_cert(pki, NODE))
    outcome, imported = client_run(pki.ssldir, record, payload)
    assert "is revoked by" in outcome and imported


def pki_cert(pki, name):
    from cryptography import x509

    return x509.load_pem_x509_certificate((pki.ssldir / "certs" / f"{name}.pem").read_bytes())


def test_a_record_made_with_another_ca_bundle_does_not_apply(pki, tmp_path):
    record = tmp_path / "verified"
    node = provider(pki.ssldir, NODE, client=False)
    payload = reply_from(node)
    trusting = provider(pki.ssldir, "alice", verified_cache=record)
    assert trusting.decode_reply(payload).callerid == f"cert={NODE}"
    other = Pki(tmp_path / "other", name="Puppet CA: somebody else")
    other.issue("alice")
    stranger = provider(other.ssldir, "alice", verified_cache=record)
    with pytest.raises(SecurityValidationFailed, match="is not trusted by"):
        stranger.decode_reply(payload)


def test_entries_apply_only_inside_the_chains_validity_window(pki, tmp_path):
    record = VerifiedCertificates(str(tmp_path / "verified"))
    pem = (pki.ssldir / "certs" / f"{NODE}.pem").read_bytes()
    key = pki_cert(pki, NODE).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record.add(pem, Verified(NODE, key, 1000.0, 2000.0, "a" * 64, spki))
    assert record.get("a" * 64, pem, 1500.0).cn == NODE
    assert record.get("a" * 64, pem, 999.0) is None and record.get("a" * 64, pem, 2001.0) is None
    assert record.get("b" * 64, pem, 1500.0) is None
    assert record.get(None, pem, 1500.0) is None


def test_only_the_newest_anchors_are_kept(pki, tmp_path):
    record = VerifiedCertificates(str(tmp_path / "verified"))
    pem = (pki.ssldir / "certs" / f"{NODE}.pem").read_bytes()
    key = pki_cert(pki, NODE).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    for n, anchor in enumerate("0123456"):
        record.add(pem, Verified(NODE, key, 1000.0, 2000.0, anchor * 64, spki))
        os.utime(tmp_path / "verified" / (anchor * 64), (1e9 + n, 1e9 + n))
    assert sorted(p.name[0] for p in (tmp_path / "verified").iterdir()) == ["3", "4", "5", "6"]


def test_the_window_is_the_whole_chains(pki):
    """A leaf that outlives its CA is recorded only until the CA expires."""
    leaf, _ = pki.issue("long.example.test", days=3000, not_before_days=-3)
    verified = provider(pki.ssldir, NODE, client=False).ca.verify_pem(cert_pem(leaf))
    assert verified.not_after == pki.cert.not_valid_after_utc.timestamp() < leaf.not_valid_after_utc.timestamp()
    assert verified.not_before == pki.cert.not_valid_before_utc.timestamp() > leaf.not_valid_before_utc.timestamp()


@pytest.mark.parametrize("loose", ["record", "anchor", "entry"])
def test_a_record_others_may_write_is_not_used(pki, tmp_path, loose):
    record = tmp_path / "verified"
    first = provider(pki.ssldir, "alice", verified_cache=record)
    anchor, pem = first._inputs.current(), first._cert_pem.encode()
    assert VerifiedCertificates(str(record)).get(anchor, pem, time.time()).cn == "alice"
    [entry] = (record / anchor).iterdir()
    {"record": record, "anchor": record / anchor, "entry": entry}[loose].chmod(0o720)
    assert VerifiedCertificates(str(record)).get(anchor, pem, time.time()) is None


def test_a_damaged_entry_is_checked_again_and_replaced(pki, tmp_path):
    record = tmp_path / "verified"
    first = provider(pki.ssldir, "alice", verified_cache=record)
    [entry] = (record / first._inputs.current()).iterdir()
    entry.write_text("{not json")
    again = provider(pki.ssldir, "alice", verified_cache=record)
    assert again.callerid() == "cert=alice" and json.loads(entry.read_text())[0] == "alice"


def test_daemons_and_none_keep_no_record(pki, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    node = provider(pki.ssldir, NODE, client=False)
    node.decode_request(provider(pki.ssldir, "alice", verified_cache="none").encode_request(
        Request(agent="rpcutil", collective="mcollective", body="ping", filter={})))
    assert node._record is None
    assert not (tmp_path / "xdg").exists()
    assert provider(pki.ssldir, "alice")._record.folder == str(tmp_path / "xdg" / "pymco" / "x509-verified")


def test_canonical_pem_is_what_cryptography_writes(pki):
    cert = pki_cert(pki, "alice")
    wanted = cert.public_bytes(serialization.Encoding.PEM)
    body = b"".join(wanted.splitlines()[1:-1])
    rewrapped = (b"junk\r\n-----BEGIN CERTIFICATE-----\r\n"
                 + b"\r\n".join(body[i:i + 76] for i in range(0, len(body), 76))
                 + b"\r\n-----END CERTIFICATE-----\r\n" + cert_pem(cert))
    assert canonical_pem(rewrapped) == wanted
    assert canonical_pem(b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n") is None
    assert canonical_pem(b"no certificate") is None


def test_key_loaders_are_cryptographys_public_ones():
    """keys.py takes them from the Rust binding to skip importing the serialization package."""
    loaders = keys._loaders()
    assert loaders.load_pem_private_key is serialization.load_pem_private_key
    assert loaders.load_pem_public_key is serialization.load_pem_public_key
    assert loaders.load_der_public_key is serialization.load_der_public_key
