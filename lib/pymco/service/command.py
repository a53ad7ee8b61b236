"""MCollective's `service` provider: `<servicecmd> <name> <verb>`, judged by exit code.

Selected with `plugin.service.provider = service` (`plugin.service.service.servicecmd`
names the command, default `service` from PATH).  It never checks the state
first, so it never fails on "already running": start reports running when
the command exits 0, stopped otherwise; stop the reverse; restart and status
report running on exit 0.
"""

from __future__ import annotations

import shutil

from pymco.service.base import RUNNING, STOPPED, ServiceProvider

__all__ = ["CommandService"]


class CommandService(ServiceProvider):
    name = "service"
    checks_state = False

    def run_verb(self, verb: str) -> bool:
        servicecmd = self.options.get("servicecmd") or shutil.which("service") or "/sbin/service"
        return self.execute([servicecmd, self.service, verb], verb, check=False).ok

    def status(self) -> str:
        return RUNNING if self.run_verb("status") else STOPPED

    def start(self) -> str:
        return RUNNING if self.run_verb("start") else STOPPED

    def stop(self) -> str:
        return STOPPED if self.run_verb("stop") else RUNNING

    def restart(self) -> str:
        return RUNNING if self.run_verb("restart") else STOPPED
