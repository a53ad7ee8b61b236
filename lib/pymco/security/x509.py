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

Start-up cost matters for `mco`: this module imports no `cryptography.x509`.
Certificates are checked by security/x509_ca.py, which a daemon loads at
start and a client only for a certificate missing from its per-user record of
verified certificates (security/x509_trust.py explains why that record is as
good as a fresh check), so a repeated `mco` call signs, checks signatures and
nothing more.
"""

from __future__ import annotations

import logging
import os
import re
import time
from typing import TYPE_CHECKING, Any

from pymco.config import Config
from pymco.errors import ConfigError, DecodeError, MsgTTLExpired, SecurityError
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request
from pymco.security import keys
from pymco.security.base import (SecurityProvider, decode_outer, parse_reply_envelope, parse_request_envelope,
                                 valid_callerid)
from pymco.security.replay import ReplayCache
from pymco.security.x509_paths import x509_paths
from pymco.security.x509_trust import TrustInputs, Verified, VerifiedCertificates, canonical_pem, default_cache_path

if TYPE_CHECKING:
    from pymco.security.x509_ca import CertificateAuthority

log = logging.getLogger(__name__)

__all__ = ["X509Security", "DEFAULT_SERVER_CERTNAMES"]

# Puppet node certnames are dotted host names; a single-label name (`alice`) or
# Choria's `<user>.mcollective` is a user's certificate and may not sign replies.
DEFAULT_SERVER_CERTNAMES = r"(?!.*\.mcollective$)[^.\s]+\.[^\s]+"

_REQUEST_KIND, _REPLY_KIND = "pymco-x509-request/1", "pymco-x509-reply/1"
_K = {name: Symbol(name) for name in ("body", "hash", "cert", "x509", "agent", "collective", "requestid",
                                         "senderid", "callerid", "ttl", "msgtime", "filter", "senderagent")}
_REQUEST_FIELDS = ("agent", "collective", "requestid", "senderid", "callerid", "ttl", "msgtime", "filter")
_REPLY_FIELDS = ("senderid", "requestid", "senderagent", "msgtime")
_MAX_CERT = 16384


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

        self._inputs = TrustInputs(ca_path, crl_path, crl_required=paths.crl_required)
        self._ca: CertificateAuthority | None = None
        # Only a client keeps the on-disk record: a daemon's results live in memory for its whole life.
        record = section.get("verified_cache", default_cache_path()) if client else "none"
        self._record = VerifiedCertificates(os.path.expanduser(record)) if record not in ("", "none") else None

        cert_data = keys.read_file(self.cert_path, "plugin.x509.cert certificate")
        pem = canonical_pem(cert_data)
        mine = self._recorded(pem) if pem is not None else None
        if mine is None or pem is None:
            from pymco.security import x509_ca

            cert = keys.parse_certificates(cert_data, self.cert_path, "plugin.x509.cert certificate")[0]
            pem = x509_ca.pem_of(cert)
            cn, public_key = x509_ca.common_name(cert), cert.public_key()
        else:
            cn, public_key = mine.cn, mine.public_key
        self._cert_pem = pem.decode("ascii")
        self._key = keys.read_private_key(self.key_path, "plugin.x509.private_key")
        if not keys.same_public_key(self._key.public_key(), public_key):  # type: ignore[arg-type]
            raise SecurityError(f"plugin.x509.private_key {self.key_path} does not belong to the certificate "
                                f"{self.cert_path}")
        self.cn = cn
        self._callerid = f"cert={self.cn}"
        if not valid_callerid(self._callerid):
            raise SecurityError(f"the common name {self.cn!r} of {self.cert_path} cannot be a callerid "
                                "(letters, digits, '.', '-' and '_' only)")
        if not client:
            self._authority()  # a daemon loads the CA bundle and CRL at start: a broken one stops it here
        interval = config.plugin_number("x509.crl_refresh_interval", 300.0)
        if not client and interval > 0:
            # Puppet agents never refresh crl.pem by default: the daemon fetches it from the CA itself.
            from pymco.security.crl_refresh import CrlRefresher

            CrlRefresher(section.get("ca_server") or "puppet:8140", ca_path, crl_path,
                         (self.cert_path, self.key_path), interval).start()
        if mine is None:
            ca = self._authority()  # a missing or broken CA bundle is an error, not a warning
            try:
                self._remember(pem, ca.verify_pem(pem))
            except SecurityError as exc:
                log.warning("our own certificate would be refused by our peers: %s", exc)
        # Only the daemon checks replays; its journal lets them outlive a restart.
        self.replays = ReplayCache(path=None if client else section.get("replay_cache") or None)

    def callerid(self) -> str:
        return self._callerid

    @property
    def ca(self) -> CertificateAuthority:
        return self._authority()

    def _authority(self) -> CertificateAuthority:
        """The CA bundle and CRL, parsed when first needed (a client whose record knows every peer never does)."""
        if self._ca is None:
            from pymco.security.x509_ca import CertificateAuthority

            self._ca = CertificateAuthority(self._inputs.ca_path, self._inputs.crl_path, self._inputs.crl_required)
        return self._ca

    def _recorded(self, pem: bytes) -> Verified | None:
        if self._record is None:
            return None
        return self._record.get(self._inputs.current(), pem, time.time())

    def _remember(self, pem: bytes, verified: Verified) -> None:
        if self._record is not None:
            self._record.add(pem, verified)

    def _signer(self, pem: bytes) -> Verified:
        """The sender's verified certificate: from the client's record, else by a full check (then recorded)."""
        verified = self._recorded(pem)
        if verified is None:
            verified = self._authority().verify_pem(pem)
            self._remember(pem, verified)
        return verified

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

    def _open(self, payload: bytes, kind: str, names: tuple[str, ...]) -> tuple[dict[Any, Any], Any, Verified]:
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
        signer = self._signer(pem)
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
