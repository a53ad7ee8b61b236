"""A private ActiveMQ broker (Debian's activemq 5.17) for the activemq connector's tests.

Started and stopped with scripts/activemq-setup, the same script an operator
uses by hand: loopback only, its own data directory and ports, the
`mcollective` user of the RabbitMQ tests.  A missing ActiveMQ fails the
fixture (CI must prove the real broker works), it is never skipped.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.cluster import BROKER, REPO, connector_lines
from tests.support.ports import free_port

SETUP = REPO / "scripts" / "activemq-setup"


class PrivateActiveMQ:
    def __init__(self, directory: Path, name: str = "pymco", network_to: "PrivateActiveMQ | None" = None,
                 networked: bool = False) -> None:
        self.directory = directory
        self.name = name  # unique within a network of brokers
        self.network_to = network_to  # a broker this one forwards to and from (activemq-setup --network-to)
        self.networked = networked  # the first of a network: advisories on (activemq-setup --networked)
        self.port = free_port()
        self.openwire_port = free_port()
        self.user = BROKER["user"]
        self.password = BROKER["password"]

    def _run(self, action: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SETUP), action, "--dir", str(self.directory), *extra],
                              capture_output=True, text=True, timeout=180)

    def start(self) -> "PrivateActiveMQ":
        network = (["--network-to", f"127.0.0.1:{self.network_to.openwire_port}"] if self.network_to
                   else ["--networked"] if self.networked else [])
        proc = self._run("start", "--port", str(self.port), "--openwire-port", str(self.openwire_port),
                         "--user", self.user, "--password", self.password, "--name", self.name, *network)
        if proc.returncode != 0:
            raise RuntimeError(f"scripts/activemq-setup start failed:\n{proc.stdout}{proc.stderr}")
        return self

    def stop(self) -> None:
        self._run("stop")

    def connector_lines(self, **extra: str) -> list[str]:
        lines = connector_lines("activemq", {"port": self.port, "vhost": "mcollective"})
        return lines + [f"plugin.activemq.{key} = {value}" for key, value in extra.items()]
