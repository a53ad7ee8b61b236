"""MCollective's ActiveMQ destination layout over STOMP.

Broadcast requests go to the topic `/topic/<collective>.<agent>.agent` (or
`/topic/<collective>.agents` with `agents_multiplex`); directed requests go
to the one queue `/queue/<collective>.nodes`, one SEND per node carrying an
`mc_identity` header, and each daemon consumes only its own messages through
the selector `mc_identity = '<identity>'`.  Replies go to a queue per request,
`/queue/<collective>.reply.<identity>_<pid>.<sequence>`, which the client
subscribes to before it publishes.  Every message carries `timestamp` and
`expires` (epoch milliseconds, now + ttl + 10 s) so the broker drops what
nobody can use any more, and `priority` when `plugin.activemq.priority` is
set.  Names and headers are MCollective 2.12's, so Ruby and pymco nodes and
clients share one ActiveMQ.
"""

from __future__ import annotations

import base64
import binascii
import collections
import logging
import os
import time

from pymco.config import Config
from pymco.connector.stomp import StompConnector

log = logging.getLogger(__name__)

__all__ = ["ActiveMQConnector"]

#: Reply queues kept subscribed after their request finished, so that a reply
#: arriving after the timeout is still seen (and counted as late) instead of
#: sitting unread in the broker.
KEEP_REPLY_QUEUES = 8


class ActiveMQConnector(StompConnector):
    name = "activemq"
    default_vhost = "mcollective"

    def __init__(self, config: Config, identity: str, daemon: bool = False) -> None:
        super().__init__(config, identity, daemon)
        self.multiplex = self._bool("agents_multiplex", False)
        self.base64 = self._bool("base64", False)
        self.priority = int(self.config.plugin_number("activemq.priority", 0, int))
        self._sequence = 0
        self._finished_replies: collections.deque[str] = collections.deque()

    # ---- payload encoding (plugin.activemq.base64, as MCollective)
    def _deliver(self, payload: bytes, headers: dict[str, str]) -> None:
        if self.base64:
            try:
                payload = base64.b64decode(payload, validate=False)
            except (binascii.Error, ValueError):
                log.warning("dropping a message from %s: plugin.activemq.base64 is on but it is not base64",
                            headers.get("mc_sender", "?"))
                return
        super()._deliver(payload, headers)

    def _encode(self, payload: bytes) -> bytes:
        return base64.b64encode(payload) if self.base64 else payload

    def _headers(self, ttl: int) -> dict[str, str]:
        now = int(time.time())
        headers = {"timestamp": str(now * 1000), "expires": str((now + ttl + 10) * 1000),
                   "mc_sender": self.identity}
        if self.priority > 0:
            headers["priority"] = str(self.priority)
        return headers

    def _agent_topic(self, agent: str, collective: str) -> str:
        if self.multiplex:
            return f"/topic/{collective}.agents"
        return f"/topic/{collective}.{agent}.agent"

    # ---- daemon side
    def subscribe_agent(self, agent: str, collective: str) -> None:
        topic = self._agent_topic(agent, collective)
        self._subscribe(topic, topic)

    def unsubscribe_agent(self, agent: str, collective: str) -> None:
        if not self.multiplex:
            self._unsubscribe(self._agent_topic(agent, collective))

    def subscribe_directed(self, collective: str) -> None:
        self._subscribe(f"/queue/{collective}.nodes", f"{collective}_directed_to_identity",
                        {"selector": f"mc_identity = '{self.identity}'"})

    def publish_reply(self, payload: bytes, request_headers: dict[str, str], ttl: int) -> None:
        target = request_headers.get("reply-to")
        if not target:
            raise ValueError("request has no reply-to header")
        self._send(target, self._encode(payload), self._headers(ttl))

    # ---- client side
    def reply_target(self, agent: str, collective: str) -> str:
        self._sequence += 1
        target = f"/queue/{collective}.reply.{self.identity}_{os.getpid()}.{self._sequence}"
        self._subscribe(target, target)
        return target

    def reply_address(self, agent: str, collective: str) -> str:
        return f"/queue/{collective}.reply.{self.identity}_{os.getpid()}"

    def release_reply_target(self, target: str) -> None:
        if not target.startswith("/queue/") or ".reply." not in target:
            return
        self._finished_replies.append(target)
        while len(self._finished_replies) > KEEP_REPLY_QUEUES:
            self._unsubscribe(self._finished_replies.popleft())

    def publish_request(self, payload: bytes, agent: str, collective: str, reply_to: str,
                        ttl: int, nodes: list[str] | None = None) -> None:
        body = self._encode(payload)
        headers = self._headers(ttl)
        headers["reply-to"] = reply_to
        if nodes is None:
            self._send(self._agent_topic(agent, collective), body, headers)
            return
        for node in nodes:
            self._send(f"/queue/{collective}.nodes", body, dict(headers, mc_identity=node))
