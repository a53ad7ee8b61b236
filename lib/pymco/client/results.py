"""What a request produced: one `RPCResult` per reply and the call's `RequestStats`.

`RequestStats` carries exactly what MCollective's halt codes, stats footer
and "No response from" list need, plus the replies that arrived late or were
not expected, which pymco reports instead of silently dropping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pymco.protocol.marshal import Symbol

__all__ = ["RPCResult", "RequestStats", "plain"]


def plain(value: Any) -> Any:
    """Wire data as plain Python: bytes to str where UTF-8, Symbol values to str.

    Symbol keys stay Symbols (a str that compares and hashes as its name), so
    the client prints `{:utime=>0.2}` where the node sent Symbols, as Ruby does.
    """
    if isinstance(value, dict):
        return {plain_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    if isinstance(value, str) and type(value) is not str:
        return str.__str__(value)
    return value


def plain_key(key: Any) -> Any:
    if isinstance(key, Symbol):
        return key
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if isinstance(key, tuple):
        return str(key)
    return key


@dataclass
class RPCResult:
    agent: str
    action: str
    sender: str
    statuscode: int
    statusmsg: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent, "action": self.action, "sender": self.sender,
                "statuscode": self.statuscode, "statusmsg": self.statusmsg, "data": self.data}

    @property
    def ok(self) -> bool:
        return self.statuscode == 0


@dataclass
class RequestStats:
    requestid: str = ""
    discovered: int | None = None
    discovered_nodes: list[str] = field(default_factory=list)
    responded: list[str] = field(default_factory=list)
    okcount: int = 0
    failcount: int = 0
    starttime: float = field(default_factory=time.time)
    discoverytime: float = 0.0
    blocktime: float = 0.0
    totaltime: float = 0.0
    late: int = 0
    unverified: int = 0
    aggregate_text: str = ""

    @property
    def responses(self) -> int:
        return len(self.responded)

    @property
    def noresponsefrom(self) -> list[str]:
        got = set(self.responded)
        return sorted(n for n in self.discovered_nodes if n not in got)

    @property
    def unexpectedresponsefrom(self) -> list[str]:
        if self.discovered is None:
            return []
        wanted = set(self.discovered_nodes)
        return sorted(n for n in set(self.responded) if n not in wanted)

    def record(self, sender: str, ok: bool) -> None:
        self.responded.append(sender)
        if ok:
            self.okcount += 1
        else:
            self.failcount += 1

    def merge(self, other: "RequestStats") -> None:
        """Accumulate a batch into the whole call's stats."""
        self.responded.extend(other.responded)
        self.okcount += other.okcount
        self.failcount += other.failcount
        self.blocktime += other.blocktime
        self.late += other.late
        self.unverified += other.unverified
