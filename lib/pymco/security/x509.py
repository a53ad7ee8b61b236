"""The `x509` security provider: requests and replies signed with Puppet's certificates.

Every node and every user already has a key pair signed by the Puppet CA, so
pymco uses those instead of a shared secret or a shared server key:

* The sender signs a Marshal-encoded hash of every field that steers
  execution: agent, collective, request id, sender id, caller id, ttl,
  msgtime, filter and the body (which holds the SimpleRPC action and data),
  plus a version/kind marker so a reply can never pass as a request.  Those
  signed bytes travel as `:body`, the base64 signature as `:hash` and the
  sender's PEM certificate as `:cert`; the outer copies of the fields (kept
  for MCollective-shaped tooling and logs) must equal the signed ones.
* The receiver verifies the certificate against the CA bundle (and the CRL
  when there is one), checks the signature with the certificate's key and
  takes the callerid from the certificate (`cert=<CN>`).
* The daemon refuses requests older than their TTL, dated more than
  `plugin.x509.max_clock_skew` seconds in the future, or whose request id it
  has already seen within that request's TTL (replays; with
  `plugin.x509.replay_cache` also across restarts, see security/replay.py).
* Nodes sign replies with their own certificate; the client accepts a reply
  only from a certificate whose CN equals the reply's sender id and matches
  `plugin.x509.server_certnames`, so a user's certificate cannot forge node
  replies.

Defaults follow `puppet config print ssldir`: `certs/<certname>.pem`,
`private_keys/<certname>.pem`, `certs/ca.pem` and `crl.pem`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

from pymco.config import Config
from pymco.errors import ConfigError, DecodeError, MsgTTLExpired, SecurityError
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request
from pymco.security import keys
from pymco.security.base import (SecurityProvider, decode_outer, parse_reply_envelope, parse_request_envelope,
                                 valid_callerid)
from pymco.security.replay import ReplayCache
from pymco.security.x509_paths import default_ssldir, x509_paths

log = logging.getLogger(__name__)

__all__ = ["X509Security", "CertificateAuthority", "default_ssldir",
           "DEFAULT_SERVER_CERTNAMES"]

# Puppet node certnames are dotted host names; a single-label name (`alice`) or
# Choria's `<user>.mcollective` is a user's certificate and may not sign replies.
DEFAULT_SERVER_CERTNAMES = r"(?!.*\.mcollective$)[^.\s]+\.[^\s]+"

_REQUEST_KIND, _REPLY_KIND = "pymco-x509-request/1", "pymco-x509-reply/1"
_K = {name: Symbol(name) for name in ("body", "hash", "cert", "x509", "agent", "collective", "requestid",
                                         "senderid", "callerid", "ttl", "msgtime", "filter", "senderagent")}
_REQUEST_FIELDS = ("agent", "collective", "requestid", "senderid", "callerid", "ttl", "msgtime", "filter")
_REPLY_FIELDS = ("senderid", "requestid", "senderagent", "msgtime")
_MAX_CERT = 16384


def common_name(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(attrs) != 1:
        return ""
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


@dataclass
class _Verified:
    cert: x509.Certificate
    cn: str
    public_key: keys.PublicKey
    until: float


class CertificateAuthority:
    """The CA bundle and optional CRL that certificates in messages are checked against.

    Verification results are cached per certificate (by SHA-256 of its PEM)
    for at most five minutes and never past the certificate's expiry; the
    cache is emptied when the CA or CRL file changes, so a new CRL takes
    effect on the next message.
    """

    def __init__(self, ca_path: str, crl_path: str | None, crl_required: bool) -> None:
        self.ca_path = ca_path
        self.crl_path = crl_path
        self.crl_required = crl_required
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._cache: dict[bytes, _Verified] = {}
        self._load()

    def _file_stamp(self) -> tuple[Any, ...]:
        stamps: list[Any] = []
        for path in (self.ca_path, self.crl_path):
            try:
                st = os.stat(path) if path else None
            except OSError:
                st = None
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino) if st else None)
        return tuple(stamps)

    def _load(self) -> None:
        stamp = self._file_stamp()
        cas = keys.read_certificates(self.ca_path, "plugin.x509.ca certificate bundle")
        crls: list[x509.CertificateRevocationList] = []
        if self.crl_path and (self.crl_required or os.path.exists(self.crl_path)):
            crls = _read_crls(self.crl_path, cas)
        # Self-signed certificates are the trust anchors; the others in the bundle (Puppet 6+'s
        # intermediate CA) are offered as intermediates so the chain, and each CRL, reaches the root.
        roots = [ca for ca in cas if ca.issuer == ca.subject] or cas
        self._intermediates = [ca for ca in cas if ca not in roots]
        builder = verification.PolicyBuilder().store(verification.Store(roots))
        builder = builder.extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                                             ee_policy=verification.ExtensionPolicy.permit_all())
        self._builder = builder
        self._crls = crls
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

    def verify_pem(self, pem: bytes) -> _Verified:
        """The verified certificate, or SecurityValidationFailed counted as `untrusted` or `revoked`."""
        now = time.time()
        digest = hashlib.sha256(pem).digest()
        with self._lock:
            self._refresh()
            hit = self._cache.get(digest)
            if hit is not None and hit.until > now:
                return hit
            builder = self._builder
            crls = self._crls
            intermediates = self._intermediates
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
        until = min(now + 300, cert.not_valid_after_utc.timestamp())
        result = _Verified(cert, cn, cert.public_key(), until)  # type: ignore[arg-type]
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[digest] = result
        return result


_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.S)


def _read_crls(path: str, cas: list[x509.Certificate]) -> list[x509.CertificateRevocationList]:
    """Every CRL in Puppet's crl.pem (one per CA in the chain), each checked against its CA."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(64 << 20)
    except OSError as exc:
        raise SecurityError(f"cannot read plugin.x509.crl {path}: {exc.strerror or exc}") from None
    return parse_crls(data, path, cas)


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


class X509Security(SecurityProvider):
    """Puppet-certificate signatures over every steering field; replay and skew checks in the daemon."""

    name = "x509"

    def __init__(self, config: Config, client: bool) -> None:
        super().__init__(config, client)
        section = config.plugin_section("x509")
        paths = x509_paths(config)
        self.certname = paths.certname
        self.cert_path = paths.cert
        self.key_path = paths.private_key
        ca_path, crl_path = paths.ca, paths.crl
        self.max_clock_skew = config.plugin_number("x509.max_clock_skew", 30.0)
        if self.max_clock_skew < 0:
            raise ConfigError("plugin.x509.max_clock_skew must not be negative")
        pattern = section.get("server_certnames") or DEFAULT_SERVER_CERTNAMES
        try:
            self.server_certnames = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"plugin.x509.server_certnames is not a valid regular expression: {exc}") from None

        certs = keys.read_certificates(self.cert_path, "plugin.x509.cert certificate")
        self._cert = certs[0]
        self._cert_pem = self._cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self._key = keys.read_private_key(self.key_path, "plugin.x509.private_key")
        if not keys.same_public_key(self._key.public_key(), self._cert.public_key()):  # type: ignore[arg-type]
            raise SecurityError(f"plugin.x509.private_key {self.key_path} does not belong to the certificate "
                                f"{self.cert_path}")
        self.cn = common_name(self._cert)
        self._callerid = f"cert={self.cn}"
        if not valid_callerid(self._callerid):
            raise SecurityError(f"the common name {self.cn!r} of {self.cert_path} cannot be a callerid "
                                "(letters, digits, '.', '-' and '_' only)")
        self.ca = CertificateAuthority(ca_path, crl_path, crl_required=paths.crl_required)
        interval = config.plugin_number("x509.crl_refresh_interval", 300.0)
        if not client and interval > 0:
            # Puppet agents never refresh crl.pem by default: the daemon fetches it from the CA itself.
            from pymco.security.crl_refresh import CrlRefresher

            CrlRefresher(section.get("ca_server") or "puppet:8140", ca_path, crl_path,
                         (self.cert_path, self.key_path), interval).start()
        try:
            self.ca.verify_pem(self._cert_pem.encode("ascii"))
        except SecurityError as exc:
            log.warning("our own certificate would be refused by our peers: %s", exc)
        # Only the daemon checks replays; its journal lets them outlive a restart.
        self.replays = ReplayCache(path=None if client else section.get("replay_cache") or None)

    def callerid(self) -> str:
        return self._callerid

    # ------------------------------------------------------------ shared
    def _seal(self, kind: str, fields: dict[str, Any], body: Any) -> dict[Symbol, Any]:
        signed: dict[Symbol, Any] = {_K["x509"]: kind}
        signed.update({_K[name]: value for name, value in fields.items()})
        signed[_K["body"]] = body
        blob = marshal.dumps(signed)
        outer: dict[Symbol, Any] = {_K[name]: value for name, value in fields.items()}
        outer[_K["body"]] = blob
        outer[_K["hash"]] = keys.b64_signature(keys.sign(self._key, blob))
        outer[_K["cert"]] = self._cert_pem
        return outer

    def _open(self, payload: bytes, kind: str, names: tuple[str, ...]) -> tuple[dict[Any, Any], Any, _Verified]:
        """Verify certificate, signature and field equality; return (signed fields, body, signer)."""
        outer = decode_outer(payload, self.max_depth)
        blob = outer.get(_K["body"])
        signature = keys.signature_bytes(outer.get(_K["hash"]))
        pem = outer.get(_K["cert"])
        if isinstance(pem, str):
            pem = pem.encode("latin-1", "replace")
        if not isinstance(blob, bytes) or signature is None or not isinstance(pem, bytes):
            raise keys.refused("message is not signed (no x509 :body, :hash and :cert)", "unsigned")
        if len(pem) > _MAX_CERT:
            raise keys.refused("the certificate in the message is too large", "untrusted")
        signer = self.ca.verify_pem(pem)
        if not keys.verify(signer.public_key, signature, blob):
            raise keys.refused(f"invalid signature from certificate {signer.cn!r}", "tampered")
        try:
            signed = marshal.loads(blob, max_depth=self.max_depth)
        except DecodeError as exc:
            raise keys.refused(f"signed part from {signer.cn!r} is undecodable: {exc}", "tampered") from None
        if not isinstance(signed, dict) or signed.get(_K["x509"]) != kind:
            raise keys.refused(f"signed part from {signer.cn!r} is not an x509 {kind.split('/')[0]}", "tampered")
        for name in names:
            key = _K[name]
            if key not in outer or outer[key] != signed.get(key) or type(outer[key]) is not type(signed.get(key)):
                raise keys.refused(f"field :{name} of the message from {signer.cn!r} differs from its signed "
                                   "value - tampered", "tampered")
        return signed, signed.get(_K["body"]), signer

    # ------------------------------------------------------------ requests
    def encode_request(self, request: Request) -> bytes:
        fields = {"agent": request.agent, "collective": request.collective, "requestid": request.requestid,
                  "senderid": self.sender_identity(), "callerid": self._callerid, "ttl": request.ttl,
                  "msgtime": request.msgtime, "filter": request.filter}
        return marshal.dumps(self._seal(_REQUEST_KIND, fields, request.body))

    def decode_request(self, payload: bytes, headers: dict[str, str] | None = None) -> Request:
        signed, body, signer = self._open(payload, _REQUEST_KIND, _REQUEST_FIELDS)
        request = parse_request_envelope(signed, body)
        if request.callerid != f"cert={signer.cn}":
            raise keys.refused(f"callerid {request.callerid!r} is not that of the signing certificate "
                               f"{signer.cn!r}", "tampered")
        now = time.time()
        if request.ttl <= 0:
            raise keys.refused(f"request {request.requestid} from {request.callerid} has ttl {request.ttl}",
                               "tampered")
        if request.msgtime > now + self.max_clock_skew:
            raise keys.refused(f"request {request.requestid} from {request.callerid} is dated "
                               f"{int(request.msgtime - now)}s in the future (plugin.x509.max_clock_skew is "
                               f"{self.max_clock_skew:g}s)", "clockskew")
        if now - request.msgtime > request.ttl:
            raise MsgTTLExpired(f"message {request.requestid} from {request.callerid} created at "
                                f"{request.msgtime} is {int(now - request.msgtime)} seconds old, TTL is "
                                f"{request.ttl}. Rejecting message.")
        if not self.replays.check_and_add(request.requestid, request.msgtime + request.ttl + 1, now):
            raise keys.refused(f"request {request.requestid} from {request.callerid} is a replay: its id "
                               "was seen within its TTL", "replay")
        log.debug("request %s for %s verified: signed by %s", request.requestid, request.agent, request.callerid)
        return request

    # ------------------------------------------------------------ replies
    def encode_reply(self, reply: Reply, request: Request) -> bytes:
        fields = {"senderid": reply.senderid, "requestid": reply.requestid, "senderagent": reply.senderagent,
                  "msgtime": reply.msgtime}
        return marshal.dumps(self._seal(_REPLY_KIND, fields, reply.body))

    def decode_reply(self, payload: bytes, headers: dict[str, str] | None = None) -> Reply:
        signed, body, signer = self._open(payload, _REPLY_KIND, _REPLY_FIELDS)
        reply = parse_reply_envelope(signed, body)
        if reply.senderid != signer.cn:
            raise keys.refused(f"reply claims to come from {reply.senderid!r} but is signed by {signer.cn!r}",
                               "tampered")
        if not self.server_certnames.fullmatch(signer.cn):
            raise keys.refused(f"reply signed by {signer.cn!r}, which is not a server certificate "
                               "(plugin.x509.server_certnames)", "untrusted")
        reply.callerid = f"cert={signer.cn}"
        return reply
