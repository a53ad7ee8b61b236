"""Getting a certificate from the Puppet CA for an operator or a node (`mco enroll`).

What `puppet ssl bootstrap` does, without Puppet and without a server-side
key: the key is generated here and written 0600 before anything is sent, a
CSR for the certname is submitted to the CA's HTTP API
(`/puppet-ca/v1/certificate_request/NAME`), the certificate is polled for
until an admin signs it (or the CA autosigns), and the files land in
Puppet's ssldir layout, where the x509 provider looks: certs/ca.pem,
private_keys/NAME.pem, certs/NAME.pem and crl.pem.

The CA certificate is trusted on first use, as Puppet's agent does: when
certs/ca.pem is missing it is downloaded and its SHA-256 fingerprint is
reported so the user can compare it with the CA's (`puppetserver ca list`
prints none; `openssl x509 -fingerprint -sha256 -in ca_crt.pem` on the CA
does).  Every later request is verified against it.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from pymco.errors import PymcoError
from pymco.security import keys

log = logging.getLogger(__name__)

__all__ = ["EnrollError", "Enrolment", "enroll"]

_MAX = 1 << 20


class EnrollError(PymcoError):
    """The CA refused or could not be reached; the message says which and what to do."""


@dataclass
class Enrolment:
    certname: str
    cert_path: str
    key_path: str
    serial: int


class _Ca:
    def __init__(self, ca_server: str, timeout: float) -> None:
        host, _, port = ca_server.partition(":")
        self.base = f"https://{host}:{port or 8140}/puppet-ca/v1"
        self.timeout = timeout
        # Unverified only to fetch the CA certificate itself (trust on first use); verified after.
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        context = self.context
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers={"Content-Type": "text/plain", "Accept": "text/plain"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=context) as response:
                return response.status, bytes(response.read(_MAX))
        except urllib.error.HTTPError as exc:
            return exc.code, bytes(exc.read(_MAX))
        except (OSError, ssl.SSLError) as exc:
            raise EnrollError(f"cannot reach the Puppet CA at {self.base}: "
                              f"{getattr(exc, 'reason', None) or exc}") from None


def _write(path: str, data: bytes, mode: int) -> None:
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(path + ".tmp", mode)
        os.replace(path + ".tmp", path)
    except OSError as exc:
        raise EnrollError(f"cannot write {path}: {exc.strerror or exc}") from None


def _own_key(path: str, bits: int) -> rsa.RSAPrivateKey:
    """The existing key (a re-run after the CA signed), else a new one written 0600."""
    if os.path.exists(path):
        key = keys.read_private_key(path, "private key")
        if not isinstance(key, rsa.RSAPrivateKey):
            raise EnrollError(f"{path} is not an RSA key; remove it to enrol with a new one")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    try:
        os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    except OSError as exc:
        raise EnrollError(f"cannot create {os.path.dirname(path)}: {exc.strerror or exc}") from None
    _write(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption()), 0o600)
    return key


def _message(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "(no message)"


def enroll(certname: str, ssldir: str, ca_server: str, wait: float, bits: int = 4096, poll: float = 2.0,
           timeout: float = 30.0, say: Callable[[str], None] = lambda line: None) -> Enrolment:
    """Enrol `certname` into `ssldir`; EnrollError (one line) when the CA says no or nobody signs in time."""
    if not certname or "/" in certname or certname != certname.strip().lower():
        raise EnrollError(f"invalid certname {certname!r}: Puppet certnames are lower case, without '/'")
    ca = _Ca(ca_server, timeout)
    quoted = urllib.parse.quote(certname, safe="")
    ca_path = os.path.join(ssldir, "certs", "ca.pem")
    cert_path = os.path.join(ssldir, "certs", f"{certname}.pem")
    key_path = os.path.join(ssldir, "private_keys", f"{certname}.pem")
    if not os.path.exists(ca_path):
        status, body = ca.request("GET", "/certificate/ca")
        if status != 200 or b"BEGIN CERTIFICATE" not in body:
            raise EnrollError(f"the Puppet CA at {ca.base} did not send its certificate ({status}: {_message(body)})")
        try:
            first = x509.load_pem_x509_certificate(body)
        except ValueError as exc:
            raise EnrollError(f"the CA certificate from {ca.base} is not PEM: {exc}") from None
        fingerprint = first.fingerprint(hashes.SHA256()).hex(":").upper()
        _write(ca_path, body, 0o644)
        say(f"Downloaded the CA certificate {first.subject.rfc4514_string()}, SHA-256 fingerprint {fingerprint}")
    try:
        ca.context = ssl.create_default_context(cafile=ca_path)
    except (OSError, ssl.SSLError) as exc:
        raise EnrollError(f"cannot use the CA certificate {ca_path}: {exc}") from None

    key = _own_key(key_path, bits)
    status, body = ca.request("GET", f"/certificate/{quoted}")
    if status != 200:
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, certname)]))
               .sign(key, hashes.SHA256()))
        status, body = ca.request("PUT", f"/certificate_request/{quoted}",
                                  csr.public_bytes(serialization.Encoding.PEM))
        if status != 200:
            raise EnrollError(f"the Puppet CA refused the request for {certname} (HTTP {status}): {_message(body)}")
        say(f"Submitted a certificate request for {certname} to {ca.base}; waiting up to {wait:g}s for signing")
        deadline = time.monotonic() + wait
        while True:
            status, body = ca.request("GET", f"/certificate/{quoted}")
            if status == 200 or time.monotonic() >= deadline:
                break
            time.sleep(poll)
        if status != 200:
            raise EnrollError(f"the certificate for {certname} is not signed yet: on the CA run "
                              f"`puppetserver ca sign --certname {certname}`, then run this again")
    try:
        cert = x509.load_pem_x509_certificate(body)
    except ValueError as exc:
        raise EnrollError(f"the CA sent a malformed certificate for {certname}: {exc}") from None
    if not keys.same_public_key(cert.public_key(), key.public_key()):  # type: ignore[arg-type]
        raise EnrollError(f"the CA holds a certificate for {certname} with another key (issued before?); "
                          f"ask the CA admin to run `puppetserver ca clean --certname {certname}`")
    _write(cert_path, body, 0o644)
    status, crl = ca.request("GET", "/certificate_revocation_list/ca")
    if status == 200:
        _write(os.path.join(ssldir, "crl.pem"), crl, 0o644)
    else:
        log.warning("could not download the CRL (%d: %s)", status, _message(crl))
    return Enrolment(certname, cert_path, key_path, cert.serial_number)
