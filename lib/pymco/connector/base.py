"""The connector contract: how daemon and client reach the middleware.

A connector moves opaque payloads (already encoded by the security provider)
between named places.  It knows the broker's destination layout for
MCollective (RabbitMQ exchanges or ActiveMQ topics/queues), keeps the
connection alive (pool failover, back-off, heart-beats) and re-subscribes
after a reconnect.  It never looks inside a payload.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Callable, NamedTuple

from pymco.config import Config
from pymco.errors import ConnectorError

__all__ = ["Incoming", "Connector"]


class Incoming(NamedTuple):
    """One message off the wire: the raw payload and its STOMP headers."""

    payload: bytes
    headers: dict[str, str]


MessageCallback = Callable[[Incoming], None]
StateCallback = Callable[[bool], None]

log = logging.getLogger(__name__)


class Connector(ABC):
    """Base class; subclasses fill in the transport and the destination layout."""

    name = "base"
    #: Whether the daemon's deafness probe (pymco.server.probe) runs over this transport: it needs
    #: a node to publish to its own request destinations.
    self_probe = True

    def __init__(self, config: Config, identity: str, daemon: bool = False) -> None:
        self.config = config
        self.identity = identity
        self.daemon = daemon
        self._on_message: MessageCallback | None = None
        self._on_state: StateCallback | None = None
        #: Set with the reason once the connector has stopped trying to reach any broker.
        self.gave_up: str | None = None
        #: Set by disconnect(): no retry loop may start or go on.
        self._closing = False

    def on_message(self, callback: MessageCallback) -> None:
        """Set the function called (on the connector's thread) for each message."""
        self._on_message = callback

    def on_state(self, callback: StateCallback) -> None:
        """Set the function told True on (re)connect and False on connection loss."""
        self._on_state = callback

    @abstractmethod
    def connect(self, timeout: float | None = None) -> None:
        """Connect to the first broker of the pool that accepts us."""

    def keep_connected(self) -> None:
        """Daemon start-up: connect now if possible, else keep retrying in the background.

        Retrying ends only on success or, when a limit is configured, with
        `gave_up` set: the daemon then exits, as a node cut off for good is
        better restarted by the service manager than left silently deaf.
        """
        self._closing = False
        try:
            self.connect()
        except ConnectorError as exc:
            log.error("%s; will keep retrying", exc)
            self._retry_in_background()

    @abstractmethod
    def _retry_in_background(self) -> None:
        """Start the transport's retry loop (at most one at a time) after a failed connect."""

    @abstractmethod
    def disconnect(self) -> None:
        """Close the connection; no reconnect follows."""

    def reconnect(self) -> None:
        """Connect afresh (every subscription made again); the daemon calls it when it finds itself deaf."""
        self.disconnect()
        self.keep_connected()

    @property
    @abstractmethod
    def connected(self) -> bool:
        ...

    # ---- daemon side
    @abstractmethod
    def subscribe_agent(self, agent: str, collective: str) -> None:
        """Receive broadcast requests for `agent` in `collective`."""

    @abstractmethod
    def unsubscribe_agent(self, agent: str, collective: str) -> None:
        ...

    @abstractmethod
    def subscribe_directed(self, collective: str) -> None:
        """Receive requests addressed to this node's identity in `collective`."""

    @abstractmethod
    def confirm_subscriptions(self, timeout: float = 10) -> None:
        """Return once the broker has acted on every subscription sent so far."""

    @abstractmethod
    def publish_reply(self, payload: bytes, request_headers: dict[str, str], ttl: int) -> None:
        """Send a reply to where the request asked (its reply-to header)."""

    # ---- client side
    @abstractmethod
    def reply_target(self, agent: str, collective: str) -> str:
        """Make ready and return the destination replies should be sent to."""

    def release_reply_target(self, target: str) -> None:
        """Forget a reply destination once its request is complete."""

    def reply_address(self, agent: str, collective: str) -> str:
        """A reply-to for messages nobody answers (registration): nothing is subscribed."""
        return f"/temp-queue/mcollective_reply_{agent}"

    @abstractmethod
    def publish_request(self, payload: bytes, agent: str, collective: str, reply_to: str,
                        ttl: int, nodes: list[str] | None = None) -> None:
        """Broadcast to `agent` in `collective`, or send to each of `nodes`."""

    def broker_error(self) -> str | None:
        """Why the broker closed the connection, when it said so."""
        return None

    # ---- helpers for subclasses
    def _deliver(self, payload: bytes, headers: dict[str, str]) -> None:
        callback = self._on_message
        if callback is not None:
            callback(Incoming(payload, headers))

    def _state(self, up: bool) -> None:
        callback = self._on_state
        if callback is not None:
            callback(up)
