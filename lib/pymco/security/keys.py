"""Key and certificate files for the `ssl` and `x509` providers, read with `cryptography`.

Every failure becomes a one-line SecurityError naming the file and the
config key that points at it, because a missing or unreadable key is the
most common deployment mistake and a traceback does not say which key.
Public keys are cached by (path, mtime, size) so the daemon re-reads a
client key only when an operator replaces it.

Nothing here imports `cryptography.x509` or the `serialization` package at
module level: together they cost every `mco` start about 25 ms (the X.509 name
parser compiles its regular expressions, the SSH key module pulls in every
cipher), and signing a request needs neither.  Certificates are parsed, and
those modules imported, only by the functions that need them.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Union

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pymco.errors import SecurityError, SecurityValidationFailed

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

__all__ = ["PrivateKey", "PublicKey", "read_private_key", "read_public_key", "read_certificates",
           "parse_certificates", "sign", "verify", "b64_signature", "signature_bytes", "refused",
           "PublicKeyCache", "read_file", "public_key_from_pem", "public_key_from_der", "same_public_key"]

# Puppet's keys are RSA: the EC and Ed25519 modules (~1 ms of every start) are imported when such a key shows up.
PrivateKey = Union[rsa.RSAPrivateKey, "ec.EllipticCurvePrivateKey", "ed25519.Ed25519PrivateKey"]
PublicKey = Union[rsa.RSAPublicKey, "ec.EllipticCurvePublicKey", "ed25519.Ed25519PublicKey"]

_MAX_KEY_FILE = 1 << 20
_BASE64 = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


def _loaders() -> Any:
    """cryptography's key loaders, without importing its `serialization` package.

    `serialization.load_pem_private_key` and friends are these very functions
    (re-exported from the Rust binding); importing them from the package would also
    import its SSH-key module and every cipher, about 4 ms of each `mco` start.  Should
    a cryptography release move them, the package is the fallback
    (tests/unit/test_x509_trust.py notices the move).
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl

        return openssl.keys
    except (ImportError, AttributeError):  # pragma: no cover - a cryptography that moved them
        from cryptography.hazmat.primitives import serialization

        return serialization


def _ec_ed25519() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    return ec, ed25519


def refused(message: str, counter: str) -> SecurityValidationFailed:
    """A SecurityValidationFailed that also names its daemon_stats counter (besides `unvalidated`)."""
    exc = SecurityValidationFailed(message)
    exc.counter = counter  # type: ignore[attr-defined]
    return exc


def read_file(path: str, what: str) -> bytes:
    """A key or certificate file, at most 1 MiB and not empty; SecurityError names `what` and `path`."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise SecurityError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise SecurityError(f"{what} {path} is empty")
    if len(data) > _MAX_KEY_FILE:
        raise SecurityError(f"{what} {path} is larger than {_MAX_KEY_FILE} bytes")
    return data


def read_private_key(path: str, what: str = "private key") -> PrivateKey:
    """An unencrypted PEM private key (RSA, EC or Ed25519); warns when anyone may read it.

    The RSA consistency check is skipped: it costs about 0.3 s for Puppet's 4096-bit keys on
    every `mco` start, and this is the user's or node's own key from a file only they may write,
    not untrusted input.  A damaged key still cannot forge anything: its signatures fail
    verification at the receiver, and OpenSSL re-checks each CRT signature before returning it.
    """
    data = read_file(path, what)
    try:
        if os.stat(path).st_mode & 0o004:
            log.warning("%s %s is readable by every user; chmod o-r it", what, path)
    except OSError:
        pass
    try:
        key = _loaders().load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        raise SecurityError(f"{what} {path} is encrypted; pymco needs an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SecurityError(f"{what} {path} is not a PEM private key: {str(exc).splitlines()[0]}") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    ec, ed25519 = _ec_ed25519()
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        raise SecurityError(f"{what} {path} is a {type(key).__name__}; use RSA, EC or Ed25519")
    return key


def public_key_from_pem(data: bytes, origin: str) -> PublicKey:
    """A PEM public key, or the key of a PEM certificate (MCollective accepts either)."""
    try:
        if b"CERTIFICATE" in data:
            from cryptography import x509

            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = _loaders().load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SecurityError(f"{origin} is not a PEM public key or certificate: {str(exc).splitlines()[0]}") from None
    return _usable_public_key(key, origin)


def public_key_from_der(data: bytes, origin: str) -> PublicKey:
    """A DER SubjectPublicKeyInfo (as x509_trust keeps a verified certificate's key)."""
    try:
        key = _loaders().load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SecurityError(f"{origin} is not a DER public key: {str(exc).splitlines()[0]}") from None
    return _usable_public_key(key, origin)


def _usable_public_key(key: Any, origin: str) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        return key
    ec, ed25519 = _ec_ed25519()
    if not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise SecurityError(f"{origin} holds a {type(key).__name__}; use RSA, EC or Ed25519")
    return key


def read_public_key(path: str, what: str = "public key") -> PublicKey:
    return public_key_from_pem(read_file(path, what), f"{what} {path}")


_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def read_certificates(path: str, what: str) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (Puppet's ca.pem holds the root and intermediate)."""
    return parse_certificates(read_file(path, what), path, what)


def parse_certificates(data: bytes, path: str, what: str) -> list[x509.Certificate]:
    """Every certificate in PEM `data`, read from `path` (named in errors as `what`)."""
    from cryptography import x509

    blocks = _PEM_CERT.findall(data)
    if not blocks:
        raise SecurityError(f"{what} {path} holds no PEM certificate")
    try:
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as exc:
        raise SecurityError(f"{what} {path} holds a malformed certificate: {str(exc).splitlines()[0]}") from None


def sign(key: PrivateKey, data: bytes, digest: hashes.HashAlgorithm | None = None) -> bytes:
    """PKCS#1 v1.5 for RSA (what MCollective's ssl plugin uses), ECDSA for EC, pure Ed25519."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), digest or hashes.SHA256())
    ec, _ = _ec_ed25519()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(digest or hashes.SHA256()))
    return key.sign(data)


def verify(key: PublicKey, signature: bytes, data: bytes, digest: hashes.HashAlgorithm | None = None) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), digest or hashes.SHA256())
            return True
        ec, _ = _ec_ed25519()
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(digest or hashes.SHA256()))
        else:
            key.verify(signature, data)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def b64_signature(signature: bytes) -> str:
    """Ruby's Base64.encode64: newline every 60 characters and at the end."""
    encoded = base64.b64encode(signature).decode("ascii")
    return "".join(encoded[i:i + 60] + "\n" for i in range(0, len(encoded), 60))


def signature_bytes(value: Any) -> bytes | None:
    """Decode a base64 :hash field, or None when it is missing or not base64."""
    if isinstance(value, str):
        value = value.encode("latin-1", "replace")
    if not isinstance(value, bytes) or not value or len(value) > 16384 or not _BASE64.match(value):
        return None
    try:
        return base64.b64decode(b"".join(value.split()))
    except (binascii.Error, ValueError):
        return None


def same_public_key(a: PublicKey, b: PublicKey) -> bool:
    """cryptography compares the key material (its keys define __eq__ since release 41)."""
    return a == b


class PublicKeyCache:
    """Public keys by path, re-read when the file changes (a replaced client key takes effect at once)."""

    def __init__(self, limit: int = 4096) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[tuple[int, int, int], PublicKey]] = {}
        self._limit = limit

    def get(self, path: str, what: str) -> PublicKey:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise SecurityError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            cached = self._keys.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        key = read_public_key(path, what)
        with self._lock:
            if len(self._keys) >= self._limit:
                self._keys.clear()
            self._keys[path] = (stamp, key)
        return key
