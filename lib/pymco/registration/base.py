"""Registration: each daemon tells the collective who it is, every `registerinterval` seconds.

MCollective's model: a registration plugin builds a body, which is sent as an
ordinary request to the `registration` agent, broadcast in
`registration_collective` (else the main collective), with a filter naming
that agent so only nodes running a registration agent, or a receiver such as
`pymcod registration-receiver`, take it.  Nobody replies.  `registerinterval
= 0` (the default) turns it off; `registration_splay` delays the first one by
a random part of the interval so a fleet restarted at once does not register
in one burst.  pymco also registers right after every reconnect, so an
inventory learns quickly about nodes that come back after a broker outage.
"""

from __future__ import annotations

import logging
import random
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from pymco.config import Config
from pymco.errors import PymcoError
from pymco.matcher.filter import Filter
from pymco.protocol.message import Request

if TYPE_CHECKING:
    from pymco.connector.base import Connector
    from pymco.security.base import SecurityProvider
    from pymco.server.node import NodeContext

log = logging.getLogger(__name__)

__all__ = ["Registration", "Registrar", "target_collective"]


class Registration(ABC):
    """A registration plugin: what a node says about itself."""

    name = "base"

    def __init__(self, config: Config, node: "NodeContext") -> None:
        self.config = config
        self.node = node

    @abstractmethod
    def body(self) -> Any:
        """The registration message body; None skips this round."""


def target_collective(config: Config) -> str:
    """`registration_collective` if this node is in it, else the main collective (as MCollective)."""
    wanted = config.registration_collective or config.main_collective
    if wanted not in config.collectives:
        log.warning("Sending registration to %s: %s is not a valid collective", config.main_collective, wanted)
        return config.main_collective
    return wanted


class Registrar:
    """The daemon's registration thread."""

    def __init__(self, config: Config, plugin: Registration, connector: "Connector",
                 security: "SecurityProvider") -> None:
        self.config = config
        self.plugin = plugin
        self.connector = connector
        self.security = security
        self.interval = config.registerinterval
        self.collective = target_collective(config)
        self.sent = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="pymco-registration", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def publish(self) -> bool:
        """Send one registration message now; False (logged) when it could not be sent."""
        try:
            body = self.plugin.body()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the daemon
            log.error("registration plugin %s failed: %s: %s", self.plugin.name, type(exc).__name__, exc)
            return False
        if body is None:
            log.debug("Skipping registration due to nil body")
            return False
        flt = Filter()
        flt.add_agent("registration")
        request = Request(agent="registration", collective=self.collective, body=body, filter=flt.to_wire(),
                          callerid=self.security.callerid(), senderid=self.config.identity, ttl=self.config.ttl)
        try:
            payload = self.security.encode_request(request)
            self.connector.publish_request(payload, "registration", self.collective,
                                           self.connector.reply_address("registration", self.collective),
                                           self.config.ttl)
        except PymcoError as exc:
            log.warning("Sending registration message failed: %s", exc)
            return False
        self.sent += 1
        log.debug("Sent registration %s to collective %s", request.requestid, self.collective)
        return True

    def _loop(self) -> None:
        if self.config.registration_splay:
            delay = random.uniform(0, self.interval)
            log.debug("registration_splay enabled. Registration will start in %.1f seconds", delay)
            if self._stop.wait(delay):
                return
        was_connected = False
        due = 0.0
        clock = 0.0
        step = min(1.0, float(self.interval))
        while not self._stop.is_set():
            connected = self.connector.connected
            if connected and (not was_connected or clock >= due):
                if self.publish():
                    due = clock + self.interval
            was_connected = connected
            self._stop.wait(step)
            clock += step
