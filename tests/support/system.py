"""Real things on the node for agent tests: a local apt repository of test packages and
an init-script service.  Both use unique names and are removed afterwards, so the
machine (and other test runs) never see them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

from tests.support.cluster import run, unique_name, which_or_fail


def _check(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


class AptRepo:
    """A `file:` apt repository holding versions of one test package built with dpkg-deb.

    apt reads repositories as its unprivileged `_apt` user, so the repository
    lives in a world-readable folder of its own under /var/tmp (pytest's
    temporary folders are private to root).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.package = unique_name("pymco-test-")
        self.pool = Path(tempfile.mkdtemp(prefix=f"{self.package}-", dir="/var/tmp"))
        self.pool.chmod(0o755)
        self.source = Path(f"/etc/apt/sources.list.d/{self.package}.list")
        which_or_fail("dpkg-deb")
        which_or_fail("dpkg-scanpackages")

    @property
    def conffile(self) -> Path:
        return Path(f"/etc/{self.package}.conf")

    def build(self, version: str) -> Path:
        """A .deb of the test package at `version`: a data file and a conffile."""
        root = self.directory / f"build-{version}"
        (root / "DEBIAN").mkdir(parents=True)
        (root / "usr" / "share" / self.package).mkdir(parents=True)
        (root / "usr" / "share" / self.package / "version").write_text(version + "\n")
        (root / "etc").mkdir()
        (root / "etc" / f"{self.package}.conf").write_text(f"# {self.package} test configuration\n")
        (root / "DEBIAN" / "conffiles").write_text(f"/etc/{self.package}.conf\n")
        (root / "DEBIAN" / "control").write_text(textwrap.dedent(f"""\
            Package: {self.package}
            Version: {version}
            Architecture: all
            Maintainer: pymco tests <tests@example.com>
            Section: misc
            Priority: optional
            Description: pymco test package
             Built by pymco's integration tests; safe to purge.
            """))
        deb = self.pool / f"{self.package}_{version}_all.deb"
        _check(run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)]), "dpkg-deb --build")
        return deb

    def publish(self) -> None:
        """(Re)write the index and load it into apt's lists, touching no other source."""
        index = _check(run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=self.pool),
                       "dpkg-scanpackages")
        (self.pool / "Packages").write_text(index)
        self.source.write_text(f"deb [trusted=yes] file:{self.pool} ./\n")
        _check(run(["apt-get", "update", "-q", "-o", f"Dir::Etc::sourcelist={self.source}",
                    "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0",
                    "-o", "DPkg::Lock::Timeout=120"]), "apt-get update of the test repository")

    def installed_version(self) -> str | None:
        """What dpkg says: the version when installed, 'config-files', or None when unknown."""
        proc = run(["dpkg-query", "-W", "-f", "${Status}\t${Version}", self.package])
        if proc.returncode != 0:
            return None
        status, _, version = proc.stdout.partition("\t")
        if status.endswith(" installed"):
            return version
        return status.split()[-1]

    def remove(self) -> None:
        if self.installed_version() is not None:
            run(["dpkg", "--purge", self.package])
        self.source.unlink(missing_ok=True)
        mangled = str(self.pool).strip("/").replace("/", "_")
        for entry in Path("/var/lib/apt/lists").glob(f"*{mangled}*"):
            entry.unlink(missing_ok=True)
        shutil.rmtree(self.pool, ignore_errors=True)


INIT_SCRIPT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: pymco test daemon
### END INIT INFO
PIDFILE=/run/{name}.pid
DAEMON={python}
case "$1" in
  start)
    start-stop-daemon --start --quiet --background --make-pidfile --pidfile $PIDFILE \\
      --exec $DAEMON -- {daemon}
    ;;
  stop)
    start-stop-daemon --stop --quiet --retry TERM/5/KILL/2 --pidfile $PIDFILE --remove-pidfile
    ;;
  restart)
    $0 stop
    $0 start
    ;;
  status)
    start-stop-daemon --status --pidfile $PIDFILE
    ;;
  *)
    echo "Usage: $0 {{start|stop|restart|status}}" >&2
    exit 3
    ;;
esac
"""

DAEMON = """\
import os, sys, time
with open(sys.argv[1], "a") as log:
    log.write(f"started {os.getpid()}\\n")
while True:
    time.sleep(1)
"""


class InitService:
    """A tiny daemon behind an LSB init script in /etc/init.d, with a unique name."""

    def __init__(self, directory: Path) -> None:
        self.name = unique_name("pymcotestd-")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.script = Path("/etc/init.d") / self.name
        self.pidfile = Path(f"/run/{self.name}.pid")
        self.starts = directory / "starts.log"
        which_or_fail("start-stop-daemon")

    def install(self) -> None:
        daemon = self.directory / "daemon.py"
        daemon.write_text(DAEMON)
        self.script.write_text(INIT_SCRIPT.format(name=self.name, python=os.path.realpath("/usr/bin/python3"),
                                                  daemon=f"{daemon} {self.starts}"))
        self.script.chmod(0o755)

    def pid(self) -> int | None:
        """The daemon's PID when it runs (pidfile present and process alive)."""
        try:
            pid = int(self.pidfile.read_text().strip())
            state = Path(f"/proc/{pid}/status").read_text()
        except (OSError, ValueError):
            return None
        return None if "\nState:\tZ" in state else pid

    def wait_pid(self, running: bool, timeout: float = 10) -> int | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid = self.pid()
            if (pid is not None) == running:
                return pid
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not {'start' if running else 'stop'} within {timeout}s")

    def remove(self) -> None:
        if self.script.exists():
            run([str(self.script), "stop"])
        self.script.unlink(missing_ok=True)
        self.pidfile.unlink(missing_ok=True)
