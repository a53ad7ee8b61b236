"""The service provider contract the `service` agent drives.

A provider knows one init system: whether a service runs, and how to start,
stop and restart it.  `checks_state` providers report "running"/"stopped"
from a status query and let the agent apply MCollective's idempotency rules;
the `service` provider instead reports what the command's exit code says,
as MCollective's ServiceService does.  Failed commands raise ActionFailed in
Puppet's words ("Could not start Service[x]: Execution of ... returned 1").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pymco.errors import ActionFailed
from pymco.shell import CommandResult, run_command

__all__ = ["ServiceProvider", "RUNNING", "STOPPED"]

RUNNING = "running"
STOPPED = "stopped"


class ServiceProvider(ABC):
    name: ClassVar[str]
    #: whether status is queried around actions (Puppet's semantics) or read from exit codes
    checks_state: ClassVar[bool] = True

    def __init__(self, service: str, options: dict[str, str] | None = None) -> None:
        self.service = service
        self.options = dict(options or {})

    def execute(self, command: list[str], verb: str, check: bool = True) -> CommandResult:
        """Run an init command; output goes to files so a daemon holding stdout cannot hang us."""
        result = run_command(command, output_files=True)
        if check and not result.ok:
            output = (result.stdout + result.stderr).strip()
            raise ActionFailed(f"Could not {verb} Service[{self.service}]: Execution of '{' '.join(command)}' "
                               f"returned {result.exitcode}: {output}")
        return result

    @abstractmethod
    def status(self) -> str:
        """RUNNING or STOPPED."""

    @abstractmethod
    def start(self) -> str | None:
        """Start it; None (state to be queried) or, without checks_state, the resulting state."""

    @abstractmethod
    def stop(self) -> str | None:
        """Stop it; as start."""

    @abstractmethod
    def restart(self) -> str | None:
        """Restart it; as start."""
