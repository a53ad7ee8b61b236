"""A daemon that notices it is deaf: a low-rate probe sent to itself through the broker.

A connection can stay up while the broker no longer routes to it: a queue
deleted behind its back, a binding lost in a cluster partition (RabbitMQ's
topic routing was seen inconsistent across members after `autoheal`), a
subscription the broker cancelled.  Heart-beats cannot tell; only a message
that goes the whole way round can.  Every `probe_interval` seconds the daemon
sends itself two probes, one down each path a request takes:

* directed: to its own identity in its main collective, through its real
  directed subscription (the path of `mco rpc -I`);
* broadcast: to an agent name only it subscribes (`pymco_probe_<identity>`),
  through the collective's broadcast destination.  Its subscription is made
  at the same time and in the same way as the agents', but it is a binding of
  its own: a single agent's binding lost alone is not seen (docs/brokers.md).

A probe is not an MCollective message (no security envelope; nothing answers
it): a marker, this process's random token and a sequence number.  Nobody else
subscribes where it goes, so Ruby nodes and clients on the same collective
never see one.  When a probe is not back within `probe_timeout` seconds the
daemon logs one line, counts it as `deaf` in its stats and reconnects (the
connector tries another pool member first), which makes every subscription
afresh.  A daemon is therefore deaf for at most probe_interval +
probe_timeout seconds plus a reconnect (and a splay of up to 5 s), when its
previous round came back.

An overloaded broker delays probes; a whole fleet reconnecting at once would
overload it further (seen with 1,000 simulated nodes probing every second with a
1 s timeout on a loaded machine).  So the rounds of a fleet are spread: each
daemon starts at a random point of its interval, waits a random splay before
reconnecting, and after a reconnect waits twice as long before its next round
(up to 8 intervals; back to one after a round that came back).  With the connector in
agents_multiplex mode the broadcast probe would reach every node: only the
directed one is sent.
"""

from __future__ import annotations

import logging
import os
import random
import threading

from pymco.config import Config
from pymco.connector.base import Connector
from pymco.errors import ConnectorError
from pymco.server.stats import RunnerStats

log = logging.getLogger(__name__)

__all__ = ["DeafnessProbe", "MARKER", "probe_agent"]

MARKER = b"pymco-deafness-probe "
MAX_BACKOFF = 8  # intervals between rounds after repeated reconnects
RECONNECT_SPLAY = 5.0  # seconds, at most: daemons that went deaf together reconnect spread out


def probe_agent(identity: str) -> str:
    """The broadcast agent name only this node subscribes to."""
    return f"pymco_probe_{identity}"


class DeafnessProbe:
    def __init__(self, config: Config, connector: Connector, stats: RunnerStats) -> None:
        self.connector = connector
        self.stats = stats
        self.identity = config.identity
        self.collective = config.main_collective
        self.interval = config.probe_interval
        self.timeout = min(config.probe_timeout, self.interval)
        self.directed = bool(config.direct_addressing)
        self.broadcast = not getattr(connector, "multiplex", False)
        self._token = os.urandom(8).hex().encode()
        self._serial = 0
        self._heard: set[bytes] = set()
        self._arrived = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.interval > 0 and self.connector.self_probe and (self.directed or self.broadcast)

    def start(self) -> None:
        """Subscribe the broadcast probe's agent and start probing (after the daemon's own subscriptions)."""
        if self.enabled:
            if self.broadcast:
                self.connector.subscribe_agent(probe_agent(self.identity), self.collective)
            self._thread = threading.Thread(target=self._loop, name="pymco-deafness-probe", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def is_probe(self, payload: bytes) -> bool:
        return payload.startswith(MARKER)

    def heard(self, payload: bytes) -> None:
        """A probe arrived (on the connector's thread); another process's, or a late one, is ignored."""
        parts = payload[len(MARKER):].split(b" ")
        if len(parts) == 3 and parts[0] == self._token and parts[2] == str(self._serial).encode():
            with self._arrived:
                self._heard.add(parts[1] + b" " + parts[2])
                self._arrived.notify_all()

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        backoff = 1
        wait = random.uniform(0, self.interval)  # a fleet started together does not probe together
        while not self._stop.wait(wait):
            # not gated on `connected`: a broker's ERROR frame (a cancelled subscription) makes
            # that false while the connection stays up, deaf; a connection really down fails the send
            deaf = self.round()
            if deaf and not self._stop.is_set():
                self.stats.incr("deaf")
                log.error("deaf: no probe came back through the %s path within %gs; reconnecting "
                          "to make every subscription afresh", " and ".join(deaf), self.timeout)
                if self._stop.wait(random.uniform(0, min(RECONNECT_SPLAY, self.interval))):
                    return
                try:
                    self.connector.reconnect()
                except ConnectorError as exc:
                    log.warning("reconnect after a failed probe: %s", exc)
                backoff = min(backoff * 2, MAX_BACKOFF)
            elif not deaf:
                backoff = 1
            wait = self.interval * backoff

    def round(self) -> list[str]:
        """Send one probe down each path; the paths whose probe did not come back in time."""
        self._serial += 1
        sent = []
        try:
            for path in ("directed", "broadcast"):
                if getattr(self, path):
                    self._send(path)
                    sent.append(path)
        except ConnectorError as exc:
            log.debug("probe not sent: %s", exc)
            return []  # a lost connection: the connector notices it and reconnects
        wanted = {f"{path} {self._serial}".encode() for path in sent}
        with self._arrived:
            self._arrived.wait_for(lambda: wanted <= self._heard or self._stop.is_set(), self.timeout)
            missing = wanted - self._heard
            self._heard -= wanted
        return [path for path in sent if f"{path} {self._serial}".encode() in missing]

    def _send(self, path: str) -> None:
        payload = MARKER + b" ".join((self._token, path.encode(), str(self._serial).encode()))
        agent = probe_agent(self.identity)
        reply_to = self.connector.reply_address(agent, self.collective)
        ttl = max(1, int(self.timeout))
        if path == "directed":
            self.connector.publish_request(payload, agent, self.collective, reply_to, ttl, nodes=[self.identity])
        else:
            self.connector.publish_request(payload, agent, self.collective, reply_to, ttl)
