"""A private RabbitMQ node for tests that stop, restart or reconfigure a broker.

The system broker on 61613 is shared by every test run on the machine; tests
of outages, failover or TLS start their own node instead: own node name,
ports, data, logs and Erlang cookie, loopback only, with the STOMP plugin,
the vhost, user and exchanges pymco needs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.cluster import BROKER, REPO, connector_lines
from tests.support.ports import free_port

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


class PrivateRabbitMQ:
    def __init__(self, directory: Path, name: str = "pymcotest", collectives: list[str] | None = None,
                 tls: dict[str, str] | None = None, tls_only: bool = False,
                 stomp_conf: list[str] | None = None, extra_conf: list[str] | None = None,
                 cookie: str | None = None) -> None:
        if not (RABBIT_BIN / "rabbitmq-server").exists():
            raise RuntimeError("rabbitmq-server is not installed; run scripts/bootstrap")
        self.directory = directory
        self.node = f"{name}{os.getpid()}@localhost"
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.stomp_port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.tls_only = bool(tls and tls_only)  # no plain STOMP listener at all
        self.stomp_conf = stomp_conf  # listener lines to use instead of the ones below (broker-setup's)
        self.extra_conf = extra_conf or []  # more rabbitmq.conf lines
        self.cookie = cookie  # the Erlang cookie of a cluster's members (else Erlang makes one)
        self.collectives = collectives or ["mcollective"]
        self.vhost = BROKER["vhost"]
        self.user = BROKER["user"]
        self.password = BROKER["password"]

    # ---- environment for the Erlang node and its CLI tools
    def env(self) -> dict[str, str]:
        d = self.directory
        return dict(
            os.environ,
            HOME=str(d),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq"),
            RABBITMQ_CONFIG_FILES=str(d / "conf.d"),
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(d / "env.conf"),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_PID_FILE=str(d / "rabbitmq.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )

    def write_config(self) -> None:
        d = self.directory
        for sub in ("conf.d", "log", "mnesia"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        stomp_tcp = ("stomp.listeners.tcp = none" if self.tls_only
                     else f"stomp.listeners.tcp.1 = 127.0.0.1:{self.stomp_port}")
        lines = [f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}", stomp_tcp, "loopback_users = none"]
        if self.stomp_conf is not None:
            lines = [lines[0], lines[2], *self.stomp_conf]
        elif self.tls:
            lines += [f"stomp.listeners.ssl.1 = 127.0.0.1:{self.tls_port}",
                      f"ssl_options.cacertfile = {self.tls['ca']}",
                      f"ssl_options.certfile = {self.tls['cert']}",
                      f"ssl_options.keyfile = {self.tls['key']}",
                      "ssl_options.verify = verify_peer",
                      "ssl_options.fail_if_no_peer_cert = false"]
        (d / "rabbitmq.conf").write_text("\n".join(lines + self.extra_conf) + "\n")
        if self.cookie:
            cookie = d / ".erlang.cookie"
            if not cookie.exists():
                cookie.write_text(self.cookie)
                cookie.chmod(0o400)
        (d / "enabled_plugins").write_text("[rabbitmq_stomp].\n")
        (d / "env.conf").write_text("")

    def ctl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), *args], env=self.env(), capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {proc.stderr or proc.stdout}")
        return proc

    @property
    def pid(self) -> int | None:
        """The Erlang VM's process (to freeze or kill it), from its pid file."""
        try:
            return int((self.directory / "rabbitmq.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return self.ctl("-q", "status", check=False, timeout=30).returncode == 0

    def start(self, timeout: float = 90) -> "PrivateRabbitMQ":
        self.launch()
        return self.await_started(timeout)

    def launch(self) -> None:
        """Start the Erlang node in the background (await_started() waits for it)."""
        self.write_config()
        subprocess.run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=self.env(), check=True,
                       capture_output=True, timeout=60)

    def await_started(self, timeout: float = 90) -> "PrivateRabbitMQ":
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.ctl("-q", "await_startup", "--timeout", "5", check=False).returncode == 0:
                self._wait_port(self.tls_port if self.tls_only else self.stomp_port, end)
                return self
            time.sleep(0.5)
        raise RuntimeError(f"private RabbitMQ {self.node} did not start; logs in {self.directory / 'log'}")

    @staticmethod
    def _wait_port(port: int, end: float) -> None:
        while time.monotonic() < end:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"port {port} did not open")

    def setup(self) -> "PrivateRabbitMQ":
        """vhost, user, permissions and the exchanges of each collective."""
        self.ctl("-q", "add_vhost", self.vhost)
        self.ctl("-q", "add_user", self.user, self.password)
        self.ctl("-q", "set_permissions", "-p", self.vhost, self.user, ".*", ".*", ".*")
        exchanges = [{"name": f"{c}_{kind}", "vhost": self.vhost, "type": "topic", "durable": True,
                      "auto_delete": False, "internal": False, "arguments": {}}
                     for c in self.collectives for kind in ("broadcast", "directed")]
        defs = self.directory / "defs.json"
        defs.write_text(json.dumps({"exchanges": exchanges}))
        self.ctl("-q", "import_definitions", str(defs))
        return self

    def stop(self) -> None:
        """Stop the node (its data stays, so start() brings it back as it was)."""
        self.ctl("-q", "stop", check=False, timeout=60)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.tls_port if self.tls_only else self.stomp_port)) != 0:
                    return
            time.sleep(0.2)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory / "mnesia", ignore_errors=True)

    def connector_lines(self, connector: str = "rabbitmq") -> list[str]:
        return connector_lines(connector, {"port": self.stomp_port})


SETUP = REPO / "scripts" / "broker-setup"


def broker_setup(*args: str, env: dict[str, str] | None = None) -> str:
    """Run scripts/broker-setup (the raw rabbitmqctl first in PATH: Debian's wrapper drops the env)."""
    env = dict(env or os.environ, PATH=f"{RABBIT_BIN}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", str(SETUP), *args], env=env, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"broker-setup {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


class PrivateRabbitMQCluster:
    """`size` private RabbitMQ nodes clustered on loopback: one Erlang cookie, members 2.. joined to 1.

    Each member keeps its own ports, data and logs (PrivateRabbitMQ); the
    cookie is shared through their HOME folders.  The cluster settings
    (partition handling, net_ticktime) and the join are scripts/broker-setup's
    (--print-cluster-config, --join-only), as an operator runs them.  Starting
    three takes about 25 s: a test file starts it once.
    """

    def __init__(self, directory: Path, size: int = 3, collectives: list[str] | None = None) -> None:
        cookie = os.urandom(16).hex().upper()
        conf = [line for line in broker_setup("--print-cluster-config").splitlines() if not line.startswith("#")]
        self.members = [PrivateRabbitMQ(directory / f"m{n}", name=f"pymcoc{n}x", collectives=collectives,
                                        extra_conf=conf,
                                        cookie=cookie)
                        for n in range(1, size + 1)]

    def start(self) -> "PrivateRabbitMQCluster":
        for member in self.members:  # boot in parallel: booting is most of the time
            member.launch()
        for member in self.members:
            try:
                member.await_started()
            except RuntimeError:
                # a free port taken meanwhile (this machine's ephemeral ports are busy): new ones, once
                member.stop()
                member.amqp_port, member.dist_port, member.stomp_port = free_port(), free_port(), free_port()
                member.start()
        first = self.members[0]
        for member in self.members[1:]:
            broker_setup("--join-only", "--join", first.node, env=member.env())
            member.await_started()
        first.setup()
        return self

    def stop(self) -> None:
        # the last ones first would pause the survivor (pause_minority): stop them all together
        procs = [subprocess.Popen([str(RABBIT_BIN / "rabbitmqctl"), "-q", "stop"], env=m.env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for m in self.members]
        for proc in procs:
            proc.wait(90)

    def pool_lines(self, members: list[int] | None = None, **extra: str) -> list[str]:
        """rabbitmq connector lines with a pool of `members` (indexes from 0, in that order; all by default)."""
        return pool_lines([self.members[i] for i in (members if members is not None else range(len(self.members)))],
                          **extra)


def pool_lines(brokers: list[PrivateRabbitMQ], **extra: str) -> list[str]:
    """rabbitmq connector lines with `brokers` as the pool, plus `plugin.rabbitmq.<key> = value` lines."""
    lines = ["connector = rabbitmq", f"plugin.rabbitmq.vhost = {BROKER['vhost']}",
             f"plugin.rabbitmq.pool.size = {len(brokers)}"]
    for n, broker in enumerate(brokers, 1):
        lines += [f"plugin.rabbitmq.pool.{n}.host = 127.0.0.1", f"plugin.rabbitmq.pool.{n}.port = {broker.stomp_port}",
                  f"plugin.rabbitmq.pool.{n}.user = {broker.user}",
                  f"plugin.rabbitmq.pool.{n}.password = {broker.password}"]
    return lines + [f"plugin.rabbitmq.{k} = {v}" for k, v in extra.items()]
