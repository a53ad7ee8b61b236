"""What a certificate check proved, and a per-user record of it that spares `mco` the check next time.

Verifying a node's certificate needs `cryptography.x509`, whose import alone
costs every `mco` start about 25 ms (more than signing with a 4096-bit key),
although the same few node certificates come back call after call.  So the
client keeps, in a folder only its user can write (`plugin.x509.verified_cache`,
by default `~/.cache/pymco/x509-verified`), what each successful check proved:

    <trust anchor>/<SHA-256 of the certificate's PEM>  ->  CN, public key,
                                                            validity window

The *trust anchor* is the SHA-256 of the exact bytes of the CA bundle and of
the CRL file (or of their absence) that the check parsed, plus this format's
version and cryptography's version.  A later call looks a certificate up under
the anchor of the files as they are now, so:

* a changed crl.pem (a revocation) or ca.pem is a different anchor: no earlier
  result applies, and the certificate is checked again in full;
* the window is the intersection of the validity of every certificate in the
  verified chain (leaf, intermediate, root), so an entry is not used before or
  after the time at which the full check itself would have failed;
* inputs equal, time inside the window: the full check would run on the same
  bytes with the same checks (`_FORMAT`, cryptography's version) and reach the
  same answer, so the entry is exactly as good as re-doing it.  The checks that depend on the message, not the
  certificate (signature, sender = CN, `server_certnames`), are always done.

The record counts as the user's own configuration: an entry is used only when
it, its anchor folder and the record's folder belong to the effective user and
nobody else may write them; entries are written atomically with mode 0600 in
folders of mode 0700.  Daemons never use it (they keep their results in
memory).  Modification times and inode numbers are not part of the anchor on
purpose: the content digest decides, so a touched but unchanged CRL still hits,
and a CRL rewritten in place within one timestamp tick still misses for the
next `mco` (each process hashes the files; a long-running one hashes them
again whenever their mtime, size or inode changes, the signal on which the CA
object reloads them too).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import stat
from dataclasses import dataclass

import cryptography
from cryptography.hazmat.primitives import hashes

from pymco.errors import SecurityError
from pymco.security import keys

log = logging.getLogger(__name__)

__all__ = ["Verified", "TrustInputs", "VerifiedCertificates", "default_cache_path", "canonical_pem"]

_FORMAT = 1  # part of every anchor: raise it when x509_ca's checks change, and old entries no longer apply
_MAX_CRL = 64 << 20
_MAX_ENTRY = 64 << 10
_ANCHORS = 4  # CA/CRL states kept (a new CRL starts a new one; older ones are deleted)
_ANCHOR = re.compile(r"[0-9a-f]{64}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


@dataclass
class Verified:
    """A certificate that chains to the CA and is not revoked, as of the trust anchor `anchor`."""

    cn: str
    public_key: keys.PublicKey
    not_before: float  # the verified chain's validity window (POSIX seconds)
    not_after: float
    anchor: str
    spki: bytes = b""  # DER SubjectPublicKeyInfo, what the record keeps of the key


def _sha256(*parts: bytes) -> str:
    """Hex SHA-256 by cryptography, already loaded: hashlib would cost `mco` ~2 ms more to import."""
    h = hashes.Hash(hashes.SHA256())
    for part in parts:
        h.update(part)
    return h.finalize().hex()


def default_cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pymco", "x509-verified")


def canonical_pem(data: bytes) -> bytes | None:
    """The first certificate in PEM `data` as cryptography writes it (64-column base64), or None.

    The x509 provider sends its certificate in this form; computing it without parsing
    the certificate lets a start look its own certificate up in the record.
    """
    match = _PEM_CERT.search(data)
    if match is None:
        return None
    try:
        der = base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    encoded = base64.b64encode(der)
    lines = b"".join(encoded[i:i + 64] + b"\n" for i in range(0, len(encoded), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"-----END CERTIFICATE-----\n"


class TrustInputs:
    """The CA bundle and CRL files, read as bytes, and the anchor (digest) of what was read."""

    def __init__(self, ca_path: str, crl_path: str | None, crl_required: bool) -> None:
        self.ca_path = ca_path
        self.crl_path = crl_path
        self.crl_required = crl_required
        self._memo: tuple[tuple[object, ...], str] | None = None

    def read(self) -> tuple[bytes, bytes | None]:
        """(CA bytes, CRL bytes or None when there is no CRL to apply); SecurityError when unreadable."""
        ca = keys.read_file(self.ca_path, "plugin.x509.ca certificate bundle")
        crl = None
        if self.crl_path and (self.crl_required or os.path.exists(self.crl_path)):
            try:
                with open(self.crl_path, "rb") as fh:
                    crl = fh.read(_MAX_CRL)
            except OSError as exc:
                raise SecurityError(f"cannot read plugin.x509.crl {self.crl_path}: {exc.strerror or exc}") from None
        return ca, crl

    @staticmethod
    def digest(ca: bytes, crl: bytes | None) -> str:
        """What a check depends on besides the certificate and the time: the exact CA and CRL bytes and the code."""
        return _sha256(f"pymco-x509-anchor/{_FORMAT}/cryptography-{cryptography.__version__}\n".encode(),
                       *(b"-" if part is None else b"%d:" % len(part) + part for part in (ca, crl)))

    def current(self) -> str | None:
        """The anchor of the files as they are now, or None when they cannot be read.

        Re-hashed only when a file's (mtime, size, inode) changes: the CA object itself
        reloads on the same signal, and a client reading a large CRL once per reply would
        be slow.
        """
        stamp = []
        for path in (self.ca_path, self.crl_path):
            try:
                st = os.stat(path) if path else None
            except OSError:
                st = None
            stamp.append((st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev) if st else None)
        if self._memo is not None and self._memo[0] == tuple(stamp):
            return self._memo[1]
        try:
            anchor = self.digest(*self.read())
        except SecurityError:
            return None
        self._memo = (tuple(stamp), anchor)
        return anchor


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:  # removed meanwhile by another run
        return 0.0


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


class VerifiedCertificates:
    """The on-disk record (see the module docstring): `<folder>/<anchor>/<SHA-256 of the PEM>`, one file each.

    One small file per certificate, not one document: a lookup reads only what it
    needs however many nodes a fleet has, and concurrent `mco` runs cannot lose each
    other's entries.  Every failure (unreadable, damaged, not private) only costs a
    full check.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._private_dirs: set[str] = set()
        self._refused_dirs: set[str] = set()
        # (anchor, certificate digest) -> what this process already read or wrote: a client that
        # hears a node again (pymco.api, mco puppet runall) reads and parses its entry once
        self._seen: dict[tuple[str, str], Verified] = {}

    def _is_private_dir(self, path: str) -> bool:
        if path in self._private_dirs:
            return True
        try:
            st = os.stat(path)
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode) or not _private(st):
            if path not in self._refused_dirs:
                self._refused_dirs.add(path)
                log.warning("not using the record of verified certificates in %s: it is not yours alone", path)
            return False
        self._private_dirs.add(path)
        return True

    def get(self, anchor: str | None, pem: bytes, now: float) -> Verified | None:
        """The recorded result for `pem` under `anchor`, when `now` is inside its validity window."""
        if anchor is None:
            return None
        name = _sha256(pem)
        seen = self._seen.get((anchor, name))
        if seen is not None:
            return seen if seen.not_before <= now <= seen.not_after else None
        where = os.path.join(self.folder, anchor)
        if not (self._is_private_dir(self.folder) and self._is_private_dir(where)):
            return None
        try:
            fd = os.open(os.path.join(where, name), os.O_RDONLY | _NOFOLLOW)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or not _private(st):
                return None
            raw = fh.read(_MAX_ENTRY + 1)
        try:
            entry = json.loads(raw) if len(raw) <= _MAX_ENTRY else None
        except ValueError:
            return None
        if not isinstance(entry, list) or len(entry) != 4:
            return None
        cn, spki, not_before, not_after = entry
        if not (isinstance(cn, str) and isinstance(spki, str) and isinstance(not_before, (int, float))
                and isinstance(not_after, (int, float)) and not_before <= now <= not_after):
            return None
        try:
            der = base64.b64decode(spki, validate=True)
            public_key = keys.public_key_from_der(der, where)
        except (binascii.Error, ValueError, SecurityError):
            return None
        verified = Verified(cn, public_key, float(not_before), float(not_after), anchor, der)
        self._seen[(anchor, name)] = verified
        return verified

    def add(self, pem: bytes, verified: Verified) -> None:
        """Record a successful full check, atomically (mode 0600); a failure to write is only logged."""
        import tempfile  # only a process that checked a certificate in full writes (tempfile imports shutil...)

        where = os.path.join(self.folder, verified.anchor)
        tmp = ""
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            fresh = not os.path.isdir(where)
            os.makedirs(where, mode=0o700, exist_ok=True)
            if not (self._is_private_dir(self.folder) and self._is_private_dir(where)):
                return
            if fresh:
                self._prune(keep=verified.anchor)
            fd, tmp = tempfile.mkstemp(prefix=".new.", dir=where)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                json.dump([verified.cn, base64.b64encode(verified.spki).decode("ascii"), verified.not_before,
                           verified.not_after], fh, ensure_ascii=True)
            name = _sha256(pem)
            os.replace(tmp, os.path.join(where, name))
            self._seen[(verified.anchor, name)] = verified
        except OSError as exc:
            log.debug("cannot record a verified certificate in %s: %s", where, exc)
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    def _prune(self, keep: str) -> None:
        """Drop all but the newest few anchors: entries of a superseded CA/CRL can never match again."""
        import shutil

        try:
            anchors = [e for e in os.scandir(self.folder) if _ANCHOR.fullmatch(e.name) and e.is_dir()]
        except OSError:
            return
        anchors.sort(key=_mtime, reverse=True)
        for entry in [e for e in anchors if e.name != keep][_ANCHORS - 1:]:
            shutil.rmtree(entry.path, ignore_errors=True)
