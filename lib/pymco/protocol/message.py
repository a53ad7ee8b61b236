"""Request and reply envelopes, independent of how they are signed or sent.

These mirror MCollective 2.12's message hashes (`security/base.rb`): a request
carries body, senderid, requestid, filter, collective, agent, callerid, ttl and
msgtime; a reply carries senderid, requestid, senderagent, msgtime and body.
The security provider turns them into bytes and back; the connector moves the
bytes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from pymco.protocol.marshal import Symbol

__all__ = ["Request", "Reply", "new_requestid", "rpc_body", "rpc_reply_body", "text", "S"]


def new_requestid() -> str:
    """32 lowercase hex characters, as MCollective's uuid-without-dashes."""
    return os.urandom(16).hex()


def S(name: str) -> Symbol:
    """Shorthand for a Ruby Symbol key."""
    return Symbol(name)


def text(value: Any) -> str:
    """A wire string as str; Ruby sometimes sends identities as binary strings."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None:
        return ""
    return str(value)


@dataclass
class Request:
    agent: str
    collective: str
    body: Any
    filter: dict[str, Any] = field(default_factory=dict)
    requestid: str = field(default_factory=new_requestid)
    senderid: str = ""
    callerid: str = ""
    ttl: int = 60
    msgtime: int = field(default_factory=lambda: int(time.time()))
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # provider-specific envelope fields

    @property
    def age(self) -> float:
        return time.time() - self.msgtime

    @property
    def expired(self) -> bool:
        return self.age > self.ttl


@dataclass
class Reply:
    senderid: str
    requestid: str
    senderagent: str
    body: Any
    msgtime: int = field(default_factory=lambda: int(time.time()))
    callerid: str = ""  # set by providers that sign replies with an identity
    headers: dict[str, str] = field(default_factory=dict)


def rpc_body(agent: str, action: str, caller: str, data: dict[str, Any],
             process_results: bool = True) -> dict[Symbol, Any]:
    """The inner body of a SimpleRPC request, with MCollective's Symbol keys."""
    payload = {Symbol(k) if isinstance(k, str) else k: v for k, v in data.items()}
    payload[Symbol("process_results")] = process_results
    return {Symbol("agent"): agent, Symbol("action"): action, Symbol("caller"): caller, Symbol("data"): payload}


def rpc_reply_body(statuscode: int, statusmsg: str, data: dict[str, Any]) -> dict[Symbol, Any]:
    """The inner body of a SimpleRPC reply: {:statuscode, :statusmsg, :data}."""
    payload = {Symbol(k) if type(k) is str else k: v for k, v in data.items()}
    return {Symbol("statuscode"): statuscode, Symbol("statusmsg"): statusmsg, Symbol("data"): payload}
