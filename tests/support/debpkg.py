"""The packages `scripts/build` makes, built once per test run, and the .deb installed on this machine.

Several test files need the .deb and run on different xdist workers, so the
build is cached in the run's shared temporary root, keyed by a hash of the
source, behind a file lock: the first worker builds, the others wait and reuse
it.  Installing is machine-wide (/etc/pymco, /opt/pymco, /etc/init.d/pymcod),
so `installed()` holds a machine-wide lock while the package is on the machine
and always stops the daemon and purges the package afterwards.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_LOCK = Path("/run/lock/pymco-test-deb.lock")  # every test run on the machine shares it
APT_OPTIONS = ["-o", "DPkg::Lock::Timeout=600", "-o", "Dpkg::Options::=--force-confdef",
               "-o", "Dpkg::Options::=--force-confold"]


@dataclass
class Built:
    directory: Path

    def _one(self, pattern: str) -> Path:
        [path] = self.directory.glob(pattern)
        return path

    @property
    def deb(self) -> Path:
        return self._one("pymco_*.deb")

    @property
    def wheel(self) -> Path:
        return self._one("pymco-*.whl")

    @property
    def sdist(self) -> Path:
        return self._one("pymco-*.tar.gz")

    @property
    def wheelhouse(self) -> Path:
        return self.directory / "wheelhouse"


def _source_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, check=True).stdout.decode()
    return sorted(name for name in listing.split("\0") if name and (REPO / name).is_file())


def source_key() -> str:
    """A hash of what `scripts/build` packages: the tracked and new files of the checkout."""
    digest = hashlib.sha256()
    for name in _source_files():
        digest.update(name.encode() + b"\0" + (REPO / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(factory: pytest.TempPathFactory) -> Built:
    """`scripts/build` of this checkout, shared by the run's workers (and reused while the source is unchanged)."""
    root = factory.getbasetemp().parent  # shared by the xdist workers of one run
    out = root / f"pymco-build-{source_key()}"
    with _locked(root / "pymco-build.lock"):
        if not (out / "done").exists():
            proc = subprocess.run([str(REPO / "scripts" / "build"), "--out", str(out)], capture_output=True,
                                  text=True, timeout=900)
            assert proc.returncode == 0, f"scripts/build failed:\n{proc.stdout}\n{proc.stderr}"
            (out / "build.log").write_text(proc.stdout + proc.stderr)
            (out / "done").touch()
    return Built(out)


def run(cmd: list[str], timeout: float = 300, **kw: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kw)  # type: ignore[call-overload]


def daemon_pids() -> list[int]:
    """PIDs of processes running the packaged pymcod (/opt/pymco/bin/pymcod)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg in (b"/opt/pymco/bin/pymcod", b"/usr/sbin/pymcod") for arg in cmdline[:2]):
            pids.append(int(entry.name))
    return pids


def package_state() -> str:
    """dpkg's status of pymco ("install ok installed", "deinstall ok config-files"), "" when unknown."""
    proc = run(["dpkg-query", "-W", "-f=${Status}", "pymco"])
    return proc.stdout.strip() if proc.returncode == 0 and "not-installed" not in proc.stdout else ""


def purge() -> None:
    """Stop the packaged daemon and purge the package (a no-op when it is not installed)."""
    if Path("/etc/init.d/pymcod").exists():
        run(["/etc/init.d/pymcod", "stop"])
    if not package_state():
        return
    proc = run(["apt-get", "purge", "-y", "-q", *APT_OPTIONS, "pymco"], timeout=600)
    assert proc.returncode == 0, f"apt-get purge pymco failed:\n{proc.stdout}\n{proc.stderr}"


@contextmanager
def machine_lock() -> Iterator[None]:
    """Held while a test has the package on this machine; purges a leftover from a killed run first."""
    with _locked(INSTALL_LOCK):
        purge()
        try:
            yield
        finally:
            purge()


@contextmanager
def installed(deb: Path) -> Iterator[None]:
    """The .deb installed with apt (as an operator would) for the body; purged afterwards."""
    with machine_lock():
        proc = run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_OPTIONS, str(deb)],
                   timeout=600)
        assert proc.returncode == 0, f"apt-get install {deb} failed:\n{proc.stdout}\n{proc.stderr}"
        yield
