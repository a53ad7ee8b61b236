"""MCollective's `psk` security provider, byte-compatible with 2.12.

The inner body is Marshal-dumped on its own and carried as a binary string;
`:hash` is the hex MD5 of those bytes followed by the pre-shared key.  Only
the body is covered: filter, ttl, msgtime and callerid are not, which is why
pymco offers x509 for real deployments (see the README's security guide).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from pymco.config import Config
from pymco.errors import DecodeError, SecurityError, SecurityValidationFailed
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request
from pymco.security.base import (
    SecurityProvider,
    decode_outer,
    parse_reply_envelope,
    parse_request_envelope,
    reply_envelope,
    request_envelope,
)

__all__ = ["PskSecurity"]

_BODY, _HASH = Symbol("body"), Symbol("hash")

# CPython's own MD5 and constant-time compare: hashlib and hmac load OpenSSL's
# libcrypto, about 3.5 MiB of RSS in every daemon, for one MD5 per message
# (which the built-in computes as fast for messages this small).
_md5: Callable[[bytes], Any]
try:
    from _md5 import md5 as _md5
except ImportError:  # a build without it (FIPS): OpenSSL's
    import hashlib

    _md5 = hashlib.md5
try:
    from _operator import _compare_digest as _compare
except ImportError:
    from hmac import compare_digest as _compare


class PskSecurity(SecurityProvider):
    name = "psk"

    def __init__(self, config: Config, client: bool) -> None:
        super().__init__(config, client)
        psk = os.environ.get("MCOLLECTIVE_PSK", config.plugin("psk"))
        if not psk:
            raise SecurityError("No plugin.psk configuration option specified")
        self._psk = psk.encode("utf-8")
        self._callerid = self._callerid_by_type(config.plugin("psk.callertype", "uid"))

    def callerid(self) -> str:
        return self._callerid

    def _hash(self, body: bytes) -> str:
        return _md5(body + self._psk).hexdigest()

    def _verified_body(self, outer: dict[Any, Any]) -> Any:
        body = outer.get(_BODY)
        if not isinstance(body, bytes):
            if isinstance(body, str):
                body = body.encode("latin-1", "replace")
            else:
                raise DecodeError("message :body is not a string")
        digest = outer.get(_HASH)
        if isinstance(digest, str):
            digest = digest.encode("utf-8", "replace")  # compare bytes: compare_digest refuses non-ASCII str
        if not isinstance(digest, bytes) or not _compare(self._hash(body).encode("ascii"), digest):
            raise SecurityValidationFailed("Received an invalid signature in message")
        return marshal.loads(body, max_depth=self.max_depth)

    def encode_request(self, request: Request) -> bytes:
        body = marshal.dumps(request.body)
        callerid = request.callerid or self._callerid
        envelope = request_envelope(request, body, callerid, self.sender_identity())
        envelope[_HASH] = self._hash(body)
        return marshal.dumps(envelope)

    def decode_request(self, payload: bytes, headers: dict[str, str] | None = None) -> Request:
        outer = decode_outer(payload, self.max_depth)
        return parse_request_envelope(outer, self._verified_body(outer))

    def encode_reply(self, reply: Reply, request: Request) -> bytes:
        body = marshal.dumps(reply.body)
        envelope = reply_envelope(reply, body)
        envelope[_HASH] = self._hash(body)
        return marshal.dumps(envelope)

    def decode_reply(self, payload: bytes, headers: dict[str, str] | None = None) -> Reply:
        outer = decode_outer(payload, self.max_depth)
        return parse_reply_envelope(outer, self._verified_body(outer))
