"""Real parts for integration tests: the broker, pymcod nodes, and the mco client.

Every test session gets its own collective names (exchanges created on the
real RabbitMQ by scripts/broker-setup), so several test runs can share the
broker without hearing each other.  Nodes are real `pymcod` processes with
their own config, facts (real `facter --yaml` output plus per-node overrides)
and log; `mco()` runs the real `mco` executable.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BROKER = {"host": "127.0.0.1", "port": 61613, "vhost": "/mcollective", "user": "mcollective",
          "password": "marionette"}
PSK = "pymco-test-psk"


def tool(name: str) -> str:
    """An executable installed beside the interpreter running the tests."""
    path = BIN / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: install pymco into the test venv (pip install -e .)")
    return str(path)


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(cmd, **kw)


def setup_collectives(names: list[str]) -> None:
    """Create the exchanges for `names` (and check the broker) with the project's script."""
    proc = run(["bash", str(REPO / "scripts" / "broker-setup"), "--password", "marionette",
               "--collectives", ",".join(names)])
    if proc.returncode != 0:
        raise RuntimeError(f"broker-setup failed:\n{proc.stdout}\n{proc.stderr}")


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def connector_lines(connector: str = "rabbitmq", broker: dict[str, Any] | None = None) -> list[str]:
    b = dict(BROKER, **(broker or {}))
    return [
        f"connector = {connector}",
        f"plugin.{connector}.vhost = {b['vhost']}",
        f"plugin.{connector}.pool.size = 1",
        f"plugin.{connector}.pool.1.host = {b['host']}",
        f"plugin.{connector}.pool.1.port = {b['port']}",
        f"plugin.{connector}.pool.1.user = {b['user']}",
        f"plugin.{connector}.pool.1.password = {b['password']}",
    ]


def nats_lines(servers: list[str], **plugin: str) -> list[str]:
    """A `connector = nats` config for `servers`, plus any `plugin.nats.<key>` settings."""
    return ["connector = nats", f"plugin.nats.servers = {','.join(servers)}",
            *(f"plugin.nats.{key.replace('__', '.')} = {value}" for key, value in plugin.items())]


@dataclass
class Transport:
    """The broker a Cluster's nodes and clients use: `rabbitmq` (the shared one) or `nats` (`servers`)."""

    name: str = "rabbitmq"
    servers: list[str] = field(default_factory=list)

    def lines(self, member: int = 0) -> list[str]:
        """Config lines; with several NATS servers, `member` picks the one listed (so connected to) first."""
        if self.name != "nats":
            return connector_lines()
        first = member % len(self.servers)
        return nats_lines(self.servers[first:] + self.servers[:first])

    def setup(self, collectives: list[str]) -> None:
        if self.name == "rabbitmq":  # NATS subjects need no set-up
            setup_collectives(collectives)


def write_config(path: Path, settings: dict[str, Any]) -> Path:
    lines = []
    for key, value in settings.items():
        if value is None:
            continue
        if isinstance(value, list):
            lines.extend(value)
        else:
            lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns something true (returned); AssertionError after `timeout`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:g}s")


_FACTER_CACHE: dict[str, Path] = {}


def facter_facts(directory: Path) -> Path:
    """Real facts from this machine, written once per session with `pymcod facts refresh`."""
    if "path" not in _FACTER_CACHE:
        path = directory / "facter.yaml"
        proc = run([tool("pymcod"), "facts", "refresh", "--output", str(path)])
        if proc.returncode != 0:
            raise RuntimeError(f"pymcod facts refresh failed: {proc.stderr}")
        _FACTER_CACHE["path"] = path
    return _FACTER_CACHE["path"]


@dataclass
class Result:
    rc: int
    out: str
    err: str
    elapsed: float

    def __str__(self) -> str:
        return f"rc={self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass
class Node:
    identity: str
    directory: Path
    collectives: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    base_facts: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "server.cfg"

    @property
    def log_path(self) -> Path:
        return self.directory / "pymcod.log"

    @property
    def facts_path(self) -> Path:
        return self.directory / "facts.yaml"

    def write(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.facts_path.write_text(yaml.safe_dump(self.facts))
        (self.directory / "classes.txt").write_text("".join(f"{c}\n" for c in self.classes))
        fact_files = ([str(self.base_facts)] if self.base_facts else []) + [str(self.facts_path)]
        settings: dict[str, Any] = {
            "identity": self.identity,
            "collectives": ",".join(self.collectives),
            "main_collective": self.collectives[0],
            "logger_type": "file",
            "logfile": str(self.log_path),
            "loglevel": "debug",
            "securityprovider": "psk",
            "plugin.psk": PSK,
            "connector_lines": connector_lines(),
            "factsource": "yaml",
            "plugin.yaml": ":".join(fact_files),
            "classesfile": str(self.directory / "classes.txt"),
        }
        settings.update(self.settings)
        write_config(self.config_path, settings)

    def start(self) -> "Node":
        self.write()
        with open(self.directory / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen([tool("pymcod"), "--config", str(self.config_path), "--no-daemonize"],
                                         stdout=err, stderr=err, start_new_session=True)
        return self

    def wait_started(self, timeout: float = 20) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"pymcod {self.identity} exited with {self.proc.returncode}:\n{self.log()}")
            if self.log_path.exists() and "started as" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"pymcod {self.identity} did not start within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        err = self.directory / "stderr.log"
        if err.exists():
            text += err.read_text(errors="replace")
        return text

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(5)


class Cluster:
    """Nodes and a client config for one test module, in one collective (plus extras)."""

    def __init__(self, directory: Path, collectives: list[str] | None = None,
                 transport: Transport | None = None) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.collectives = collectives or [unique_name()]
        self.transport = transport or Transport()
        self.transport.setup(self.collectives)
        self.nodes: dict[str, Node] = {}
        self.client_config = self.write_client()

    @property
    def collective(self) -> str:
        return self.collectives[0]

    def write_client(self, name: str = "client.cfg", **extra: Any) -> Path:
        settings: dict[str, Any] = {
            "identity": "testclient",
            "collectives": ",".join(self.collectives),
            "main_collective": self.collectives[0],
            "logger_type": "console",
            "loglevel": "warn",
            "securityprovider": "psk",
            "plugin.psk": PSK,
            "connector_lines": self.transport.lines(),
            "color": "0",
        }
        settings.update(extra)
        return write_config(self.directory / name, settings)

    def add_node(self, identity: str, facts: dict[str, Any] | None = None, classes: list[str] | None = None,
                 collectives: list[str] | None = None, base_facts: bool = True, start: bool = True,
                 **settings: Any) -> Node:
        if identity in self.nodes:
            # Two daemons with one identity both answer, and the first would never be stopped.
            raise ValueError(f"node {identity} is already in this cluster: pick another identity")
        node = Node(identity, self.directory / identity, collectives or list(self.collectives),
                    facts or {}, classes or [], {"connector_lines": self.transport.lines(len(self.nodes) + 1), **settings},
                    base_facts=facter_facts(self.directory.parent) if base_facts else None)
        self.nodes[identity] = node
        if start:
            node.start()
        return node

    def wait(self, nodes: list[Node] | None = None, timeout: float = 30) -> None:
        for node in nodes or list(self.nodes.values()):
            node.wait_started(timeout)

    def mco(self, *args: str, config: Path | None = None, input: str | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> Result:
        cmd = [tool("mco"), *args, "-c", str(config or self.client_config)]
        start = time.monotonic()
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})), stdin=None if input is not None
                              else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


def which_or_fail(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed; run .ci/run (it installs the test dependencies)")
    return path
