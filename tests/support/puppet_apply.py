"""A real `puppet apply` as root with Puppet's state folders under a test's own folder.

Both Puppet module tests apply manifests this way: the module from this
checkout on the modulepath, Puppet's vardir, confdir, ... in a temporary
folder (so the machine's Puppet state is untouched), `--detailed-exitcodes`
(0 nothing changed, 2 changes, 4/6 failures).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.cluster import which_or_fail

MODULE = Path(__file__).resolve().parents[2] / "puppet_module"
STATE_DIRS = {"vardir": "var", "publicdir": "var/public", "confdir": "etc", "codedir": "code", "logdir": "log",
              "rundir": "run"}
# Facter cannot read /proc/1/environ in this sandbox and says so on every run (harmless).
FACTER_NOISE = re.compile(r"Facter.*/proc/1/environ")


@dataclass
class Applied:
    rc: int
    out: str
    seconds: float

    @property
    def errors(self) -> list[str]:
        return [line for line in self.out.splitlines() if "Error" in line and not FACTER_NOISE.search(line)]

    def __str__(self) -> str:
        return f"rc={self.rc} after {self.seconds:.1f}s\n{self.out}"


def puppet_apply(root: Path, manifest: Path, *options: str, timeout: float = 600) -> Applied:
    """Apply `manifest` with `root/puppet-state` as Puppet's state and `root/modules` first on the modulepath."""
    state = root / "puppet-state"
    flags = [f"--{key}={state / sub}" for key, sub in STATE_DIRS.items()]
    cmd = [which_or_fail("puppet"), "apply", *flags, "--detailed-exitcodes", "--color=false",
           f"--modulepath={root / 'modules'}:/usr/share/puppet/modules", *options, str(manifest)]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))
    return Applied(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start)


def pymcod_pid(pidfile: Path, server_cfg: Path) -> int | None:
    """The PID in the module's pidfile when it is alive and a pymcod of `server_cfg` (not a reused PID)."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(server_cfg).encode() in cmdline else None
