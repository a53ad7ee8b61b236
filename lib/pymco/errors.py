"""The one error hierarchy of pymco.

Library code raises these; only the CLI (`pymco.cli.main`) and the daemon's
request loop turn them into messages, exit codes, log lines and reply status
codes.  Anything that is not a `PymcoError` reaching those places is a bug and
is reported as such.
"""

from __future__ import annotations

__all__ = [
    "PymcoError",
    "ConfigError",
    "PluginError",
    "ConnectorError",
    "BrokerRefused",
    "MessageError",
    "DecodeError",
    "SecurityError",
    "SecurityValidationFailed",
    "MsgTTLExpired",
    "NotTargettedAtUs",
    "DDLError",
    "DDLValidationError",
    "FilterSyntaxError",
    "FactsError",
    "ValidatorError",
    "RPCError",
    "RPCAborted",
    "AuthorizationDenied",
    "UnknownRPCAction",
    "MissingRPCData",
    "InvalidRPCData",
    "UnknownRPCError",
    "ActionFailed",
    "ClientError",
    "NoNodesDiscovered",
    "ClientTimeout",
    "DiscoveryError",
]


class PymcoError(Exception):
    """Root of every error pymco raises on purpose."""


class ConfigError(PymcoError):
    """A configuration file or option is wrong; the message names file and line."""


class PluginError(PymcoError):
    """A plugin could not be found, loaded or activated."""


class ConnectorError(PymcoError):
    """The middleware connection failed."""

    def __init__(self, message: str, recoverable: bool = True) -> None:
        super().__init__(message)
        self.recoverable = recoverable


class BrokerRefused(ConnectorError):
    """The broker answered but refused us (credentials, vhost, missing exchange)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, recoverable=False)


class MessageError(PymcoError):
    """A message could not be understood or is not for us."""


class DecodeError(MessageError):
    """A payload is not valid Marshal/YAML/JSON, or exceeds a decoding limit."""


class SecurityError(MessageError):
    """A security provider refused a message or cannot work."""


class SecurityValidationFailed(SecurityError):
    """A message failed its signature/hash check."""


class MsgTTLExpired(MessageError):
    """A message is older than its TTL."""


class NotTargettedAtUs(MessageError):
    """A message's filter does not select this node (MCollective's spelling)."""


class DDLError(PymcoError):
    """A DDL file is missing or malformed."""


class DDLValidationError(DDLError):
    """A request does not satisfy its DDL (MCollective reply status 4)."""


class FilterSyntaxError(PymcoError):
    """A -F/-C/-I/-A/-W/-S filter cannot be parsed."""


class FactsError(PymcoError):
    """Facts could not be loaded or refreshed."""


class ValidatorError(PymcoError):
    """A value failed a DDL validator."""


class RPCError(PymcoError):
    """An action ended with a non-zero MCollective status code."""

    status = 5


class RPCAborted(RPCError):
    status = 1


class ToolMissing(RPCAborted):
    """A tool an action needs is not installed on the node: the request was not carried out (status 1).

    Never answered as if the tool had spoken: a package agent without rpm must
    not report packages `absent`.
    """


class AuthorizationDenied(RPCAborted):
    """An authorization plugin refused a request (status 1).

    `str()` is the message the caller gets; `reason` is what the operator
    needs (which policy file and rule), kept for the daemon and audit logs only.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownRPCAction(RPCError):
    status = 2


class MissingRPCData(RPCError):
    status = 3


class InvalidRPCData(RPCError):
    status = 4


class UnknownRPCError(RPCError):
    status = 5


class ActionFailed(UnknownRPCError):
    """The node could not do what an action asked (a command failed, a tool is missing).

    Status 5 with the reason, as a RuntimeError raised inside a Ruby agent;
    the reply keeps the data the action filled in before failing.
    """


class ClientError(PymcoError):
    """A client-side failure that is not the nodes' fault."""


class NoNodesDiscovered(ClientError):
    pass


class ClientTimeout(ClientError):
    pass


class DiscoveryError(ClientError):
    """A discovery method cannot honour the request (e.g. unsupported filter)."""
