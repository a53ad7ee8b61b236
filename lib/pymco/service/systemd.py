"""systemd services, through systemctl (used when /run/systemd/system exists)."""

from __future__ import annotations

from pymco.service.base import RUNNING, STOPPED, ServiceProvider
from pymco.shell import run_command

__all__ = ["SystemdService"]


class SystemdService(ServiceProvider):
    name = "systemd"

    def systemctl(self) -> str:
        return self.options.get("systemctl", "systemctl")

    def status(self) -> str:
        active = run_command([self.systemctl(), "is-active", "--quiet", "--", self.service]).ok
        return RUNNING if active else STOPPED

    def start(self) -> None:
        self.execute([self.systemctl(), "start", "--", self.service], "start")

    def stop(self) -> None:
        self.execute([self.systemctl(), "stop", "--", self.service], "stop")

    def restart(self) -> None:
        self.execute([self.systemctl(), "restart", "--", self.service], "restart")
