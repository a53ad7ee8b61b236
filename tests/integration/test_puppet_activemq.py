"""A real `puppet apply` of `pymco::middleware::activemq` with Debian's activemq package.

The class is applied as root with Puppet's state in a temporary folder and
an instance of its own (unique name, user and collective, STOMP on a free
loopback port; the shared RabbitMQ's 61613 is never touched).  Then: the
broker accepts its user and refuses a wrong password and other collectives'
destinations; a pymcod node with the `activemq` connector answers `mco ping`
and `mco rpc rpcutil ping` through it; a second apply changes nothing; a
changed user list restarts this JVM (a new PID) and the node comes back; and
`ensure => absent` stops it and removes the instance, leaving Debian's
ActiveMQ stopped and with no instance enabled, as before.  The package stays
(`manage_package => false` on removal): the other ActiveMQ tests use it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from pymco.connector.stomp_import import stomp
from tests.support.cluster import Cluster, connector_lines, unique_name, wait_for
from tests.support.ports import free_port
from tests.support.puppet_apply import MODULE, Applied, puppet_apply

pytestmark = pytest.mark.integration

# Made by Debian's scripts when an instance first runs, shared by every instance.
DEBIAN_SHARED = (Path("/var/run/activemq"), Path("/var/lib/activemq/tmp"))


@dataclass
class Broker:
    """One ActiveMQ instance as the class makes it: its names, paths and the `puppet apply`."""

    root: Path
    uid: str = field(default_factory=lambda: unique_name("amq"))
    port: int = field(default_factory=free_port)
    extra_users: dict[str, str] = field(default_factory=dict)
    first: Applied | None = None

    @property
    def password(self) -> str:
        return f"pw&<{self.uid}"  # XML-special characters reach the broker intact

    @property
    def instance_dir(self) -> Path:
        return Path("/etc/activemq/instances-available") / self.uid

    @property
    def enabled_link(self) -> Path:
        return Path("/etc/activemq/instances-enabled") / self.uid

    @property
    def base(self) -> Path:
        return Path("/var/lib/activemq") / self.uid

    @property
    def pidfile(self) -> Path:
        return Path("/var/run/activemq") / f"{self.uid}.pid"

    def manifest(self, ensure: str) -> Path:
        users = {self.uid: self.password, **self.extra_users}
        entries = ", ".join(f"'{name}' => {{ 'password' => Sensitive('{pw}') }}" for name, pw in users.items())
        path = self.root / f"{ensure}.pp"
        path.write_text(f"""class {{ 'pymco::middleware::activemq':
  ensure         => '{ensure}',
  manage_package => {str(ensure == 'present').lower()},
  instance       => '{self.uid}',
  stomp_bind     => '127.0.0.1',
  stomp_port     => {self.port},
  heap_size      => '128m',
  collectives    => ['{self.uid}'],
  users          => {{ {entries} }},
}}
""")
        return path

    def apply(self, ensure: str = "present") -> Applied:
        (self.root / "modules").mkdir(exist_ok=True)
        if not (self.root / "modules" / "pymco").exists():
            (self.root / "modules" / "pymco").symlink_to(MODULE)
        return puppet_apply(self.root, self.manifest(ensure), timeout=300)

    def jvm_pid(self) -> int | None:
        """The PID of a JVM of this instance, found by its command line (not by the pidfile)."""
        marker = f"-Dactivemq.base={self.base}".encode()
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().split(b"\0"):
                    return int(proc.name)
            except OSError:
                continue
        return None

    def port_open(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def wait_ready(self) -> None:
        """STOMP accepts connections; the JVM takes 5 to 20 s after the init script returned."""
        wait_for(self.port_open, timeout=60, interval=0.3)

    def connect(self, user: str, password: str) -> tuple[stomp.Connection12, list[str]]:
        errors: list[str] = []

        class Errors(stomp.ConnectionListener):
            def on_error(self, frame) -> None:  # type: ignore[no-untyped-def]
                errors.append(frame.headers.get("message", ""))

        conn = stomp.Connection12([("127.0.0.1", self.port)], vhost="mcollective")
        conn.set_listener("errors", Errors())
        try:
            conn.connect(user, password, wait=True)
        except stomp.exception.ConnectFailedException:
            errors.append("connect failed")
        return conn, errors


def stop_leftovers(broker: Broker, shared_before: dict[Path, bool]) -> None:
    """After a failed test: whatever the removal apply did not get to, and Debian's shared folders it made."""
    pid = broker.jvm_pid()
    if pid:
        os.kill(pid, signal.SIGTERM)
        try:
            wait_for(lambda: broker.jvm_pid() is None, timeout=30, interval=0.3)
        except AssertionError:
            os.kill(pid, signal.SIGKILL)
    broker.enabled_link.unlink(missing_ok=True)
    broker.pidfile.unlink(missing_ok=True)
    for folder in (broker.instance_dir, broker.base):
        subprocess.run(["rm", "-rf", "--", str(folder)], check=False)
    for path, existed in shared_before.items():
        if not existed and path.is_dir() and not any(path.iterdir()):
            path.rmdir()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    assert os.geteuid() == 0, "the ActiveMQ class test applies system resources and must run as root"
    assert Path("/usr/share/activemq/bin/activemq.jar").exists() and Path("/etc/init.d/activemq").exists(), \
        "Debian's activemq package is not installed; run scripts/bootstrap as root"
    shared_before = {path: path.exists() for path in DEBIAN_SHARED}
    ours = Broker(tmp_path_factory.mktemp("puppet-activemq"))
    ours.first = ours.apply()
    try:
        yield ours
    finally:
        if ours.jvm_pid() or ours.enabled_link.is_symlink() or ours.instance_dir.exists():
            ours.apply("absent")
        stop_leftovers(ours, shared_before)


@pytest.fixture(scope="module")
def node(broker: Broker, cluster_factory) -> Cluster:  # type: ignore[no-untyped-def]
    """A pymcod node and a client on the Puppet-made broker, in the broker's collective."""
    broker.wait_ready()
    cluster = cluster_factory(collectives=[broker.uid], name="amq-puppet")
    lines = connector_lines("activemq", {"port": broker.port, "vhost": "mcollective", "user": broker.uid,
                                         "password": broker.password})
    # A short reconnect delay: the restart test waits for the node to come back.
    cluster.add_node(f"{broker.uid}-node", connector_lines=lines, **{"plugin.activemq.max_reconnect_delay": 1})
    cluster.wait()
    cluster.client_config = cluster.write_client("amq-client.cfg", connector_lines=lines)
    return cluster


def test_first_apply_starts_the_broker(broker: Broker) -> None:
    first = broker.first
    assert first is not None
    assert first.rc == 2 and not first.errors, first
    assert "Service[activemq]/ensure: ensure changed 'stopped' to 'running'" in first.out, first
    assert broker.enabled_link.resolve() == broker.instance_dir
    start = time.monotonic()
    broker.wait_ready()
    pid = broker.jvm_pid()
    assert pid and int(broker.pidfile.read_text()) == pid
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"-Xmx128m" in cmdline
    print(f"first puppet apply: {first.seconds:.1f}s, STOMP open {time.monotonic() - start:.1f}s later")


def test_broker_authenticates_and_authorizes(broker: Broker) -> None:
    broker.wait_ready()
    conn, errors = broker.connect(broker.uid, broker.password)
    assert conn.is_connected() and not errors, errors
    conn.send(f"/queue/{broker.uid}.nodes", "ours", headers={"receipt": "ours"})
    conn.send("/queue/notours.nodes", "theirs", headers={"receipt": "theirs"})
    wait_for(lambda: errors, timeout=10)
    assert errors == ["User " + broker.uid + " is not authorized to write to: queue://notours.nodes"], errors
    conn.disconnect()
    wrong, wrong_errors = broker.connect(broker.uid, "wrong")
    assert not wrong.is_connected()
    # stomp.py may give up the CONNECT before its receiver thread has told the listener of the ERROR frame
    wait_for(lambda: any("password is invalid" in e for e in wrong_errors), timeout=5)


def test_pymcod_answers_mco_through_the_broker(node: Cluster) -> None:
    identity = next(iter(node.nodes))
    ping = node.mco("ping")
    assert ping.rc == 0 and identity in ping.out, ping
    rpc = node.mco("rpc", "rpcutil", "ping", "-I", identity, "--json")
    assert rpc.rc == 0 and '"pong"' in rpc.out, rpc


def test_second_apply_changes_nothing(broker: Broker) -> None:
    pid = broker.jvm_pid()
    again = broker.apply()
    assert again.rc == 0, again
    assert broker.jvm_pid() == pid
    print(f"second puppet apply: {again.seconds:.1f}s")


def test_changed_users_restart_the_broker_and_the_node_returns(broker: Broker, node: Cluster) -> None:
    old = broker.jvm_pid()
    broker.extra_users = {f"{broker.uid}b": "second-password"}
    changed = broker.apply()
    assert changed.rc == 2 and not changed.errors, changed
    assert "Service[activemq]: Triggered 'refresh'" in changed.out, changed
    new = wait_for(broker.jvm_pid, timeout=30)
    assert new != old
    broker.wait_ready()
    conn, errors = broker.connect(f"{broker.uid}b", "second-password")
    assert conn.is_connected() and not errors, errors
    conn.disconnect()
    identity = next(iter(node.nodes))

    def answered() -> bool:
        ping = node.mco("ping")
        return ping.rc == 0 and identity in ping.out

    wait_for(answered, timeout=45, interval=1)


def test_removal_stops_the_broker_and_removes_the_instance(broker: Broker, node: Cluster) -> None:
    node.stop()
    removed = broker.apply("absent")
    assert removed.rc == 2 and not removed.errors, removed
    assert "Service[activemq]/ensure: ensure changed 'running' to 'stopped'" in removed.out, removed
    assert broker.jvm_pid() is None and not broker.port_open()
    for path in (broker.enabled_link, broker.instance_dir, broker.base, broker.pidfile):
        assert not os.path.lexists(path), path
    assert subprocess.run(["dpkg-query", "-W", "-f=${Status}", "activemq"], capture_output=True,
                          text=True).stdout == "install ok installed"
    again = broker.apply("absent")
    assert again.rc == 0, again
