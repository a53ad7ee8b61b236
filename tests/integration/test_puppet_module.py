"""Issue 5: a real `puppet apply` of the module's single-node example on this machine.

The example (puppet_module/examples/single_node.pp with its Hiera data) is
applied as root with Puppet's state folders in a temporary folder, and with a
higher Hiera level holding what CI must change so it shares the machine
safely: a unique vhost, broker user, collective, identity and service name
(the broker and its STOMP listener on 61613 are everyone's), temporary
paths, and the .deb `scripts/build` made of this checkout as the package
source.  Then: the broker has STOMP, the vhost, the user and the exchanges;
pymco is installed from the .deb;
the daemon runs with Facter's facts; `mco ping`, `mco find -F os.family=...`
and a masterless `mco puppet runonce` work through it; a second apply changes
nothing; and removal leaves nothing running.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.support import debpkg
from tests.support.cluster import unique_name, which_or_fail
from tests.support.puppet_apply import MODULE, STATE_DIRS, Applied, puppet_apply, pymcod_pid

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = MODULE / "examples" / "single_node.pp"
EXAMPLE_DATA = MODULE / "examples" / "single_node" / "data" / "common.yaml"
SHARED_USER = ("mcollective", "marionette")  # scripts/broker-setup's user, used by every other test
STOMP_PORT = 61613

@dataclass
class Rollout:
    """One node's Puppet-managed pymco: paths, names and the `puppet apply` that makes them."""

    root: Path
    deb: Path
    uid: str = field(default_factory=lambda: unique_name("pm"))
    applies: list[Applied] = field(default_factory=list)
    first: Applied | None = None
    ci_data: dict = field(default_factory=dict)

    def change_data(self, **changes: object) -> None:
        """Change CI's Hiera level (keys with `__` for `::`), as an operator edits Hiera."""
        self.ci_data.update({key.replace("__", "::"): value for key, value in changes.items()})
        (self.root / "hiera" / "data" / "ci.yaml").write_text(yaml.safe_dump(self.ci_data))

    @property
    def identity(self) -> str:
        return f"{self.uid}-node"

    @property
    def vhost(self) -> str:
        return f"/{self.uid}"

    @property
    def fact_collective(self) -> str:
        """A sub-collective named after a Facter fact, through Hiera interpolation as in the example."""
        return f"{self.uid}_os_%{{facts.os.family}}"

    @property
    def password(self) -> str:
        return f"pw-{self.uid}"

    @property
    def service(self) -> str:
        return f"pymcod-{self.uid}"

    @property
    def venv(self) -> Path:
        return Path("/opt/pymco")  # the package's

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "pymcod.pid"

    @property
    def client_config(self) -> Path:
        return self.etc / "client.cfg"

    @property
    def facts_file(self) -> Path:
        return self.etc / "facts.yaml"

    @property
    def cron_file(self) -> Path:
        return Path("/etc/cron.d") / f"pymco-facts-{self.uid}"

    @property
    def init_script(self) -> Path:
        return Path("/etc/init.d") / self.service

    @property
    def node_puppet(self) -> Path:
        """The masterless Puppet that `mco puppet runonce` runs on the node."""
        return self.root / "node-puppet"

    def prepare(self) -> None:
        modules = self.root / "modules"
        modules.mkdir(parents=True)
        (modules / "pymco").symlink_to(MODULE)
        hiera = self.root / "hiera"
        (hiera / "data").mkdir(parents=True)
        shutil.copy(EXAMPLE_DATA, hiera / "data" / "example.yaml")
        node = self.node_puppet
        node.mkdir()
        (node / "puppet.conf").write_text(
            "[main]\n" + "".join(f"{key} = {node / sub}\n" for key, sub in STATE_DIRS.items()))
        (node / "site.pp").write_text(f'file {{ "{node}/managed.txt": content => "converged by {self.uid}\\n" }}\n')
        ci = {
            "pymco::middleware::rabbitmq::vhost": self.vhost,
            "pymco::middleware::rabbitmq::collectives": [self.uid, self.fact_collective],
            "pymco::middleware::rabbitmq::users": {self.uid: self.password},
            "pymco::collectives": [self.uid, self.fact_collective],
            "pymco::main_collective": self.uid,
            "pymco::rabbitmq_vhost": self.vhost,
            "pymco::broker_user": self.uid,
            "pymco::broker_password": self.password,
            "pymco::psk": f"psk-{self.uid}",
            "pymco::package_source": str(self.deb),
            "pymco::confdir": str(self.etc),
            "pymco::libdir": str(self.root / "lib"),
            "pymco::server::identity": self.identity,
            "pymco::server::service_name": self.service,
            "pymco::server::pidfile": str(self.pidfile),
            "pymco::server::logfile": str(self.root / "log" / "pymcod.log"),
            "pymco::server::state_dir": str(self.root / "state"),
            "pymco::facts::job_name": f"pymco-facts-{self.uid}",
            "pymco::facts::classesfile": str(node / "var" / "state" / "classes.txt"),
            "pymco::server::plugin_settings": {"puppet": {
                "command": f"puppet apply --config {node}/puppet.conf {node}/site.pp",
                "config": f"{node}/puppet.conf",
            }},
        }
        (hiera / "data" / "ci.yaml").write_text(yaml.safe_dump(ci))
        self.ci_data = ci
        (hiera / "data" / "absent.yaml").write_text(yaml.safe_dump({
            "pymco::ensure": "absent", "pymco::middleware::rabbitmq::ensure": "absent"}))
        for name, levels in (("present", ["ci.yaml", "example.yaml"]),
                             ("absent", ["absent.yaml", "ci.yaml", "example.yaml"])):
            (hiera / f"{name}.yaml").write_text(yaml.safe_dump({
                "version": 5, "defaults": {"datadir": "data", "data_hash": "yaml_data"},
                "hierarchy": [{"name": level, "path": level} for level in levels]}))

    def apply(self, ensure: str = "present") -> Applied:
        applied = puppet_apply(self.root, EXAMPLE, f"--hiera_config={self.root / 'hiera' / f'{ensure}.yaml'}")
        self.applies.append(applied)
        return applied

    def mco(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / "mco"), *args, "-c", str(self.client_config)],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def daemon_pid(self) -> int | None:
        return pymcod_pid(self.pidfile, self.etc / "server.cfg")

    def our_processes(self) -> list[int]:
        """Every process whose command line mentions this rollout's folder."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if str(self.root).encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
        return found


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([which_or_fail("rabbitmqctl"), "-q", *args], capture_output=True, text=True, timeout=120)


def stomp_connect(vhost: str, user: str, password: str, port: int = STOMP_PORT) -> str:
    """The broker's first frame in answer to a STOMP CONNECT (CONNECTED or ERROR)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"CONNECT\naccept-version:1.2\nhost:{vhost}\nlogin:{user}\npasscode:{password}\n\n\0".encode())
        data = b""
        while b"\0" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def facter_os_family() -> str:
    """What Facter says; it exits 1 in this sandbox while its answer is right, so read stdout."""
    proc = subprocess.run([which_or_fail("facter"), "os.family"], capture_output=True, text=True, timeout=120)
    family = proc.stdout.strip()
    assert family, proc.stderr
    return family


def cleanup(rollout: Rollout) -> None:
    """After a failed test: whatever the removal apply did not get to."""
    pid = rollout.daemon_pid()
    if pid:
        os.kill(pid, 15)
    for path in (rollout.init_script, rollout.cron_file):
        path.unlink(missing_ok=True)
    subprocess.run(["update-rc.d", "-f", rollout.service, "remove"], capture_output=True)
    if rollout.vhost in rabbitmqctl("list_vhosts", "name").stdout.split():
        rabbitmqctl("delete_vhost", rollout.vhost)
    if rollout.uid in [line.split("\t")[0] for line in rabbitmqctl("list_users").stdout.splitlines()]:
        rabbitmqctl("delete_user", rollout.uid)


@pytest.fixture(scope="module")
def rollout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rollout]:
    which_or_fail("rabbitmqctl")
    assert os.geteuid() == 0, "the Puppet module test applies system resources and must run as root"
    built = debpkg.build_once(tmp_path_factory)
    with debpkg.machine_lock():  # the package is machine-wide: no other test has it installed meanwhile
        ours = Rollout(tmp_path_factory.mktemp("puppet-module"), built.deb)
        ours.prepare()
        ours.first = ours.apply()
        try:
            yield ours
        finally:
            if ours.daemon_pid() or ours.init_script.exists() or ours.venv.exists():
                ours.apply("absent")
            cleanup(ours)


def wait_for(predicate, timeout: float, interval: float = 0.3):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(interval)


def test_first_apply_converges(rollout: Rollout) -> None:
    first = rollout.first
    assert first is not None
    assert first.rc == 2, first  # 2: changes and no failures
    assert not first.errors, first
    assert "Service[" + rollout.service + "]/ensure: ensure changed 'stopped' to 'running'" in first.out
    # the broker's shared user and scripts/broker-setup's listener were not touched
    assert "pymco-rabbitmq-user-mcollective" not in first.out
    assert "Service[rabbitmq-server]" not in first.out
    assert (rollout.root / "state").stat().st_mode & 0o777 == 0o700
    print(f"first puppet apply: {first.seconds:.1f}s")


def test_broker_has_stomp_vhost_user_and_exchanges(rollout: Rollout) -> None:
    assert rollout.vhost in rabbitmqctl("list_vhosts", "name").stdout.splitlines()
    assert rabbitmqctl("authenticate_user", rollout.uid, rollout.password).returncode == 0
    permissions = rabbitmqctl("list_user_permissions", rollout.uid).stdout.splitlines()
    assert f"{rollout.vhost}\t.*\t.*\t.*" in permissions
    exchanges = {tuple(line.split("\t")) for line in
                 rabbitmqctl("list_exchanges", "-p", rollout.vhost, "name", "type", "durable").stdout.splitlines()}
    family = facter_os_family()
    for collective in (rollout.uid, f"{rollout.uid}_os_{family}"):
        for suffix in ("broadcast", "directed"):
            assert (f"{collective}_{suffix}", "topic", "true") in exchanges, exchanges
    assert stomp_connect(rollout.vhost, rollout.uid, rollout.password).startswith("CONNECTED")
    assert stomp_connect(rollout.vhost, rollout.uid, "wrong").startswith("ERROR")
    # the drop-in the module manages is exactly the one scripts/broker-setup writes
    assert Path("/etc/rabbitmq/conf.d/50-pymco.conf").read_text() == (
        "# Managed by pymco (scripts/broker-setup or the pymco Puppet module)\n"
        f"stomp.listeners.tcp.1 = 127.0.0.1:{STOMP_PORT}\n")
    assert rabbitmqctl("authenticate_user", *SHARED_USER).returncode == 0


def test_pymco_is_installed_from_the_built_deb(rollout: Rollout) -> None:
    version = re.search(r'__version__ = "([^"]+)"', (REPO / "lib/pymco/__init__.py").read_text()).group(1)
    assert debpkg.package_state() == "install ok installed"
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "pymco"], capture_output=True, text=True,
                               timeout=60).stdout
    assert installed == rollout.deb.name.split("_")[1] and installed.startswith(f"{version}-")
    proc = subprocess.run([str(rollout.venv / "bin" / "pymcod"), "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout.strip() == f"pymcod {version}", proc


def test_daemon_runs_with_facter_facts(rollout: Rollout) -> None:
    pid = wait_for(rollout.daemon_pid, 10)
    assert pid, f"no pymcod behind {rollout.pidfile}"
    status = subprocess.run([str(rollout.init_script), "status"], capture_output=True, text=True)
    assert status.returncode == 0 and f"running (pid {pid})" in status.stdout
    config = rollout.etc / "server.cfg"
    assert config.stat().st_mode & 0o777 == 0o600
    keys = [line.split(" = ")[0] for line in config.read_text().splitlines() if line and not line.startswith("#")]
    assert keys == sorted(keys)
    settings = dict(line.split(" = ", 1) for line in config.read_text().splitlines() if " = " in line)
    assert settings["plugin.yaml"] == str(rollout.facts_file) and settings["factsource"] == "yaml"
    assert settings["classesfile"] == str(rollout.node_puppet / "var" / "state" / "classes.txt")
    facts = yaml.safe_load(rollout.facts_file.read_text())
    assert facts["os"]["family"] == facter_os_family()
    # the scheduled refresh: run the cron entry's command and see the file replaced, still valid
    [entry] = [line for line in rollout.cron_file.read_text().splitlines() if line.startswith("*/")]
    command = entry.split(" root ", 1)[1]
    before = rollout.facts_file.stat().st_ino
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert rollout.facts_file.stat().st_ino != before
    assert yaml.safe_load(rollout.facts_file.read_text())["os"]["family"] == facts["os"]["family"]


def test_mco_ping_finds_the_node(rollout: Rollout) -> None:
    def pinged() -> subprocess.CompletedProcess[str] | None:
        proc = rollout.mco("ping")
        return proc if rollout.identity in proc.stdout else None

    proc = wait_for(pinged, 20, interval=1)
    assert proc, rollout.mco("ping")
    assert re.search(rf"^{re.escape(rollout.identity)}\s+time=", proc.stdout, re.M), proc.stdout


def test_mco_find_selects_by_facter_os_family(rollout: Rollout) -> None:
    family = facter_os_family()
    proc = rollout.mco("find", "-F", f"os.family={family}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == [rollout.identity], proc.stdout
    other = rollout.mco("find", "-F", "os.family=NoSuchFamily")
    assert other.returncode == 1 and rollout.identity not in other.stdout, other.stdout


def test_fact_named_sub_collective(rollout: Rollout) -> None:
    """The node joined `<uid>_os_<os.family>` from Hiera data interpolating the Facter fact."""
    sub = f"{rollout.uid}_os_{facter_os_family()}"
    settings = (rollout.etc / "server.cfg").read_text()
    assert f"collectives = {rollout.uid},{sub}\n" in settings
    assert f"main_collective = {rollout.uid}\n" in settings
    proc = rollout.mco("find", "-T", sub)
    assert proc.returncode == 0 and proc.stdout.split() == [rollout.identity], proc.stdout + proc.stderr
    proc = rollout.mco("rpc", "rpcutil", "get_fact", "fact=os.family", "-T", sub, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [reply] = json.loads(proc.stdout)
    assert reply["sender"] == rollout.identity and reply["data"]["value"] == facter_os_family()


def puppet_status(rollout: Rollout) -> dict:
    proc = rollout.mco("rpc", "puppet", "status", "-I", rollout.identity, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [reply] = json.loads(proc.stdout)
    return reply["data"]


def test_mco_puppet_runonce_runs_masterless_puppet(rollout: Rollout) -> None:
    managed = rollout.node_puppet / "managed.txt"
    assert not managed.exists()
    started = int(time.time())
    proc = rollout.mco("puppet", "runonce", "--force", "-I", rollout.identity)
    assert proc.returncode == 0 and "Finished processing 1 / 1 hosts" in proc.stdout, proc.stdout + proc.stderr

    def finished() -> dict | None:
        data = puppet_status(rollout)
        return data if not data["applying"] and data["lastrun"] >= started else None

    assert wait_for(finished, 90, interval=1), puppet_status(rollout)
    assert managed.read_text() == f"converged by {rollout.uid}\n"
    proc = rollout.mco("rpc", "puppet", "last_run_summary", "-I", rollout.identity, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [reply] = json.loads(proc.stdout)
    summary = reply["data"]
    assert summary["lastrun"] >= started and summary["failed_resources"] == 0
    assert summary["changed_resources"] == 1 and summary["type_distribution"] == {"File": 1}
    text = rollout.mco("puppet", "summary", "-I", rollout.identity)
    assert text.returncode == 0 and "Summary statistics for 1 nodes:" in text.stdout, text.stdout


def test_second_apply_changes_nothing(rollout: Rollout) -> None:
    pid = rollout.daemon_pid()
    again = rollout.apply()
    assert len(rollout.applies) == 2
    assert again.rc == 0, again
    assert rollout.daemon_pid() == pid, "the daemon was restarted by an apply that changed nothing"
    print(f"second puppet apply: {again.seconds:.1f}s")


HELLO_AGENT = """\
from pymco.agent import Agent, action


class Hello(Agent):
    @action
    def greet(self, request, reply):
        reply["message"] = "hello from " + self.config.identity
"""
HELLO_DDL = """\
metadata: {name: hello, description: Greets, author: tests, license: Apache-2.0, version: 0.1.0,
           url: https://example.com, timeout: 10}
actions:
  - action: greet
    description: Greet
    display: always
    output:
      message: {description: The greeting, display_as: Message}
"""


def test_a_change_restarts_the_daemon_and_plugins_load(rollout: Rollout) -> None:
    """New Hiera data (a log level and a pymco::plugin): server.cfg changes, the daemon restarts."""
    pid = rollout.daemon_pid()
    rollout.change_data(pymco__server__log_level="debug", pymco__server__plugins={
        "hello": {"agent_content": HELLO_AGENT, "ddl_content": HELLO_DDL}})
    changed = rollout.apply()
    assert changed.rc == 2 and not changed.errors, changed
    assert f"Service[{rollout.service}]: Triggered 'refresh'" in changed.out, changed
    new_pid = wait_for(rollout.daemon_pid, 10)
    assert new_pid and new_pid != pid
    assert "loglevel = debug\n" in (rollout.etc / "server.cfg").read_text()
    assert (rollout.root / "lib" / "agents" / "hello.py").read_text() == HELLO_AGENT

    def greeted() -> subprocess.CompletedProcess[str] | None:
        proc = rollout.mco("rpc", "hello", "greet", "-I", rollout.identity, "--json")
        return proc if proc.returncode == 0 else None

    proc = wait_for(greeted, 20, interval=1)
    assert proc, rollout.mco("rpc", "hello", "greet", "-I", rollout.identity)
    [reply] = json.loads(proc.stdout)
    assert reply["data"]["message"] == f"hello from {rollout.identity}"


def test_removal_leaves_nothing_running(rollout: Rollout) -> None:
    pid = rollout.daemon_pid()
    assert pid
    removed = rollout.apply("absent")
    assert removed.rc == 2 and not removed.errors, removed
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10)
    assert rollout.our_processes() == []
    for path in (rollout.init_script, rollout.cron_file, rollout.venv, rollout.etc, rollout.root / "lib",
                 rollout.root / "state"):
        assert not path.exists(), path
    assert debpkg.package_state() == "", "the package was not purged"
    assert not list(Path("/etc").glob(f"rc?.d/*{rollout.service}"))
    assert rollout.vhost not in rabbitmqctl("list_vhosts", "name").stdout.splitlines()
    assert rollout.uid not in [line.split("\t")[0] for line in rabbitmqctl("list_users").stdout.splitlines()]
    # the shared broker keeps running, with STOMP and everyone else's user
    assert stomp_connect("/mcollective", *SHARED_USER).startswith("CONNECTED")
    print(f"removal: {removed.seconds:.1f}s")
