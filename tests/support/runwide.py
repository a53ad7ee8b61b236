"""Services started once per test run (Puppet Server, PuppetDB), shared by every xdist worker.

Such a service takes a minute or more to start, so the first worker that
needs it starts it under a file lock in the run-wide folder the controller
made (PYMCO_TEST_RUN_DIR, tests/conftest.py) and writes a state file
`<name>.json`; later workers only read that file.  The service runs in its
own process group under a watchdog shell: it ends the service when the
controller (PYMCO_TEST_RUN_PID) has gone, so no JVM outlives a killed run,
and then runs the service's clean-up command (dropping a database, say).
The controller ends every group at the end of the run (`stop_all`).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

RUN_DIR_ENV = "PYMCO_TEST_RUN_DIR"
RUN_PID_ENV = "PYMCO_TEST_RUN_PID"


def run_dir() -> Path:
    """The folder shared by the controller and every xdist worker of this run."""
    value = os.environ.get(RUN_DIR_ENV)
    if not value:
        raise RuntimeError(f"{RUN_DIR_ENV} is not set: tests/conftest.py makes it in the pytest controller")
    return Path(value)


def run(cmd: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run a set-up command; RuntimeError with its output when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def start_watched(cmd: list[str], log: Path, cleanup: list[str] | None = None) -> subprocess.Popen[bytes]:
    """Start `cmd` under a watchdog in a new process group (its pid is the group's).

    SIGTERM to the group, or the controller's end, stops `cmd`; `cleanup` runs after it in both cases.
    """
    controller = os.environ.get(RUN_PID_ENV, str(os.getppid()))
    after = shlex.join(cleanup) + " >/dev/null 2>&1" if cleanup else ":"
    script = (f'cleanup() {{ {after}; }}; '
              '"$@" & child=$!; trap \'kill $child 2>/dev/null; wait $child; cleanup; exit 0\' TERM INT; '
              f'while kill -0 {controller} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 2; done; '
              'kill $child 2>/dev/null; wait $child; cleanup')
    with open(log, "ab") as out:
        return subprocess.Popen(["bash", "-c", script, "watchdog", *cmd], stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def wait_up(proc: subprocess.Popen[bytes], what: str, is_up: Callable[[], bool], timeout: float,
            tail: Callable[[], str]) -> float:
    """Poll `is_up` until it is true; seconds taken.  RuntimeError (with `tail()`) when the process
    exits or `timeout` passes (the group is then stopped)."""
    started = time.monotonic()
    while not is_up():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail()}")
        if time.monotonic() - started > timeout:
            os.killpg(proc.pid, signal.SIGTERM)
            raise RuntimeError(f"{what} did not start within {timeout:g}s:\n{tail()}")
        time.sleep(1)
    return round(time.monotonic() - started, 1)


def log_tail(*paths: Path, lines: int = 30) -> str:
    text = ""
    for path in paths:
        if path.exists():
            text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
    return text


def shared(name: str, start: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """The state of the run's service `name`; `start(home)` runs in the first worker to ask.

    A failed start is remembered too, so every later worker fails at once with its reason.
    """
    base = run_dir()
    state_path = base / f"{name}.json"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not state_path.exists():
            try:
                state = start(base / name)
            except Exception as exc:
                state = {"error": str(exc)}
            state_path.write_text(json.dumps(state))
        state = json.loads(state_path.read_text())
    if "error" in state:
        raise RuntimeError(f"the run's {name} failed to start: {state['error']}")
    return state


def stop_all(base: Path) -> None:
    """End every service this run started (the controller calls this at the end of the run)."""
    for state_path in base.glob("*.json"):
        try:
            pid = json.loads(state_path.read_text()).get("pid")
        except ValueError:
            continue
        if not pid:
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        end = time.monotonic() + 45
        while time.monotonic() < end:
            try:
                os.waitpid(pid, os.WNOHANG)  # the controller's own child when it started the service
            except ChildProcessError:
                pass
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
