"""The run ends by checking that no daemon or broker it started is still running.

A leaked pymcod keeps answering in its test collective, a leaked broker keeps
its ports and memory: the next run on the machine (and every other engineer's)
pays for it.  The check must count only what this run started, not the
system broker nor another run's processes, so the controller puts a marker in
its environment (`PYMCO_TEST_RUN=<unique id>`): every process the tests start,
through any number of forks (rabbitmq-server -detached, pymcod daemonizing,
activemq's java), inherits it.  The controller (the xdist controller, or the
only process without xdist) looks for survivors after every worker finished
its teardown, waits a little for the ones still exiting, then names and kills
them and fails the run.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

MARKER = "PYMCO_TEST_RUN"
# What a test starts and must stop (epmd is not here: it is shared with the system broker)
WATCHED = ("pymcod", "mco", "mcollectived", "java", "beam.smp")
GRACE = 15.0


def marked_processes(marker: str, names: tuple[str, ...] = WATCHED) -> dict[int, str]:
    """pid -> command line of the processes whose environment holds `MARKER=marker` and whose
    executable or script is one of `names`."""
    wanted = f"{MARKER}={marker}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted not in environ:
            continue
        if any(os.path.basename(arg.decode(errors="replace")) in names for arg in argv[:2]):
            found[int(entry.name)] = " ".join(a.decode(errors="replace") for a in argv)
    return found


def survivors(marker: str, grace: float = GRACE) -> dict[int, str]:
    """The marked processes still running after `grace` seconds (some are still exiting)."""
    end = time.monotonic() + grace
    while True:
        left = marked_processes(marker)
        if not left or time.monotonic() >= end:
            return left
        time.sleep(0.5)


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _is_controller(config):
        os.environ[MARKER] = uuid.uuid4().hex  # xdist workers are spawned later and inherit it


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):  # type: ignore[no-untyped-def]
    yield  # after every other sessionfinish, xdist's teardown of its workers included
    if not _is_controller(session.config) or MARKER not in os.environ:
        return
    left = survivors(os.environ[MARKER])
    if not left:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"the tests left {len(left)} process(es) running (killed now):"]
    lines += [f"  {pid} {cmd}" for pid, cmd in sorted(left.items())]
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if reporter is not None:
        reporter.write("\n")
        for line in lines:
            reporter.write_line(line, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
