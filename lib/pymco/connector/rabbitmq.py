"""MCollective's RabbitMQ destination layout over STOMP.

Broadcast requests go to the topic exchange `<collective>_broadcast` with the
agent as routing key, directed ones to `<collective>_directed` with the node
identity as routing key.  Replies use RabbitMQ's `/temp-queue/` feature: the
broker rewrites the request's reply-to into a private queue of the client's
connection, so the client never subscribes.  Same names and headers as
MCollective 2.12's rabbitmq connector, so Ruby and pymco nodes share a broker.
"""

from __future__ import annotations

import os

from pymco.config import Config
from pymco.connector.stomp import StompConnector

__all__ = ["RabbitMQConnector"]


class RabbitMQConnector(StompConnector):
    name = "rabbitmq"
    default_vhost = "/"

    def __init__(self, config: Config, identity: str, daemon: bool = False) -> None:
        super().__init__(config, identity, daemon)
        self.multiplex = self._bool("agents_multiplex", False)
        self.use_reply_exchange = self._bool("use_reply_exchange", False)
        self._sequence = 0

    # ---- daemon side
    def subscribe_agent(self, agent: str, collective: str) -> None:
        if self.multiplex:
            self._subscribe(f"/exchange/{collective}_broadcast", f"{collective}_broadcast")
        else:
            self._subscribe(f"/exchange/{collective}_broadcast/{agent}", f"{collective}_broadcast_{agent}")

    def unsubscribe_agent(self, agent: str, collective: str) -> None:
        if not self.multiplex:
            self._unsubscribe(f"/exchange/{collective}_broadcast/{agent}")

    def subscribe_directed(self, collective: str) -> None:
        self._subscribe(f"/exchange/{collective}_directed/{self.identity}",
                        f"{collective}_{self.identity}_directed_to_identity")

    def publish_reply(self, payload: bytes, request_headers: dict[str, str], ttl: int) -> None:
        target = request_headers.get("reply-to")
        if not target:
            raise ValueError("request has no reply-to header")
        self._send(target, payload, {"expiration": str((ttl + 10) * 1000), "mc_sender": self.identity})

    # ---- client side
    def reply_target(self, agent: str, collective: str) -> str:
        if self.use_reply_exchange:
            self._sequence += 1
            target = f"/exchange/mcollective_reply/{self.identity}_{os.getpid()}_{self._sequence}"
            self._subscribe(target, f"mcollective_{agent}_replies_{self._sequence}")
            return target
        return f"/temp-queue/mcollective_reply_{agent}"

    def release_reply_target(self, target: str) -> None:
        if target.startswith("/exchange/mcollective_reply/"):
            self._unsubscribe(target)

    def publish_request(self, payload: bytes, agent: str, collective: str, reply_to: str,
                        ttl: int, nodes: list[str] | None = None) -> None:
        headers = {"reply-to": reply_to, "expiration": str((ttl + 10) * 1000), "mc_sender": self.identity}
        if nodes is None:
            if self.multiplex:
                self._send(f"/exchange/{collective}_broadcast", payload, headers)
            else:
                self._send(f"/exchange/{collective}_broadcast/{agent}", payload, headers)
            return
        for node in nodes:
            self._send(f"/exchange/{collective}_directed/{node}", payload, headers)
