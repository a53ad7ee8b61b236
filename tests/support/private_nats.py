"""A private nats-server cluster on loopback for tests and benchmarks.

`size` real nats-server processes (Debian's package), each with its own
client port, cluster (route) port and config file, routed to each other as
a full mesh: the same layout `scripts/broker-setup --nats --cluster` and the
Puppet class write for production.  Members can be stopped and started again
on the same ports to test restarts and failover.  `extra` lines go into every
member's config (authorization, TLS) to test those against a real server.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.support.ports import free_port

__all__ = ["PrivateNats", "nats_server"]


def nats_server() -> str:
    path = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(path).exists():
        raise RuntimeError("nats-server is not installed; run scripts/bootstrap (Debian package nats-server)")
    return path


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class PrivateNats:
    def __init__(self, directory: Path, size: int = 3, extra: str = "", scheme: str = "nats",
                 max_connections: int | None = None) -> None:
        self.directory = directory
        self.size = size
        self.extra = extra
        self.scheme = scheme
        self.max_connections = max_connections
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * size
        self.pick_ports()

    def pick_ports(self) -> None:
        self.ports = [free_port() for _ in range(self.size)]
        self.route_ports = [free_port() for _ in range(self.size)] if self.size > 1 else []
        self.monitor_ports = [free_port() for _ in range(self.size)]

    @property
    def urls(self) -> list[str]:
        return [f"{self.scheme}://127.0.0.1:{port}" for port in self.ports]

    def config(self, index: int) -> str:
        lines = [f"server_name: pymco-test-{index + 1}", "host: 127.0.0.1", f"port: {self.ports[index]}",
                 f"http: 127.0.0.1:{self.monitor_ports[index]}"]
        if self.max_connections:
            lines.append(f"max_connections: {self.max_connections}")
        if self.route_ports:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for i, p in enumerate(self.route_ports) if i != index)
            lines += ["cluster {", "  name: pymco-test", "  host: 127.0.0.1",
                      f"  port: {self.route_ports[index]}", f"  routes: [{routes}]", "}"]
        return "\n".join(lines) + "\n" + self.extra + "\n"

    def start(self, timeout: float = 15) -> "PrivateNats":
        self.directory.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2, 3):
            for index in range(self.size):
                self.start_member(index, wait=False)
            try:
                for index in range(self.size):
                    self.wait_member(index, timeout)
                break
            except RuntimeError as exc:
                # a port free when picked was taken before the server bound it: pick others
                self.stop()
                if attempt == 3 or "address already in use" not in str(exc):
                    raise
                self.pick_ports()
        if self.size > 1:
            self.wait_routes(timeout)
        return self

    def start_member(self, index: int, wait: bool = True) -> None:
        conf = self.directory / f"nats{index + 1}.conf"
        conf.write_text(self.config(index))
        log = open(self.directory / f"nats{index + 1}.log", "ab")
        with log:
            self.procs[index] = subprocess.Popen([nats_server(), "-c", str(conf)], stdout=log, stderr=log,
                                                 start_new_session=True)
        if wait:
            self.wait_member(index)
            if self.size > 1:
                self.wait_routes()

    def wait_member(self, index: int, timeout: float = 15) -> None:
        end = time.monotonic() + timeout
        while not _listening(self.ports[index]):
            proc = self.procs[index]
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"nats-server {index + 1} exited:\n{self.log(index)}")
            if time.monotonic() > end:
                raise RuntimeError(f"nats-server {index + 1} did not listen within {timeout}s:\n{self.log(index)}")
            time.sleep(0.05)

    def routes(self, index: int) -> int:
        """How many routes member `index` has now (its monitoring endpoint's /routez)."""
        url = f"http://127.0.0.1:{self.monitor_ports[index]}/routez"
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(json.load(response)["num_routes"])

    def wait_routes(self, timeout: float = 15) -> None:
        """Until every running member has a route to every other running member."""
        running = [i for i in range(self.size) if self.running(i)]
        end = time.monotonic() + timeout
        while any(self.routes(i) < len(running) - 1 for i in running):
            if time.monotonic() > end:
                raise RuntimeError("the NATS cluster's routes did not form:\n" + self.log(running[0]))
            time.sleep(0.1)

    def running(self, index: int) -> bool:
        proc = self.procs[index]
        return proc is not None and proc.poll() is None

    def log(self, index: int) -> str:
        path = self.directory / f"nats{index + 1}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_member(self, index: int) -> None:
        proc = self.procs[index]
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs[index] = None

    def stop(self) -> None:
        for index in range(self.size):
            self.stop_member(index)
