"""Running commands for agents: timeouts, LC_ALL=C, whole-process-group kills.

Every command starts in a new session (its own process group), so a timeout
kills it and everything it spawned.  The daemon runs each action inside a
`JobContext`; commands started by that action register their process groups
there, and the job's deadline caps every command's timeout, so when an action
outlives its DDL timeout the daemon can kill all it started.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

# subprocess and tempfile (with shutil, bz2, lzma...) load on the first command:
# the daemon imports this module for JobContext, and most requests run none.
if TYPE_CHECKING:
    import subprocess

__all__ = ["CommandResult", "run_command", "JobContext", "kill_process_group"]

_local = threading.local()


@dataclass
class JobContext:
    """The running action: its deadline and the process groups it started."""

    deadline: float | None = None
    pgids: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False

    def __enter__(self) -> "JobContext":
        _local.job = self
        return self

    def __exit__(self, *exc: Any) -> None:
        _local.job = None

    def kill_all(self) -> None:
        self.cancelled = True
        with self.lock:
            groups = list(self.pgids)
        for pgid in groups:
            kill_process_group(pgid, grace=0.5)

    @staticmethod
    def current() -> "JobContext | None":
        return getattr(_local, "job", None)


@dataclass
class CommandResult:
    exitcode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exitcode == 0 and not self.timed_out


def kill_process_group(pgid: int, grace: float = 2.0) -> None:
    """TERM the group, then KILL it if anything is left after `grace` seconds."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        return
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_command(command: list[str] | str, *, timeout: float | None = None, stdin: str | None = None,
                cwd: str | None = None, environment: dict[str, str] | None = None, chomp: bool = False,
                shell: bool = False, output_files: bool = False) -> CommandResult:
    """Run `command`, capture its output, and kill its process group on timeout.

    With `output_files`, output is captured in temporary files instead of
    pipes, so a daemon the command leaves behind holding its stdout (as
    sloppy init scripts do) cannot keep us waiting for end-of-file.
    """
    import contextlib
    import subprocess
    import tempfile

    job = JobContext.current()
    if job is not None and job.deadline is not None:
        remaining = max(0.0, job.deadline - time.monotonic())
        timeout = remaining if timeout is None else min(timeout, remaining)
    env = dict(os.environ)
    env.update(environment or {})
    env["LC_ALL"] = "C"
    with contextlib.ExitStack() as files:
        if output_files:
            sinks: list[Any] = [files.enter_context(tempfile.TemporaryFile()) for _ in range(2)]
        else:
            sinks = [subprocess.PIPE, subprocess.PIPE]
        try:
            proc = subprocess.Popen(
                command, shell=shell, cwd=cwd, env=env, start_new_session=True,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=sinks[0], stderr=sinks[1], text=True, errors="replace")
        except OSError as exc:
            return CommandResult(127, "", f"cannot run {command!r}: {exc.strerror}")
        result = _wait(proc, job, stdin, timeout)
        if output_files:
            result.stdout, result.stderr = (_read_back(sink) for sink in sinks)
    if chomp:
        result.stdout, result.stderr = result.stdout.rstrip("\n"), result.stderr.rstrip("\n")
    return result


def _read_back(sink: Any) -> str:
    sink.seek(0)
    return sink.read().decode("utf-8", "replace")


def _wait(proc: subprocess.Popen[str], job: JobContext | None, stdin: str | None,
          timeout: float | None) -> CommandResult:
    import subprocess

    if job is not None:
        with job.lock:
            job.pgids.add(proc.pid)
    timed_out = False
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_process_group(proc.pid)
        out, err = proc.communicate()
    finally:
        if job is not None:
            with job.lock:
                job.pgids.discard(proc.pid)
    code = proc.returncode if proc.returncode is not None else -1
    return CommandResult(code, out or "", err or "", timed_out)
