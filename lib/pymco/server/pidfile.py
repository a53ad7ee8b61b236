"""The daemon's pidfile: refuse to start twice, replace a stale file, clean up."""

from __future__ import annotations

import errno
import os

from pymco.errors import ConfigError

__all__ = ["PidFile"]


class PidFile:
    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._written = False

    def running_pid(self) -> int | None:
        """PID recorded in the file if that process is alive, else None."""
        try:
            with open(self.path, encoding="ascii") as handle:
                pid = int(handle.read().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except OSError as exc:
            return pid if exc.errno == errno.EPERM else None
        return pid

    def check(self) -> None:
        pid = self.running_pid()
        if pid is not None and pid != os.getpid():
            raise ConfigError(f"pidfile {self.path} names process {pid}, which is running; not starting twice")
        if os.path.exists(self.path):
            os.unlink(self.path)  # stale

    def write(self) -> None:
        """Publish the pid atomically: a reader never sees the file empty."""
        self.check()
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        temp = f"{self.path}.{os.getpid()}.tmp"
        with open(temp, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
        os.chmod(temp, 0o644)
        try:
            os.link(temp, self.path)  # fails if the file exists: still exclusive
        except FileExistsError:
            raise ConfigError(f"pidfile {self.path} appeared while starting; another pymcod?") from None
        finally:
            os.unlink(temp)
        self._written = True

    def remove(self) -> None:
        if self._written and self.running_pid() in (os.getpid(), None):
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
