"""Init-script services (no systemd): `service <name> <verb>`, else the script itself.

As Puppet's debian/redhat providers: the service must have an init script,
and its status is the exit code of `<script> status` (0 = running).
"""

from __future__ import annotations

import os
import shutil

from pymco.errors import ActionFailed
from pymco.service.base import RUNNING, STOPPED, ServiceProvider

__all__ = ["SysvService", "INIT_DIRS"]

INIT_DIRS = ("/etc/init.d", "/etc/rc.d/init.d")


class SysvService(ServiceProvider):
    name = "sysv"

    def script(self) -> str:
        for directory in INIT_DIRS:
            path = os.path.join(directory, self.service)
            if os.path.isfile(path):
                return path
        raise ActionFailed(f"Could not find init script for '{self.service}'")

    def command(self, verb: str) -> list[str]:
        script = self.script()
        servicecmd = self.options.get("servicecmd") or shutil.which("service")
        if servicecmd and os.path.dirname(script) == INIT_DIRS[0]:
            return [servicecmd, self.service, verb]
        return [script, verb]

    def status(self) -> str:
        return RUNNING if self.execute(self.command("status"), "query", check=False).ok else STOPPED

    def start(self) -> None:
        self.execute(self.command("start"), "start")

    def stop(self) -> None:
        self.execute(self.command("stop"), "stop")

    def restart(self) -> None:
        self.execute(self.command("restart"), "restart")
