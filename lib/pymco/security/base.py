"""The security provider contract: envelopes to bytes and back, with proof.

A provider decides who a message is from (the callerid) and whether it can be
trusted.  It turns a `Request`/`Reply` into the bytes put on the wire and
verifies incoming bytes before anything else looks at them.  TTL, filters and
authorization are the daemon's business, not the provider's, except where a
provider's own scheme covers them (x509 signs ttl and msgtime).

The helpers here build MCollective's envelope hashes so that every provider
speaks the same outer format.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from typing import Any

from pymco.config import Config
from pymco.errors import DecodeError, SecurityValidationFailed
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request, text

__all__ = ["SecurityProvider", "valid_callerid", "request_envelope", "reply_envelope",
           "parse_request_envelope", "parse_reply_envelope", "decode_outer"]

_CALLERID = re.compile(r"^\w+=[\w.\-]+$")

_BODY, _SENDERID, _REQUESTID, _FILTER = Symbol("body"), Symbol("senderid"), Symbol("requestid"), Symbol("filter")
_COLLECTIVE, _AGENT, _CALLERID_K, _TTL = Symbol("collective"), Symbol("agent"), Symbol("callerid"), Symbol("ttl")
_MSGTIME, _HASH, _SENDERAGENT = Symbol("msgtime"), Symbol("hash"), Symbol("senderagent")


def valid_callerid(callerid: str) -> bool:
    """`kind=name`; fullmatch, as `$` alone would let a trailing newline through into logs and policies."""
    return bool(_CALLERID.fullmatch(callerid))


class SecurityProvider(ABC):
    """Base class: subclasses implement the four codec methods and callerid()."""

    name = "base"

    def __init__(self, config: Config, client: bool) -> None:
        self.config = config
        self.client = client
        self.max_depth = 64

    @abstractmethod
    def callerid(self) -> str:
        """Who we are when we send a request (e.g. 'uid=0', 'cert=alice')."""

    @abstractmethod
    def encode_request(self, request: Request) -> bytes:
        ...

    @abstractmethod
    def decode_request(self, payload: bytes, headers: dict[str, str] | None = None) -> Request:
        """Verify and decode; raise SecurityValidationFailed or DecodeError."""

    @abstractmethod
    def encode_reply(self, reply: Reply, request: Request) -> bytes:
        ...

    @abstractmethod
    def decode_reply(self, payload: bytes, headers: dict[str, str] | None = None) -> Reply:
        ...

    def sender_identity(self) -> str:
        return self.config.identity

    def _callerid_by_type(self, callertype: str) -> str:
        """MCollective's psk callertype choices."""
        if callertype == "gid":
            return f"gid={os.getgid()}"
        if callertype == "group":
            import grp

            return f"group={grp.getgrgid(os.getgid()).gr_name}"
        if callertype == "user":
            import pwd

            return f"user={pwd.getpwuid(os.getuid()).pw_name}"
        if callertype == "identity":
            return f"identity={self.config.identity}"
        return f"uid={os.getuid()}"


def decode_outer(payload: bytes, max_depth: int = 64) -> dict[Any, Any]:
    outer = marshal.loads(payload, max_depth=max_depth)
    if not isinstance(outer, dict):
        raise DecodeError("message is not a Marshal hash")
    return outer


def request_envelope(request: Request, body: Any, callerid: str, senderid: str) -> dict[Symbol, Any]:
    """MCollective's create_request hash (without :hash)."""
    return {
        _BODY: body,
        _SENDERID: senderid,
        _REQUESTID: request.requestid,
        _FILTER: request.filter,
        _COLLECTIVE: request.collective,
        _AGENT: request.agent,
        _CALLERID_K: callerid,
        _TTL: request.ttl,
        _MSGTIME: request.msgtime,
    }


def reply_envelope(reply: Reply, body: Any) -> dict[Symbol, Any]:
    """MCollective's create_reply hash (without :hash)."""
    return {
        _SENDERID: reply.senderid,
        _REQUESTID: reply.requestid,
        _SENDERAGENT: reply.senderagent,
        _MSGTIME: reply.msgtime,
        _BODY: body,
    }


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError(f"message field :{name} is not an integer")
    return value


def parse_request_envelope(outer: dict[Any, Any], body: Any) -> Request:
    """Build a Request from a verified envelope; the fields are checked for type."""
    filt = outer.get(_FILTER) or {}
    if not isinstance(filt, dict):
        raise DecodeError("message field :filter is not a hash")
    callerid = text(outer.get(_CALLERID_K))
    if not valid_callerid(callerid):
        raise SecurityValidationFailed(f"invalid callerid {callerid[:60]!r}")
    agent = text(outer.get(_AGENT))
    collective = text(outer.get(_COLLECTIVE))
    requestid = text(outer.get(_REQUESTID))
    if not agent or not collective or not requestid:
        raise DecodeError("message lacks :agent, :collective or :requestid")
    return Request(
        agent=agent,
        collective=collective,
        body=body,
        filter=filt,
        requestid=requestid,
        senderid=text(outer.get(_SENDERID)),
        callerid=callerid,
        ttl=_int(outer.get(_TTL, 60), "ttl"),
        msgtime=_int(outer.get(_MSGTIME, 0), "msgtime"),
    )


def parse_reply_envelope(outer: dict[Any, Any], body: Any) -> Reply:
    return Reply(
        senderid=text(outer.get(_SENDERID)),
        requestid=text(outer.get(_REQUESTID)),
        senderagent=text(outer.get(_SENDERAGENT)),
        body=body,
        msgtime=_int(outer.get(_MSGTIME, 0), "msgtime"),
    )
