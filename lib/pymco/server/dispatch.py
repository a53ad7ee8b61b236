"""One SimpleRPC request through its agent: validate, authorize, audit, act.

The order is MCollective's `handlemsg`: DDL validation (status 4), then the
authorization hook (status 1 on denial), then audit (which, unlike
MCollective, also records denials, with the reason), then the action, whose
exceptions map to status codes (RPCError subclasses carry theirs; anything
else is 5 with its message).  The reply data is made Marshal-safe here so an
agent returning a tuple or a set cannot break the encoder.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pymco.agent import RPCReply, RPCRequest
from pymco.ddl.validate import validate_request
from pymco.errors import AuthorizationDenied, DDLValidationError, RPCError
from pymco.protocol.message import Request, rpc_reply_body, text

if TYPE_CHECKING:
    from pymco.server.agents import LoadedAgent
    from pymco.server.node import NodeContext

log = logging.getLogger(__name__)

__all__ = ["rpc_request", "handle_rpc", "wire_safe"]


def wire_safe(value: Any) -> Any:
    """Plain Marshal-able data: str/bytes/int/float/bool/None/list/dict."""
    if value is None or isinstance(value, (str, bytes, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {k if isinstance(k, (str, int)) else str(k): wire_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [wire_safe(v) for v in value]
    return str(value)


def rpc_request(request: Request) -> RPCRequest:
    """The agent's view of a decoded SimpleRPC request; DDLValidationError if malformed."""
    body = request.body
    if not isinstance(body, dict):
        raise DDLValidationError("request body is not a SimpleRPC request")
    action = text(body.get("action"))
    if not action:
        raise DDLValidationError("request has no action")
    raw = body.get("data") or {}
    if not isinstance(raw, dict):
        raise DDLValidationError("request data is not a hash")
    data = {str.__str__(k) if isinstance(k, str) else text(k): v for k, v in raw.items()}
    data.pop("process_results", None)
    return RPCRequest(agent=request.agent, action=action, data=data,
                      caller=request.callerid, sender=request.senderid, uniqid=request.requestid,
                      time=request.msgtime, ttl=request.ttl, collective=request.collective)


def wants_reply(request: Request) -> bool:
    body = request.body
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, dict) and data.get("process_results") is False:
            return False
    return True


def authorize_and_audit(rpc: RPCRequest, loaded: "LoadedAgent", node: "NodeContext") -> None:
    """The authorization hook, then the audit record (denials included); raises to refuse."""
    authorized: bool | None = None
    if node.authorizer is not None:
        try:
            node.authorizer.authorize(rpc, loaded.ddl, node)
            authorized = True
        except AuthorizationDenied as exc:
            node.stats.incr("unauthorized")
            if node.auditor is not None:
                node.auditor.audit(rpc, loaded.ddl, authorized=False, reason=exc.reason)
            raise
    if node.auditor is not None:
        node.auditor.audit(rpc, loaded.ddl, authorized=authorized)


def handle_rpc(loaded: "LoadedAgent", request: Request, node: "NodeContext") -> dict[Any, Any]:
    """Run the request's action and return the reply body."""
    try:
        rpc = rpc_request(request)
        spec = validate_request(loaded.ddl, rpc.action, rpc.data)
    except DDLValidationError as exc:
        log.info("request %s for %s refused: %s", request.requestid, loaded.name, exc)
        return rpc_reply_body(4, str(exc), {})
    reply = RPCReply(spec)
    try:
        authorize_and_audit(rpc, loaded, node)
        loaded.instance.call(rpc.action, rpc, reply)
    except RPCError as exc:
        reply.fail(str(exc), exc.status)
        if exc.status == 1:
            log.info("%s#%s aborted: %s", loaded.name, rpc.action, exc)
        else:
            log.warning("%s#%s failed with status %d: %s", loaded.name, rpc.action, exc.status, exc)
    except Exception as exc:  # noqa: BLE001 - an agent bug becomes status 5, as in MCollective
        log.error("%s#%s raised %s: %s", loaded.name, rpc.action, type(exc).__name__, exc, exc_info=True)
        reply.fail(str(exc) or type(exc).__name__, 5)
    return rpc_reply_body(reply.statuscode, reply.statusmsg, wire_safe(reply.data))
