"""One client process's connection to the collective.

A `Session` owns the connector and the security provider, publishes encoded
requests and hands back verified replies for one request id at a time.  It
connects lazily (so `mco help` never touches the broker), fails fast with a
clear message when no broker answers, and turns a connection lost mid-request
into a ConnectorError instead of a hang.
"""

from __future__ import annotations

import logging
import queue
import time
from typing import Callable

from pymco import plugins
from pymco.config import Config
from pymco.connector.base import Connector, Incoming
from pymco.errors import ConnectorError, MessageError, PymcoError
from pymco.protocol.message import Reply, Request
from pymco.security.base import SecurityProvider

log = logging.getLogger(__name__)

__all__ = ["Session", "CollectResult"]

_LOST = object()


class CollectResult:
    """How a wait for replies ended."""

    def __init__(self) -> None:
        self.late = 0          # replies to an earlier request of ours
        self.unverified = 0    # replies that failed security checks
        self.timed_out = False


class Session:
    def __init__(self, config: Config, connection_timeout: float | None = None) -> None:
        self.config = config
        self.identity = config.identity
        self.connection_timeout = connection_timeout if connection_timeout is not None else config.connection_timeout
        self._security: SecurityProvider | None = None
        self._connector: Connector | None = None
        self._queue: queue.Queue[object] = queue.Queue()
        self._finished: set[str] = set()
        #: told of each late reply to a finished request (mc discovery learns slow nodes)
        self._late_listeners: dict[str, Callable[[str], None]] = {}
        self._reply_targets: dict[str, str] = {}
        self.late_replies = 0

    @property
    def security(self) -> SecurityProvider:
        if self._security is None:
            self._security = plugins.resolve("security", self.config.securityprovider)(self.config, client=True)
        return self._security

    @property
    def connector(self) -> Connector:
        if self._connector is None:
            connector = plugins.resolve("connector", self.config.connector)(self.config, self.identity, daemon=False)
            connector.on_message(self._queue.put)
            connector.on_state(self._state)
            connector.connect(timeout=self.connection_timeout if self.connection_timeout else 10)
            self._connector = connector
        return self._connector

    def _state(self, up: bool) -> None:
        if not up:
            self._queue.put(_LOST)

    def callerid(self) -> str:
        return self.security.callerid()

    def publish(self, request: Request, nodes: list[str] | None = None, reply_to: str | None = None) -> str:
        """Encode and send; returns the reply destination used."""
        connector = self.connector
        target = reply_to or connector.reply_target(request.agent, request.collective)
        if reply_to is None:
            self._reply_targets[request.requestid] = target
        payload = self.security.encode_request(request)
        connector.publish_request(payload, request.agent, request.collective, target, request.ttl, nodes)
        return target

    def collect(self, requestid: str, timeout: float, on_reply: Callable[[Reply], bool | None],
                end_at: Callable[[], float | None] | None = None) -> CollectResult:
        """Feed verified replies for `requestid` to on_reply until it returns True or time is up.

        `end_at` (asked again after each reply) may end the wait sooner: it
        returns a monotonic time, or None to wait for the timeout.
        """
        result = CollectResult()
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            remaining = deadline - now
            early = end_at() if end_at is not None else None
            if early is not None:
                remaining = min(remaining, early - now)
            if remaining <= 0:
                result.timed_out = deadline - now <= 0
                break
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if item is _LOST:
                reason = self._connector.broker_error() if self._connector is not None else None
                if reason:
                    raise ConnectorError(f"the broker closed the connection: {reason}")
                raise ConnectorError("lost the connection to the broker while waiting for replies")
            reply = self._decode(item, result)  # type: ignore[arg-type]
            if reply is None:
                continue
            if reply.requestid != requestid:
                if reply.requestid in self._finished:
                    result.late += 1
                    self._tell_late(reply)
                continue
            if on_reply(reply):
                break
        self._finished.add(requestid)
        target = self._reply_targets.pop(requestid, None)
        if target is not None and self._connector is not None:
            self._connector.release_reply_target(target)
        return result

    def _decode(self, incoming: Incoming, result: CollectResult) -> Reply | None:
        limit = self.config.max_message_size
        if len(incoming.payload) > limit:  # the daemon's limit, applied to what nodes send back
            result.unverified += 1
            log.warning("ignoring a %d byte reply from %s: larger than max_message_size (%d)", len(incoming.payload),
                        incoming.headers.get("mc_sender", "?"), limit)
            return None
        try:
            reply = self.security.decode_reply(incoming.payload, incoming.headers)
        except MessageError as exc:
            result.unverified += 1
            log.warning("ignoring a reply that failed verification: %s", exc)
            return None
        except PymcoError as exc:
            result.unverified += 1
            log.warning("ignoring an undecodable reply: %s", exc)
            return None
        reply.headers = incoming.headers
        return reply

    def on_late(self, requestid: str, listener: Callable[[str], None]) -> None:
        """Call `listener` with the sender of each reply to `requestid` that comes after its wait ended."""
        self._late_listeners[requestid] = listener

    def _tell_late(self, reply: Reply) -> None:
        listener = self._late_listeners.get(reply.requestid)
        if listener is not None:
            listener(reply.senderid)

    def drain_late(self, requestids: set[str]) -> int:
        """Count replies to finished requests still queued (late arrivals)."""
        count = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return count
            if item is _LOST:
                continue
            try:
                reply = self.security.decode_reply(item.payload, item.headers)  # type: ignore[attr-defined]
            except PymcoError:
                continue
            self._tell_late(reply)
            if reply.requestid in requestids:
                count += 1

    def close(self) -> None:
        if self._connector is not None:
            self._connector.disconnect()
            self._connector = None
