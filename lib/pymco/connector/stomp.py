"""STOMP transport shared by the RabbitMQ and ActiveMQ connectors (stomp.py).

What is common to both brokers lives here: MCollective's broker pool
(`plugin.<connector>.pool.N.*`), failover with MCollective's back-off
settings, heart-beats, TLS, clear errors when the broker refuses us, and
re-subscription after a reconnect.  Subclasses only name destinations.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Iterator

from pymco.config import Config
from pymco.connector.base import Connector
from pymco.connector.pool import PoolMember
from pymco.connector.stomp_import import enable_tls, stomp
from pymco.errors import BrokerRefused, ConfigError, ConnectorError

log = logging.getLogger(__name__)

__all__ = ["StompConnector", "reconnect_delays"]

# With these a frozen member's daemons are connected elsewhere about 9 s after it froze
# (1.5 heart-beat intervals, then the other members first): docs/brokers.md has the figures.
DEFAULT_DAEMON_HEARTBEAT = 6
DEFAULT_CONNECT_TIMEOUT = 10.0
TLS_PROBE_TIMEOUT = 2.0  # a TLS server answers a ClientHello in one round trip


class _Listener(stomp.ConnectionListener):  # type: ignore[misc]
    """Bridges stomp.py's receiver thread to the connector."""

    def __init__(self, owner: "StompConnector", generation: int) -> None:
        self.owner = owner
        self.generation = generation
        self.connected = threading.Event()
        self.error: str | None = None
        self.receipts: set[str] = set()
        self.receipt_arrived = threading.Condition()

    def on_connected(self, frame: Any) -> None:
        self.connected.set()

    def on_error(self, frame: Any) -> None:
        message = frame.headers.get("message", "")
        detail = frame.body.decode("utf-8", "replace") if isinstance(frame.body, bytes) else str(frame.body or "")
        text = message.strip() or detail.strip().splitlines()[0] if (message or detail) else "unknown error"
        if detail.strip() and detail.strip() not in text:
            text = f"{text}: {detail.strip().splitlines()[0]}"
        self.error = text
        if not self.connected.is_set():
            self.connected.set()  # wake the waiter; it reads self.error
        elif self.owner.daemon:
            log.error("broker reported an error: %s%s", text, explain_broker_error(text))
        else:
            log.debug("broker reported an error: %s", text)

    def on_message(self, frame: Any) -> None:
        self.owner._deliver(frame.body, frame.headers)

    def on_receipt(self, frame: Any) -> None:
        with self.receipt_arrived:
            self.receipts.add(frame.headers.get("receipt-id", ""))
            self.receipt_arrived.notify_all()

    def on_disconnected(self) -> None:
        self.owner._lost(self.generation)

    def on_heartbeat_timeout(self) -> None:
        log.warning("heart-beat from the broker missed; treating the connection as dead")


class StompConnector(Connector):
    """A reliable STOMP connection to one member of the broker pool."""

    name = "stomp"
    default_port = 61613
    default_vhost: str | None = None

    def __init__(self, config: Config, identity: str, daemon: bool = False) -> None:
        super().__init__(config, identity, daemon)
        self.pool = self._read_pool()
        opt = self._option
        self.vhost = opt("vhost", self.default_vhost)
        self.initial_delay = float(opt("initial_reconnect_delay", 0.01))
        self.multiplier = float(opt("back_off_multiplier", 2))
        self.max_delay = float(opt("max_reconnect_delay", 30))
        self.exponential = self._bool("use_exponential_back_off", True)
        self.max_attempts = int(opt("max_reconnect_attempts", 0))
        self.randomize = self._bool("randomize", False)
        # Bounds on a member that froze (a hung VM, a partition: TCP stays open, nothing answers):
        # heart-beats notice it after 1.5 intervals, and an attempt on it costs connect_timeout.
        # A STOMP login is answered in well under a second by a broker that works.
        self.connect_timeout = float(opt("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
        default_hb = DEFAULT_DAEMON_HEARTBEAT if daemon else 0
        self.heartbeat = int(opt("heartbeat_interval", default_hb))
        self._conn: Any = None
        self._listener: _Listener | None = None
        self._generation = 0
        self._receipt_serial = 0
        self._lock = threading.RLock()
        self._subscriptions: dict[str, tuple[str, dict[str, str]]] = {}
        self._reconnector: threading.Thread | None = None
        self.current: PoolMember | None = None
        # pool index -> when it last failed or dropped us: such members are tried last
        self._suspect: dict[int, float] = {}
        self._worked: set[int] = set()  # members that accepted us once: not a TLS port

    # ------------------------------------------------------------ config
    def _option(self, key: str, default: Any = None) -> Any:
        return self.config.plugin(f"{self.name}.{key}", default)

    def _bool(self, key: str, default: bool) -> bool:
        return self.config.plugin_bool(f"{self.name}.{key}", default)

    def _read_pool(self) -> list[PoolMember]:
        prefix = f"{self.name}.pool"
        size_text = self.config.plugin(f"{prefix}.size")
        if size_text is None:
            raise ConfigError(f"plugin.{prefix}.size is not set: configure at least one broker "
                              f"(plugin.{prefix}.1.host, .port, .user, .password)")
        try:
            size = int(size_text)
        except ValueError:
            raise ConfigError(f"plugin.{prefix}.size must be a number, not {size_text!r}") from None
        members = []
        for n in range(1, size + 1):
            host = self.config.plugin(f"{prefix}.{n}.host")
            if not host:
                raise ConfigError(f"plugin.{prefix}.{n}.host is not set (pool.size is {size})")
            port_text = self.config.plugin(f"{prefix}.{n}.port", str(self.default_port))
            try:
                port = int(port_text)
            except ValueError:
                raise ConfigError(f"plugin.{prefix}.{n}.port must be a number, not {port_text!r}") from None
            user = os.environ.get("STOMP_USER") or self.config.plugin(f"{prefix}.{n}.user")
            password = os.environ.get("STOMP_PASSWORD") or self.config.plugin(f"{prefix}.{n}.password")
            members.append(PoolMember(
                index=n, host=host, port=port, user=user, password=password,
                ssl=self.config.plugin_bool(f"{prefix}.{n}.ssl", False),
                ssl_ca=self.config.plugin(f"{prefix}.{n}.ssl.ca"),
                ssl_cert=os.environ.get(f"MCOLLECTIVE_{self.name.upper()}_POOL{n}_SSL_CERT")
                or self.config.plugin(f"{prefix}.{n}.ssl.cert"),
                ssl_key=os.environ.get(f"MCOLLECTIVE_{self.name.upper()}_POOL{n}_SSL_KEY")
                or self.config.plugin(f"{prefix}.{n}.ssl.key"),
                ssl_fallback=self.config.plugin_bool(f"{prefix}.{n}.ssl.fallback", False),
            ))
        return members

    # ------------------------------------------------------------ connect
    @property
    def connected(self) -> bool:
        conn = self._conn
        return bool(conn is not None and conn.is_connected() and self._listener
                    and self._listener.connected.is_set() and not self._listener.error)

    def connect(self, timeout: float | None = None) -> None:
        """Try each pool member once, in order (or shuffled with `randomize`)."""
        self._closing = False
        errors = []
        for member in self._ordered_pool():
            try:
                self._connect_to(member, timeout if timeout is not None else self.connect_timeout)
                return
            except BrokerRefused as exc:
                errors.append(f"{member}: {exc}")
                self._suspect[member.index] = time.monotonic()
                if len(self.pool) == 1:
                    raise
            except ConnectorError as exc:
                errors.append(f"{member}: {exc}")
                self._suspect[member.index] = time.monotonic()
        raise ConnectorError("could not connect to any broker: " + "; ".join(errors))

    def _ordered_pool(self) -> list[PoolMember]:
        """The pool in order (shuffled with `randomize`), members that failed or dropped us last.

        A member that froze drops us by a heart-beat timeout and then takes a
        whole connect_timeout to fail again: the others come first, the one
        that failed longest ago before the one that just failed.
        """
        members = list(self.pool)
        if self.randomize:
            import random  # only with plugin.<connector>.randomize

            random.shuffle(members)
        return sorted(members, key=lambda member: self._suspect.get(member.index, 0.0))

    def _headers_for_connect(self) -> dict[str, str]:
        return {}

    def _connect_to(self, member: PoolMember, timeout: float) -> None:
        with self._lock:
            self._drop_connection()
            self._generation += 1
            heartbeats = (0, 0)
            if self.heartbeat > 0:
                interval = self.heartbeat * 1000
                heartbeats = (interval, interval)
            conn = stomp.Connection12(
                host_and_ports=[(member.host, member.port)],
                reconnect_attempts_max=1,
                timeout=timeout,
                heartbeats=heartbeats,
                vhost=self.vhost or member.host,
                auto_decode=False,
            )
            if member.ssl:
                self._configure_ssl(conn, member)
            listener = _Listener(self, self._generation)
            conn.set_listener("pymco", listener)
            log.debug("TCP connection attempt to %s", member)
            try:
                conn.connect(member.user, member.password, wait=False,
                             headers=self._headers_for_connect())
            except stomp.exception.ConnectFailedException:
                self._safe_stop(conn)
                reason = ""
                if member.ssl:
                    from pymco.connector.tls import diagnose

                    reason = diagnose(member, min(timeout, TLS_PROBE_TIMEOUT), self._pool_prefix(member)) or ""
                raise ConnectorError(f"cannot reach the broker at {member.host}:{member.port}"
                                     + (f": {reason}" if reason else "")) from None
            except OSError as exc:
                self._safe_stop(conn)
                raise ConnectorError(f"cannot reach the broker at {member.host}:{member.port}: {exc}") from None
            if not listener.connected.wait(timeout):
                self._safe_stop(conn)
                raise ConnectorError(f"no answer from the broker at {member} within {timeout:g}s"
                                     + self._plain_to_tls_hint(member, timeout))
            if listener.error is not None or not conn.is_connected():
                self._safe_stop(conn)
                reason = listener.error or "the broker closed the connection during login"
                raise BrokerRefused(f"the broker at {member} refused the connection: {reason}"
                                    + self._refusal_hint(reason))
            self._conn = conn
            self._listener = listener
            self.current = member
            self._suspect.pop(member.index, None)
            self._worked.add(member.index)
            log.info("connected to %s", member)
            for destination, (sub_id, headers) in list(self._subscriptions.items()):
                conn.subscribe(destination, id=sub_id, ack="auto", headers=headers)
        self._state(True)

    def _refusal_hint(self, reason: str) -> str:
        low = reason.lower()
        if "vhost" in low or "virtual host" in low:
            return f" (check plugin.{self.name}.vhost = {self.vhost!r} exists and the user may use it)"
        if "access refused" in low or "login" in low or "password" in low or "credentials" in low:
            return f" (check plugin.{self.name}.pool.N.user and .password)"
        return ""

    def _pool_prefix(self, member: PoolMember) -> str:
        return f"plugin.{self.name}.pool.{member.index}"

    def _configure_ssl(self, conn: Any, member: PoolMember) -> None:
        from pymco.connector.tls import configure_ssl

        enable_tls()
        configure_ssl(conn, member, self._pool_prefix(member))

    def _plain_to_tls_hint(self, member: PoolMember, timeout: float) -> str:
        """A plain STOMP client on a TLS port just sees silence; say so when that is the cause.

        Not for a member that accepted plain STOMP before: that one is frozen or
        overloaded, and a probe would only add to the time it costs.
        """
        if member.ssl or member.index in self._worked:
            return ""
        from pymco.connector.tls import speaks_tls

        if speaks_tls(member.host, member.port, min(timeout, TLS_PROBE_TIMEOUT)):
            return f" (that port speaks TLS: set {self._pool_prefix(member)}.ssl = 1)"
        return ""

    @staticmethod
    def _safe_stop(conn: Any) -> None:
        try:
            conn.transport.running = False
            conn.transport.disconnect_socket()
        except Exception:  # noqa: BLE001 - best effort teardown of a failed attempt
            log.debug("ignoring error while discarding a failed connection", exc_info=True)

    def _drop_connection(self) -> None:
        conn = self._conn
        self._conn = None
        self._listener = None
        if conn is not None:
            self._safe_stop(conn)

    def disconnect(self) -> None:
        self._closing = True
        with self._lock:
            conn = self._conn
            self._conn = None
            if conn is not None:
                try:
                    if conn.is_connected():
                        conn.disconnect()
                except Exception:  # noqa: BLE001 - the socket may already be gone
                    log.debug("error during disconnect", exc_info=True)
                self._safe_stop(conn)

    # ------------------------------------------------------------ reconnect
    def reconnect(self) -> None:
        """A new connection, to another pool member first: this one's routing may be what failed."""
        if self.current is not None:
            self._suspect[self.current.index] = time.monotonic()
        self.keep_connected()  # drops this connection, then the first member that answers; else retries

    def _lost(self, generation: int) -> None:
        listener = self._listener
        if self._closing or listener is None or listener.generation != generation:
            return  # a failed attempt, or a connection we already replaced
        member = self.current
        if member is not None:
            self._suspect[member.index] = time.monotonic()
        (log.warning if self.daemon else log.debug)("lost the connection to %s", member)
        self._state(False)
        if self.daemon:
            self._retry_in_background()

    def _retry_in_background(self) -> None:
        with self._lock:
            if self._reconnector is not None and self._reconnector.is_alive():
                return
            self._reconnector = threading.Thread(target=self._reconnect_loop, name="pymco-reconnect",
                                                 daemon=True)
            self._reconnector.start()

    def _reconnect_loop(self) -> None:
        delays = reconnect_delays(self.initial_delay, self.multiplier, self.max_delay, self.exponential)
        attempt = 0
        while not self._closing:
            for member in self._ordered_pool():
                if self._closing:
                    return
                attempt += 1
                try:
                    log.info("reconnect attempt %d to %s", attempt, member)
                    self._connect_to(member, self.connect_timeout)
                    return
                except ConnectorError as exc:
                    self._suspect[member.index] = time.monotonic()
                    log.warning("reconnect attempt %d failed: %s", attempt, exc)
                if self.max_attempts and attempt >= self.max_attempts:
                    self.gave_up = (f"no broker reachable after {attempt} reconnect attempts "
                                    f"(plugin.{self.name}.max_reconnect_attempts = {self.max_attempts})")
                    log.error("giving up: %s", self.gave_up)
                    return
                time.sleep(next(delays))

    # ------------------------------------------------------------ primitives
    def _subscribe(self, destination: str, sub_id: str, headers: dict[str, str] | None = None) -> None:
        headers = headers or {}
        with self._lock:
            self._subscriptions[destination] = (sub_id, headers)
            if self._conn is not None and self.connected:
                log.debug("subscribing to %s", destination)
                self._conn.subscribe(destination, id=sub_id, ack="auto", headers=headers)

    def confirm_subscriptions(self, timeout: float = 10) -> None:
        """Wait until the broker has acted on every SUBSCRIBE sent so far.

        The broker handles each connection's frames in order, but frames of
        different connections race: a request published right after a node
        subscribed can be routed before the binding exists.  pymcod calls this
        before it logs that it started, fleet simulators before they report a
        node ready.  A BEGIN/ABORT pair with a receipt is the frame without
        side effects that proves it.
        """
        conn, listener = self._conn, self._listener
        if conn is None or listener is None or not self.connected:
            raise ConnectorError("not connected to the broker")
        self._receipt_serial += 1
        tag = f"pymco-confirm-{self._receipt_serial}"
        conn.begin(transaction=tag)
        conn.abort(transaction=tag, headers={"receipt": tag})
        with listener.receipt_arrived:
            if not listener.receipt_arrived.wait_for(lambda: tag in listener.receipts, timeout):
                raise ConnectorError(f"the broker did not confirm the subscriptions within {timeout:g}s")
            listener.receipts.discard(tag)

    def _unsubscribe(self, destination: str) -> None:
        with self._lock:
            entry = self._subscriptions.pop(destination, None)
            if entry and self._conn is not None and self.connected:
                self._conn.unsubscribe(id=entry[0])

    def _send(self, destination: str, payload: bytes, headers: dict[str, str]) -> None:
        conn = self._conn
        if conn is None or not conn.is_connected():
            raise ConnectorError("not connected to the broker")
        try:
            conn.send(destination, payload, headers=headers)
        except (OSError, stomp.exception.StompException) as exc:
            raise ConnectorError(f"sending to {destination} failed: {exc}") from None

    def broker_error(self) -> str | None:
        """The last ERROR frame of the connection, with a hint for the operator."""
        listener = self._listener
        if listener is None or listener.error is None:
            return None
        return listener.error + explain_broker_error(listener.error)


def reconnect_delays(initial: float, multiplier: float, maximum: float, exponential: bool = True) -> Iterator[float]:
    """MCollective's waits between reconnect attempts: initial, then times multiplier, capped at maximum.

    A daemon is back at most `maximum` seconds after its broker, whatever the
    outage's length; `exponential` false keeps every wait at `initial`.
    """
    delay = initial
    while True:
        yield min(delay, maximum)
        if exponential:
            delay = min(delay * multiplier, maximum)


def explain_broker_error(text: str) -> str:
    """A hint for errors operators meet when a broker is not set up for a collective."""
    if "no exchange" in text:
        return " (the collective's exchanges do not exist: create them, e.g. scripts/broker-setup --collectives NAME)"
    if "access_refused" in text.lower() or "access refused" in text.lower():
        return " (the broker user lacks permission: check its permissions on the vhost)"
    return ""
