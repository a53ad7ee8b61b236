"""The request and reply an agent's action works on.

Apart from pymco.agent so that what runs an action outside an Agent class
(pymco.external, the dispatcher, audit and authorization plugins) can use them
without importing the agent base class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from pymco.errors import RPCAborted

if TYPE_CHECKING:
    from pymco.ddl.model import ActionSpec

__all__ = ["RPCRequest", "RPCReply"]


class RPCRequest:
    """A validated request as an agent sees it."""

    __slots__ = ("agent", "action", "data", "caller", "sender", "uniqid", "time", "ttl", "collective")

    def __init__(self, agent: str, action: str, data: dict[str, Any], caller: str, sender: str,
                 uniqid: str, time: int, ttl: int, collective: str) -> None:
        self.agent = agent
        self.action = action
        self.data = data
        self.caller = caller
        self.sender = sender
        self.uniqid = uniqid
        self.time = time
        self.ttl = ttl
        self.collective = collective

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)


class RPCReply:
    """The reply under construction; outputs start at their DDL defaults."""

    __slots__ = ("statuscode", "statusmsg", "data")

    def __init__(self, spec: "ActionSpec | None" = None) -> None:
        self.statuscode = 0
        self.statusmsg = "OK"
        self.data: dict[str, Any] = {}
        if spec is not None:
            for key, out in spec.outputs.items():
                default = out.default
                self.data[key] = _copy(default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.data.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def fail(self, message: str, code: int = 1) -> None:
        """Mark the reply failed and carry on (MCollective's reply.fail)."""
        self.statuscode = code
        self.statusmsg = message

    def abort(self, message: str, code: int = 1) -> None:
        """Mark the reply failed and stop the action (MCollective's reply.fail!)."""
        self.fail(message, code)
        error = RPCAborted(message)
        error.status = code
        raise error


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
