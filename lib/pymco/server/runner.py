"""The daemon's request path, from the wire to the reply.

    connector thread:  size limit -> security decode -> TTL -> collective
                       -> filter -> agent lookup -> queue (or "overloaded")
    worker thread:     dispatch (DDL, authz, audit, action) -> encode -> reply

Everything that can go wrong with a message is logged, counted in the
daemon's stats and dropped; nothing a sender does can stop the loop.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pymco.config import Config
from pymco.connector.base import Connector, Incoming
from pymco.errors import (ConnectorError, MessageError, MsgTTLExpired, PymcoError, SecurityValidationFailed)
from pymco.matcher.filter import Filter
from pymco.matcher.node import matches
from pymco.protocol.message import Reply, Request, rpc_reply_body
from pymco.security.base import SecurityProvider
from pymco.server.agents import AgentManager, LoadedAgent
from pymco.server.dispatch import handle_rpc, wants_reply
from pymco.server.node import NodeContext
from pymco.server.probe import DeafnessProbe
from pymco.server.workers import Job, WorkerPool
from pymco.shell import JobContext

log = logging.getLogger(__name__)

__all__ = ["Runner"]


class Runner:
    def __init__(self, config: Config, connector: Connector, security: SecurityProvider,
                 node: NodeContext, agents: AgentManager, pool: WorkerPool) -> None:
        self.config = config
        self.connector = connector
        self.security = security
        self.node = node
        self.agents = agents
        self.pool = pool
        self.stats = node.stats
        self.max_size = config.max_message_size
        self.collectives = set(config.collectives)
        self.probe = DeafnessProbe(config, connector, self.stats)
        connector.on_message(self.on_message)

    # ---------------------------------------------------------- subscriptions
    def subscribe(self, names: list[str] | None = None) -> None:
        for collective in self.config.collectives:
            if self.config.direct_addressing:
                self.connector.subscribe_directed(collective)
            for name in names if names is not None else self.agents.names():
                self.connector.subscribe_agent(name, collective)

    def reload_agents(self) -> None:
        """SIGUSR1: rescan agents; in-flight requests keep their loaded agent."""
        before = set(self.agents.names())
        self.agents.load_all()
        after = set(self.agents.names())
        for gone in sorted(before - after):
            for collective in self.config.collectives:
                self.connector.unsubscribe_agent(gone, collective)
        self.subscribe(sorted(after - before))

    # ---------------------------------------------------------- receiving
    def on_message(self, incoming: Incoming) -> None:
        payload = incoming.payload
        if self.probe.is_probe(payload):
            self.probe.heard(payload)
            return
        stats = self.stats
        stats.incr("total")
        if len(payload) > self.max_size:
            stats.incr("dropped")
            log.warning("dropping a %d byte message from %s: larger than max_message_size (%d)",
                        len(payload), incoming.headers.get("mc_sender", "?"), self.max_size)
            return
        try:
            request = self.security.decode_request(payload, incoming.headers)
        except SecurityValidationFailed as exc:
            stats.incr("unvalidated")
            # providers name the specific reason's counter (unsigned, tampered, replay, ...)
            counter = getattr(exc, "counter", None)
            if counter:
                stats.incr(counter)
            log.warning("dropping a message from %s: %s", incoming.headers.get("mc_sender", "?"), exc)
            return
        except MsgTTLExpired as exc:
            stats.incr("ttlexpired")
            log.warning("dropping a message from %s: %s", incoming.headers.get("mc_sender", "?"), exc)
            return
        except MessageError as exc:
            stats.incr("replay" if "replay" in str(exc).lower() else "dropped")
            log.warning("dropping a message from %s: %s", incoming.headers.get("mc_sender", "?"), exc)
            return
        except Exception as exc:  # noqa: BLE001 - hostile input must never stop the loop
            stats.incr("dropped")
            log.error("dropping an undecodable message: %s: %s", type(exc).__name__, exc)
            return
        stats.incr("validated")
        request.headers = incoming.headers
        try:
            self.process(request)
        except Exception as exc:  # noqa: BLE001 - a validated but malformed request must not stop the loop
            log.error("dropping request %s from %s: %s: %s", request.requestid, request.callerid,
                      type(exc).__name__, exc)

    def process(self, request: Request) -> None:
        stats = self.stats
        age = time.time() - request.msgtime
        if age > request.ttl:
            stats.incr("ttlexpired")
            log.warning("message %s from %s created at %d is %d seconds old, TTL is %d. Rejecting message.",
                        request.requestid, request.callerid, request.msgtime, int(age), request.ttl)
            return
        if request.collective not in self.collectives:
            stats.incr("filtered")
            log.info("message %s is for collective %s which this node is not in", request.requestid,
                     request.collective)
            return
        try:
            selected = matches(Filter.from_wire(request.filter), self.node)
        except PymcoError as exc:
            selected = False
            log.info("filter of %s could not be evaluated: %s", request.requestid, exc)
        if not selected:
            stats.incr("filtered")
            log.debug("message %s does not pass filters", request.requestid)
            return
        stats.incr("passed")
        log.debug("message %s for agent %s from %s passed filters", request.requestid, request.agent,
                  request.callerid)
        loaded = self.agents.get(request.agent)
        if loaded is None:
            log.warning("message %s is for agent %s which is not loaded", request.requestid, request.agent)
            return
        if not self.pool.stopping and loaded.instance.runs_inline(request):
            body = self.reply_body(loaded, request)
            if body is not None:
                self.send_reply(request, body)
            return
        timeout = loaded.ddl.timeout
        job = Job(lambda ctx: self.execute(loaded, request, ctx, job), timeout,
                  lambda: self.answer_timeout(loaded, request), name=f"{request.agent} request {request.requestid}")
        if not self.pool.submit(job):
            if self.pool.stopping:
                stats.incr("dropped")
                log.warning("refusing %s: the daemon is shutting down", request.requestid)
                reason = f"{self.config.identity} is shutting down; request refused"
            else:
                stats.incr("overloaded")
                log.error("refusing %s: %d requests already queued", request.requestid, self.pool.queued)
                reason = (f"{self.config.identity} is overloaded ({self.pool.queued} requests queued); "
                          f"request refused")
            if loaded.instance.simplerpc and wants_reply(request):
                self.send_reply(request, rpc_reply_body(5, reason, {}))

    # ---------------------------------------------------------- executing
    def reply_body(self, loaded: LoadedAgent, request: Request) -> Any:
        """What the agent answers; None when no reply is wanted."""
        if loaded.instance.simplerpc:
            body = handle_rpc(loaded, request, self.node)
            return body if wants_reply(request) else None
        return loaded.instance.handle_message(request)

    def execute(self, loaded: LoadedAgent, request: Request, ctx: JobContext, job: Job) -> None:
        body = self.reply_body(loaded, request)
        if body is not None and job.claim("done"):
            self.send_reply(request, body)

    def answer_timeout(self, loaded: LoadedAgent, request: Request) -> None:
        self.stats.incr("timeouts")
        log.warning("%s request %s exceeded its %gs timeout; its processes were killed",
                    request.agent, request.requestid, loaded.ddl.timeout)
        if loaded.instance.simplerpc and wants_reply(request):
            self.send_reply(request, rpc_reply_body(
                5, f"{request.agent} action timed out after {loaded.ddl.timeout:g} seconds and was killed", {}))

    def send_reply(self, request: Request, body: Any) -> None:
        reply = Reply(senderid=self.config.identity, requestid=request.requestid,
                      senderagent=request.agent, body=body)
        try:
            payload = self.security.encode_reply(reply, request)
            self.connector.publish_reply(payload, request.headers, self.config.ttl)
        except (ConnectorError, PymcoError, ValueError, TypeError) as exc:
            log.error("could not send the reply to %s: %s", request.requestid, exc)
            return
        self.stats.incr("replies")
