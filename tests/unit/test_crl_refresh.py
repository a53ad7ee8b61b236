"""The daemon's CRL refresh: only a CRL signed by our CA, never an older one, installed atomically.

The fetch itself is exercised against a real Puppet CA in tests/integration/test_puppetserver.py;
here `fetch` is replaced so each verification rule can be shown on its own.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from pymco.errors import SecurityError
from pymco.security.crl_refresh import CrlRefresher
from tests.support.pki import Pki


def crl_pem(pki: Pki, hours_ago: float, revoked: list[int]) -> bytes:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(pki.cert.subject)
               .last_update(now - dt.timedelta(hours=hours_ago)).next_update(now + dt.timedelta(days=3)))
    for serial in revoked:
        builder = builder.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(serial)
                                                  .revocation_date(now).build())
    return builder.sign(pki.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def setup(tmp_path):
    pki = Pki(tmp_path / "ssl")  # its crl.pem dates from an hour ago
    refresher = CrlRefresher("ca.example.test:8141", str(tmp_path / "ssl/certs/ca.pem"),
                             str(tmp_path / "ssl/crl.pem"), ("", ""), interval=60)
    return pki, refresher


def test_url_from_ca_server(setup):
    _, refresher = setup
    assert refresher.url == "https://ca.example.test:8141/puppet-ca/v1/certificate_revocation_list/ca"
    assert CrlRefresher("puppet", "", "", ("", ""), 1).url.startswith("https://puppet:8140/")


def test_a_newer_crl_is_installed_once(setup, monkeypatch):
    pki, refresher = setup
    newer = crl_pem(pki, 0.1, [42])
    monkeypatch.setattr(refresher, "fetch", lambda: newer)
    (pki.ssldir / "crl.pem").chmod(0o640)
    assert refresher.refresh() is True
    assert (pki.ssldir / "crl.pem").read_bytes() == newer
    assert (pki.ssldir / "crl.pem").stat().st_mode & 0o777 == 0o640
    assert refresher.refresh() is False


def test_an_older_crl_is_refused(setup, monkeypatch):
    pki, refresher = setup
    before = (pki.ssldir / "crl.pem").read_bytes()
    monkeypatch.setattr(refresher, "fetch", lambda: crl_pem(pki, 5, []))
    with pytest.raises(SecurityError, match="older than the one in crl.pem"):
        refresher.refresh()
    assert (pki.ssldir / "crl.pem").read_bytes() == before


def test_a_crl_of_another_ca_is_refused(setup, monkeypatch, tmp_path):
    pki, refresher = setup
    before = (pki.ssldir / "crl.pem").read_bytes()
    other = Pki(tmp_path / "other", name=pki.cert.subject.rfc4514_string().split("=", 1)[1])
    monkeypatch.setattr(refresher, "fetch", lambda: crl_pem(other, 0, []))
    with pytest.raises(SecurityError, match="invalid signature"):
        refresher.refresh()
    assert (pki.ssldir / "crl.pem").read_bytes() == before


def test_an_unreachable_ca_is_one_line(setup):
    _, refresher = setup
    refresher.url = "https://127.0.0.1:9/puppet-ca/v1/certificate_revocation_list/ca"
    with pytest.raises(SecurityError, match="refused|unreachable|Errno"):
        refresher.refresh()
