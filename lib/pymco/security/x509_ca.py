"""Checking a certificate against the CA bundle and CRLs: the part of x509 that needs `cryptography.x509`.

Kept apart from the provider (security/x509.py) because importing
`cryptography.x509` costs about 25 ms: a daemon loads this module at start, a
client only when a certificate is not in its record of verified certificates
(security/x509_trust.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from pymco.errors import SecurityError
from pymco.security import keys
from pymco.security.x509_trust import TrustInputs, Verified

log = logging.getLogger(__name__)

__all__ = ["CertificateAuthority", "parse_crls", "common_name", "pem_of"]

_MEMORY = 300.0  # seconds a result is kept in memory without looking at the files again


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(attrs) != 1:
        return ""
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def pem_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _spki(key: keys.PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class CertificateAuthority:
    """The CA bundle and optional CRL that certificates in messages are checked against.

    Verification results are cached in memory per certificate (by SHA-256 of its
    PEM) for at most five minutes and never past the chain's expiry; the cache is
    emptied when the CA or CRL file changes, so a new CRL takes effect on the next
    message.  Each result names the digest of the exact CA and CRL bytes it was
    reached with (`Verified.anchor`), which is what the client's on-disk record
    is keyed by.
    """

    def __init__(self, ca_path: str, crl_path: str | None, crl_required: bool) -> None:
        self.inputs = TrustInputs(ca_path, crl_path, crl_required)
        self.ca_path = ca_path
        self.crl_path = crl_path
        self.crl_required = crl_required
        self._lock = threading.Lock()
        self._cache: dict[bytes, tuple[Verified, float]] = {}
        self._load()

    def _file_stamp(self) -> tuple[object, ...]:
        stamps: list[object] = []
        for path in (self.ca_path, self.crl_path):
            try:
                st = os.stat(path) if path else None
            except OSError:
                st = None
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino) if st else None)
        return tuple(stamps)

    def _load(self) -> None:
        stamp = self._file_stamp()
        ca_bytes, crl_bytes = self.inputs.read()
        cas = keys.parse_certificates(ca_bytes, self.ca_path, "plugin.x509.ca certificate bundle")
        crls = parse_crls(crl_bytes, self.crl_path or "", cas) if crl_bytes is not None else []
        # Self-signed certificates are the trust anchors; the others in the bundle (Puppet 6+'s
        # intermediate CA) are offered as intermediates so the chain, and each CRL, reaches the root.
        roots = [ca for ca in cas if ca.issuer == ca.subject] or cas
        self._intermediates = [ca for ca in cas if ca not in roots]
        builder = verification.PolicyBuilder().store(verification.Store(roots))
        builder = builder.extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                                             ee_policy=verification.ExtensionPolicy.permit_all())
        self._builder = builder
        self._crls = crls
        self._anchor = TrustInputs.digest(ca_bytes, crl_bytes)
        self._stamp = stamp
        self._cache = {}

    def _refresh(self) -> None:
        if self._file_stamp() != self._stamp:
            try:
                self._load()
                log.info("reloaded the CA bundle %s and CRL %s", self.ca_path, self.crl_path or "(none)")
            except SecurityError as exc:
                log.error("keeping the previous CA/CRL: %s", exc)
                self._stamp = self._file_stamp()

    def verify_pem(self, pem: bytes) -> Verified:
        """The verified certificate, or SecurityValidationFailed counted as `untrusted` or `revoked`."""
        now = time.time()
        digest = hashlib.sha256(pem).digest()
        with self._lock:
            self._refresh()
            hit = self._cache.get(digest)
            if hit is not None and hit[1] > now:
                return hit[0]
            builder, crls, intermediates, anchor = self._builder, self._crls, self._intermediates, self._anchor
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise keys.refused("the certificate in the message is not a PEM certificate", "untrusted") from None
        cn = common_name(cert)
        try:
            verifier = builder.time(dt.datetime.fromtimestamp(now, dt.timezone.utc)).build_client_verifier()
            chain = verifier.verify(cert, intermediates).chain
        except (verification.VerificationError, ValueError) as exc:
            raise keys.refused(f"certificate {cn or cert.subject.rfc4514_string()!r} is not trusted by "
                               f"{self.ca_path}: {exc}", "untrusted") from None
        for issued, issuer in zip(chain, chain[1:]):
            for crl in crls:
                if crl.issuer == issuer.subject and crl.get_revoked_certificate_by_serial_number(
                        issued.serial_number) is not None:
                    raise keys.refused(f"certificate {common_name(issued)!r} (serial {issued.serial_number}) "
                                       f"is revoked by {self.crl_path}", "revoked")
        if not cn:
            raise keys.refused("the certificate in the message has no single common name", "untrusted")
        public_key: keys.PublicKey = cert.public_key()  # type: ignore[assignment]
        result = Verified(cn, public_key, max(c.not_valid_before_utc.timestamp() for c in chain),
                          min(c.not_valid_after_utc.timestamp() for c in chain), anchor, _spki(public_key))
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[digest] = (result, min(now + _MEMORY, result.not_after))
        return result


_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.S)


def parse_crls(data: bytes, path: str, cas: list[x509.Certificate]) -> list[x509.CertificateRevocationList]:
    """The CRLs in PEM `data` (from `path`, named in errors), each checked against its CA in `cas`."""
    crls = []
    for block in _PEM_CRL.findall(data):
        try:
            crl = x509.load_pem_x509_crl(block)
        except ValueError as exc:
            raise SecurityError(f"plugin.x509.crl {path} holds a malformed CRL: {exc}") from None
        issuer = next((ca for ca in cas if ca.subject == crl.issuer), None)
        if issuer is None:
            log.warning("ignoring a CRL in %s issued by %s, which is not in the CA bundle", path,
                        crl.issuer.rfc4514_string())
            continue
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            raise SecurityError(f"plugin.x509.crl {path}: the CRL of {crl.issuer.rfc4514_string()} has an "
                                "invalid signature")
        crls.append(crl)
    if not crls and data.strip():
        raise SecurityError(f"plugin.x509.crl {path} holds no CRL of the configured CA")
    return crls
