"""MCollective 2.12's `ssl` security provider, wire-compatible with Ruby's `security/ssl.rb`.

Clients sign requests with their own RSA key; every node holds the public key
of every client in `plugin.ssl_client_cert_dir` (`<name>.pem`, the callerid
being `cert=<name>`, the basename of the client's public key file).  All nodes
share one server key pair and sign replies with it; clients verify replies
with `plugin.ssl_server_public`.

The signed request body is the serialized hash
`{:ssl_msg => body, :ssl_ttl => ttl, :ssl_msgtime => msgtime}` so ttl and
msgtime cannot be changed without breaking the signature; the signature is
base64 RSA-SHA1 (PKCS#1 v1.5) in `:hash`.  SHA-1 and the unsigned envelope
fields (filter, agent, collective, request id) are the plugin's protocol and
are kept for compatibility; see the README's security guide for what that
leaves open and why `x509` exists.

Serializer: Ruby Marshal (default) or YAML (`plugin.ssl_serializer = yaml`),
read with a safe loader only (`pymco.security.rubyyaml`).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from pymco.config import Config
from pymco.errors import ConfigError, DecodeError, SecurityError
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request, text
from pymco.security import keys, rubyyaml
from pymco.security.base import (
    SecurityProvider,
    parse_reply_envelope,
    parse_request_envelope,
    reply_envelope,
    request_envelope,
    valid_callerid,
)

log = logging.getLogger(__name__)

__all__ = ["SslSecurity"]

_BODY, _HASH, _CALLERID, _TTL, _MSGTIME = (Symbol("body"), Symbol("hash"), Symbol("callerid"), Symbol("ttl"),
                                           Symbol("msgtime"))
_SSL_MSG, _SSL_TTL, _SSL_MSGTIME = Symbol("ssl_msg"), Symbol("ssl_ttl"), Symbol("ssl_msgtime")
_REQUESTID, _SENDERID = Symbol("requestid"), Symbol("senderid")
_CERT_CALLER = re.compile(r"^cert=([\w.\-]+)$")


def _pem_basename(path: str) -> str:
    name = os.path.basename(path)
    return name[:-4] if name.endswith(".pem") else name


class SslSecurity(SecurityProvider):
    """RSA-signed requests and replies, as MCollective's ssl plugin does them."""

    name = "ssl"

    def __init__(self, config: Config, client: bool) -> None:
        super().__init__(config, client)
        serializer = (config.plugin("ssl_serializer") or "marshal").strip().lower()
        if serializer not in ("marshal", "yaml"):
            raise ConfigError(f"plugin.ssl_serializer must be marshal or yaml, not {serializer!r}")
        self.serializer = serializer
        self.enforce_ttl = config.plugin("ssl.enforce_ttl")
        self._server_public_path = self._required("ssl_server_public")
        if client:
            private = os.environ.get("MCOLLECTIVE_SSL_PRIVATE") or self._required("ssl_client_private")
            public = os.environ.get("MCOLLECTIVE_SSL_PUBLIC") or self._required("ssl_client_public")
            self._callerid = f"cert={_pem_basename(public)}"
            self._server_public = keys.read_public_key(self._server_public_path, "plugin.ssl_server_public")
            self._client_dir = ""
        else:
            private = os.environ.get("MCOLLECTIVE_SSL_PRIVATE") or self._required("ssl_server_private")
            self._callerid = f"cert={_pem_basename(self._server_public_path)}"
            self._client_dir = self._required("ssl_client_cert_dir")
            if not os.path.isdir(self._client_dir):
                raise SecurityError(f"plugin.ssl_client_cert_dir {self._client_dir} is not a directory")
        if not valid_callerid(self._callerid):
            raise SecurityError(f"Invalid callerid {self._callerid!r} generated from the public key file name")
        key = keys.read_private_key(private, "ssl private key")
        if not isinstance(key, rsa.RSAPrivateKey):
            raise SecurityError(f"ssl private key {private} is not an RSA key (MCollective's ssl plugin signs with RSA)")
        self._private = key
        self._client_keys = keys.PublicKeyCache()

    def _required(self, key: str) -> str:
        value = self.config.plugin(key)
        if not value:
            raise ConfigError(f"No plugin.{key} configuration option specified")
        return str(value)

    def callerid(self) -> str:
        return self._callerid

    # ------------------------------------------------------------ serializer
    def serialize(self, value: Any) -> bytes:
        if self.serializer == "yaml":
            return rubyyaml.dumps(value).encode("utf-8")
        return marshal.dumps(value)

    def deserialize(self, data: Any) -> Any:
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes):
            raise DecodeError("ssl message part is not a string")
        if self.serializer == "yaml":
            return rubyyaml.loads(data, max_depth=self.max_depth)
        return marshal.loads(data, max_depth=self.max_depth)

    def _wire_body(self, serialized: bytes) -> Any:
        """The serialized inner body as the outer serializer carries it (YAML: text)."""
        return serialized.decode("utf-8") if self.serializer == "yaml" else serialized

    def _sign(self, data: bytes) -> str:
        return keys.b64_signature(keys.sign(self._private, data, hashes.SHA1()))

    def _outer(self, payload: bytes) -> dict[Any, Any]:
        outer = self.deserialize(payload)
        if not isinstance(outer, dict):
            raise DecodeError("ssl message is not a hash")
        return outer

    @staticmethod
    def _signed_part(outer: dict[Any, Any]) -> tuple[bytes, bytes]:
        body = outer.get(_BODY)
        if isinstance(body, str):
            body = body.encode("utf-8")
        signature = keys.signature_bytes(outer.get(_HASH))
        if not isinstance(body, bytes) or signature is None:
            raise keys.refused("message carries no ssl signature", "unsigned")
        return body, signature

    # ------------------------------------------------------------ requests
    def encode_request(self, request: Request) -> bytes:
        inner = {_SSL_MSG: request.body, _SSL_TTL: request.ttl, _SSL_MSGTIME: request.msgtime}
        serialized = self.serialize(inner)
        envelope = request_envelope(request, self._wire_body(serialized), self._callerid, self.sender_identity())
        envelope[_HASH] = self._sign(serialized)
        return self.serialize(envelope)

    def _client_key(self, callerid: str) -> keys.PublicKey:
        match = _CERT_CALLER.match(callerid)
        if not match:
            raise keys.refused(f"Caller id {callerid[:60]!r} is not in the expected format", "untrusted")
        path = os.path.join(self._client_dir, f"{match.group(1)}.pem")
        if not os.path.isfile(path):
            raise keys.refused(f"Could not find a public key for {match.group(1)} in {path}", "untrusted")
        try:
            return self._client_keys.get(path, "client public key")
        except SecurityError as exc:
            raise keys.refused(str(exc), "untrusted") from None

    def decode_request(self, payload: bytes, headers: dict[str, str] | None = None) -> Request:
        outer = self._outer(payload)
        body, signature = self._signed_part(outer)
        callerid = text(outer.get(_CALLERID))
        if not keys.verify(self._client_key(callerid), signature, body, hashes.SHA1()):
            raise keys.refused("Received an invalid signature in message", "tampered")
        inner = self.deserialize(body)
        desc = f"{text(outer.get(_REQUESTID))} from {callerid}@{text(outer.get(_SENDERID))}"
        if isinstance(inner, dict):
            self._secure_property(outer, inner, _SSL_TTL, _TTL, "TTL", desc)
            self._secure_property(outer, inner, _SSL_MSGTIME, _MSGTIME, "Message Time", desc)
            if _SSL_MSG in inner:
                inner = inner[_SSL_MSG]
        elif self.enforce_ttl is not None:
            raise keys.refused(f"Message {desc} is in an unknown or older security protocol, ignoring", "tampered")
        request = parse_request_envelope(outer, inner)
        log.debug("request %s for %s verified: signed by %s", request.requestid, request.agent, request.callerid)
        return request

    def _secure_property(self, outer: dict[Any, Any], inner: dict[Any, Any], secure: Symbol, prop: Symbol,
                         description: str, desc: str) -> None:
        """ssl.rb's update_secure_property: the signed value must be there and equal the outer one."""
        if self.enforce_ttl != "0":
            if secure not in inner:
                raise keys.refused(f"Request {desc} does not have a secure {description}", "tampered")
            if inner[secure] != outer.get(prop):
                raise keys.refused(f"Request {desc} {description} does not match encrypted {description} - "
                                   "possible tampering", "tampered")
        elif secure not in inner:
            log.warning("Request %s does not have a secure %s", desc, description)
        elif inner[secure] != outer.get(prop):
            log.warning("Request %s %s does not match encrypted %s - possible tampering", desc, description,
                        description)
        if secure in inner:
            outer[prop] = inner.pop(secure)

    # ------------------------------------------------------------ replies
    def encode_reply(self, reply: Reply, request: Request) -> bytes:
        serialized = self.serialize(reply.body)
        envelope = reply_envelope(reply, self._wire_body(serialized))
        envelope[_HASH] = self._sign(serialized)
        return self.serialize(envelope)

    def decode_reply(self, payload: bytes, headers: dict[str, str] | None = None) -> Reply:
        outer = self._outer(payload)
        body, signature = self._signed_part(outer)
        if not keys.verify(self._server_public, signature, body, hashes.SHA1()):
            raise keys.refused("Received an invalid signature in message", "tampered")
        return parse_reply_envelope(outer, self.deserialize(body))
