"""NATS transport (nats-py): Choria's subject layout for MCollective messages.

    broadcast requests   <collective>.broadcast.agent.<agent>
    directed requests    <collective>.node.<identity>
    replies              <collective>.reply.<senderid>.<n>

`senderid` is the client's identity (dots made underscores) and process id;
the client subscribes once per collective to `<collective>.reply.<senderid>.*`
and gives every request its own `<n>`, so replies need no per-request
subscription round trip.  The reply subject travels as the NATS message's
reply field (Choria does the same), and payloads are exactly what the STOMP
connectors carry, encoded by the same security providers.

Connections run on the process's shared asyncio loop (nats_loop).  nats-py
keeps a daemon's connection alive: on loss it tries the pool's servers in
turn, waiting `reconnect_time_wait` seconds between rounds, re-sends the
subscriptions and buffers replies published meanwhile.  A client does not
reconnect: a lost connection ends its request with a clear error, as with
STOMP.  Settings, all `plugin.nats.*`: servers, user, password, token,
ssl.ca/ssl.cert/ssl.key/ssl.fallback, connect_timeout, reconnect_time_wait,
max_reconnect_attempts (0: forever), ping_interval, randomize.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
from typing import Any
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from pymco.config import Config
from pymco.connector import nats_loop
from pymco.connector.base import Connector
from pymco.errors import BrokerRefused, ConfigError, ConnectorError

log = logging.getLogger(__name__)

__all__ = ["NatsConnector", "broadcast_subject", "directed_subject"]

_BAD_TOKEN = re.compile(r"[\s*>]")


def broadcast_subject(collective: str, agent: str) -> str:
    return f"{collective}.broadcast.agent.{agent}"


def directed_subject(collective: str, identity: str) -> str:
    return f"{collective}.node.{identity}"


class NatsConnector(Connector):
    """A NATS connection to one server of the pool, kept alive by nats-py."""

    name = "nats"
    #: No deafness probe: NATS routes by live interest (a subscription lasts as long as its
    #: connection, which the client library watches with PINGs), so RabbitMQ's bindings that are
    #: listed but do not route have no counterpart; and per-collective permissions rightly forbid a
    #: node to publish to request subjects, which the probe would need.
    self_probe = False

    def __init__(self, config: Config, identity: str, daemon: bool = False) -> None:
        super().__init__(config, identity, daemon)
        if not identity or _BAD_TOKEN.search(identity):
            raise ConfigError(f"identity {identity!r} cannot be part of a NATS subject (no spaces, '*' or '>')")
        self.servers = self._read_servers()
        number = self.config.plugin_number
        self.user = self.config.plugin("nats.user") or None
        self.password = self.config.plugin("nats.password") or None
        self.token = self.config.plugin("nats.token") or None
        self.connect_timeout = float(number("nats.connect_timeout", 5.0))
        self.reconnect_wait = float(number("nats.reconnect_time_wait", 2.0))
        self.max_attempts = int(number("nats.max_reconnect_attempts", 0, int))
        self.ping_interval = int(number("nats.ping_interval", 30 if daemon else 120, int))
        self.randomize = self.config.plugin_bool("nats.randomize", False)
        self.tls = self._tls_context()
        self.senderid = f"{identity.replace('.', '_')}_{os.getpid()}"
        self._nc: Client | None = None
        self._subs: dict[str, Subscription | None] = {}
        self._reply_subs: set[str] = set()
        self._sequence = 0
        self._up = False
        self._error: str | None = None
        self._outbox: list[tuple[str, bytes]] = []
        self._in_callback = False

    # ------------------------------------------------------------ config
    def _read_servers(self) -> list[str]:
        text = self.config.plugin("nats.servers")
        if not text:
            raise ConfigError("plugin.nats.servers is not set: list the NATS servers, "
                              "e.g. nats://broker1:4222,nats://broker2:4222")
        servers = []
        for item in (part.strip() for part in str(text).split(",")):
            if not item:
                continue
            url = item if "://" in item else f"nats://{item}"
            parts = urlsplit(url)
            if parts.scheme not in ("nats", "tls") or not parts.hostname:
                raise ConfigError(f"plugin.nats.servers: {item!r} is not a nats://host:port or tls://host:port URL")
            try:
                parts.port
            except ValueError:
                raise ConfigError(f"plugin.nats.servers: {item!r} has a bad port") from None
            servers.append(url if parts.port else f"{url}:4222")
        return servers

    def _tls_context(self) -> ssl.SSLContext | None:
        plugin = self.config.plugin
        wanted = self.config.plugin_bool("nats.ssl", False) or any(s.startswith("tls://") for s in self.servers)
        if not wanted:
            return None
        from pymco.connector.pool import PoolMember
        from pymco.connector.tls import context_for

        member = PoolMember(index=0, host="", port=0, user=None, password=None, ssl=True,
                            ssl_ca=plugin("nats.ssl.ca"), ssl_cert=plugin("nats.ssl.cert"),
                            ssl_key=plugin("nats.ssl.key"),
                            ssl_fallback=self.config.plugin_bool("nats.ssl.fallback", False))
        return context_for(member, "plugin.nats")

    # ------------------------------------------------------------ connect
    @property
    def connected(self) -> bool:
        nc = self._nc
        return bool(nc is not None and nc.is_connected)

    def connect(self, timeout: float | None = None) -> None:
        """One pass over the pool; BrokerRefused when a server turns our credentials down."""
        self._closing = False
        limit = timeout if timeout is not None else self.connect_timeout
        nats_loop.run(self._open(limit), limit * 2 * len(self.servers) + 5, "connecting to NATS")

    def _retry_in_background(self) -> None:
        nats_loop.submit(self._retry())

    async def _retry(self) -> None:
        attempt = 0
        while not self._closing:
            await asyncio.sleep(self.reconnect_wait)
            attempt += 1
            try:
                log.info("connection attempt %d to %s", attempt, ", ".join(self.servers))
                await self._open(self.connect_timeout)
                return
            except ConnectorError as exc:
                log.warning("connection attempt %d failed: %s", attempt, exc)
            if self.max_attempts and attempt >= self.max_attempts:
                self.gave_up = (f"no NATS server reachable after {attempt} attempts "
                                f"(plugin.nats.max_reconnect_attempts = {self.max_attempts})")
                log.error("giving up: %s", self.gave_up)
                return

    async def _open(self, timeout: float) -> None:
        await self._close_client()
        nc = Client()
        self._error = None
        options: dict[str, Any] = dict(
            servers=self.servers, name=self.identity, connect_timeout=max(1, int(round(timeout))),
            # the first connect is one pass over the pool (each server tried twice at most);
            # the daemon's reconnection policy is put in place once connected
            allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0,
            dont_randomize=not self.randomize, ping_interval=self.ping_interval, max_outstanding_pings=2,
            error_cb=self._on_error, disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected, closed_cb=self._on_closed,
            user=self.user, password=self.password, token=self.token, tls=self.tls,
        )
        try:
            await nc.connect(**options)
        except nats.errors.NoServersError:
            raise ConnectorError("could not connect to any NATS server: "
                                 + (self._error or ", ".join(self.servers) + " refused or unreachable")) from None
        except (OSError, asyncio.TimeoutError, nats.errors.Error) as exc:
            reason = self._error or str(exc) or type(exc).__name__
            if "authorization" in reason.lower() or "authentication" in reason.lower():
                raise BrokerRefused(f"the NATS server refused the connection: {reason} "
                                    f"(check plugin.nats.user/password/token)") from None
            raise ConnectorError(f"could not connect to NATS ({', '.join(self.servers)}): {reason}") from None
        if self.daemon:
            nc.options.update(allow_reconnect=True, reconnect_time_wait=self.reconnect_wait,
                              max_reconnect_attempts=self.max_attempts or -1)
        self._nc = nc
        self._up = True
        for subject in list(self._subs):
            await self._sub(subject)
        log.info("connected to NATS server %s", nc.connected_url.netloc if nc.connected_url else "?")
        self._state(True)

    async def _close_client(self) -> None:
        nc, self._nc = self._nc, None
        self._up = False
        if nc is not None and not nc.is_closed:
            try:
                if nc.is_connected:
                    await nc.flush(1)
            except (nats.errors.Error, asyncio.TimeoutError):
                pass
            await nc.close()

    def disconnect(self) -> None:
        self._closing = True
        if nats_loop.on_loop():
            nats_loop.loop().create_task(self._close_client())
            return
        try:
            nats_loop.run(self._close_client(), 5, "closing the NATS connection")
        except ConnectorError as exc:
            log.debug("%s", exc)

    # ------------------------------------------------------------ nats-py callbacks
    async def _on_error(self, exc: Exception) -> None:
        text = str(exc) or type(exc).__name__
        self._error = text
        if "permissions violation" in text.lower():  # the server refused one subject; the connection stays
            log.warning("the NATS server refused: %s (check the user's permissions for this collective)",
                        text.removeprefix("nats: "))
        else:
            log.debug("NATS: %s", text)

    async def _on_disconnected(self) -> None:
        if self._closing or not self._up:
            return
        self._up = False
        (log.warning if self.daemon else log.debug)("lost the connection to NATS%s",
                                                     f" ({self._error})" if self._error else "")
        self._state(False)

    async def _on_reconnected(self) -> None:
        self._up = True
        nc = self._nc
        log.warning("reconnected to NATS server %s", nc.connected_url.netloc if nc and nc.connected_url else "?")
        self._state(True)

    async def _on_closed(self) -> None:
        if self._closing:
            return
        if self.daemon and self._nc is not None and self._nc.is_closed:
            self.gave_up = (f"NATS reconnection gave up (plugin.nats.max_reconnect_attempts = "
                            f"{self.max_attempts})")
            log.error("giving up: %s", self.gave_up)
        await self._on_disconnected()

    # ------------------------------------------------------------ primitives
    async def _sub(self, subject: str) -> None:
        nc = self._nc
        if nc is not None and subject in self._subs:
            self._subs[subject] = await nc.subscribe(subject, cb=self._on_msg)

    async def _on_msg(self, msg: Msg) -> None:
        self._in_callback = True
        try:
            self._deliver(msg.data, {"reply-to": msg.reply, "subject": msg.subject})
        except Exception:  # noqa: BLE001 - nothing a message does may stop the subscription
            log.exception("error handling a message on %s", msg.subject)
        finally:
            self._in_callback = False
        if self._outbox:
            await self._drain_outbox()

    async def _drain_outbox(self) -> None:
        pending, self._outbox = self._outbox, []
        for subject, payload in pending:
            await self._publish(subject, payload)

    async def _publish(self, subject: str, payload: bytes, reply: str = "") -> None:
        nc = self._nc
        if nc is None or nc.is_closed:
            raise ConnectorError("not connected to NATS")
        try:
            await nc.publish(subject, payload, reply=reply)
        except nats.errors.Error as exc:
            raise ConnectorError(f"publishing to {subject} failed: {exc or type(exc).__name__}") from None

    async def _publish_all(self, subjects: list[str], payload: bytes, reply: str) -> None:
        for subject in subjects:
            await self._publish(subject, payload, reply)

    def _call(self, coro: Any, what: str) -> Any:
        if nats_loop.on_loop():
            return nats_loop.loop().create_task(coro)
        return nats_loop.run(coro, self.connect_timeout + 5, what)

    def _subscribe(self, subject: str) -> None:
        if subject in self._subs:
            return
        self._subs[subject] = None
        if self.connected:
            self._call(self._sub(subject), f"subscribing to {subject}")

    def _unsubscribe(self, subject: str) -> None:
        sub = self._subs.pop(subject, None)
        if sub is not None and self.connected:
            self._call(sub.unsubscribe(), f"unsubscribing from {subject}")

    # ---- daemon side
    def subscribe_agent(self, agent: str, collective: str) -> None:
        self._subscribe(broadcast_subject(collective, agent))

    def unsubscribe_agent(self, agent: str, collective: str) -> None:
        self._unsubscribe(broadcast_subject(collective, agent))

    def subscribe_directed(self, collective: str) -> None:
        self._subscribe(directed_subject(collective, self.identity))

    def confirm_subscriptions(self, timeout: float = 10) -> None:
        """A PING/PONG round trip: the server has processed every SUB sent before it."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise ConnectorError("not connected to NATS")
        try:
            nats_loop.run(nc.flush(int(max(1, timeout))), timeout + 1, "confirming the subscriptions")
        except (nats.errors.Error, asyncio.TimeoutError) as exc:
            raise ConnectorError(f"NATS did not confirm the subscriptions: {exc or type(exc).__name__}") from None

    def publish_reply(self, payload: bytes, request_headers: dict[str, str], ttl: int) -> None:
        target = request_headers.get("reply-to")
        if not target:
            raise ValueError("request has no reply subject")
        if nats_loop.on_loop() and self._in_callback:
            self._outbox.append((target, payload))  # sent as soon as the message handler returns
            return
        self._call(self._publish(target, payload), f"publishing to {target}")

    # ---- client side
    def reply_target(self, agent: str, collective: str) -> str:
        base = f"{collective}.reply.{self.senderid}"
        if base not in self._reply_subs:
            self._reply_subs.add(base)
            self._subscribe(f"{base}.*")
        self._sequence += 1
        return f"{base}.{self._sequence}"

    def reply_address(self, agent: str, collective: str) -> str:
        return f"{collective}.reply.{self.senderid}.{agent}"

    def publish_request(self, payload: bytes, agent: str, collective: str, reply_to: str,
                        ttl: int, nodes: list[str] | None = None) -> None:
        if nodes is None:
            subjects = [broadcast_subject(collective, agent)]
        else:
            subjects = [directed_subject(collective, node) for node in nodes]
        self._call(self._publish_all(subjects, payload, reply_to), f"publishing to {collective}")

    def broker_error(self) -> str | None:
        return self._error
