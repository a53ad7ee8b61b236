"""Start one Puppet run in the background, detached from pymcod.

    python -m pymco.puppet.launch [--lockfile PATH] [--splay SECONDS] -- COMMAND ...

The runonce action must answer at once while the run goes on for minutes,
survives a daemon restart and is not killed with the action's process
group at the DDL timeout.  So this launcher checks that COMMAND exists
(exit 127 if not), forks, and exits 0; the child starts a new session with
stdio on /dev/null, sleeps a random splay if asked, and runs COMMAND.  For
`puppet apply`, which takes no run lock itself, `--lockfile` makes the child
hold Puppet's catalog-run lockfile (its PID inside) for the run's duration,
so the node reports "applying" and runs never overlap, as with `puppet agent`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time

__all__ = ["main"]


def _detach() -> None:
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _take_lock(path: str) -> bool:
    """Write our PID to `path` unless a live process holds it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, encoding="utf-8") as handle:
            holder = int(handle.read().strip() or 0)
        if holder > 0:
            os.kill(holder, 0)
            return False
    except (OSError, ValueError):
        pass
    temp = f"{path}.{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(str(os.getpid()))
    os.rename(temp, path)
    return True


def _release_lock(path: str) -> None:
    try:
        with open(path, encoding="utf-8") as handle:
            mine = handle.read().strip() == str(os.getpid())
        if mine:
            os.unlink(path)
    except OSError:
        pass


def _run(command: list[str], lockfile: str | None, splay: float) -> int:
    if splay > 0:
        time.sleep(random.uniform(0, splay))
    if lockfile is None:
        os.execvp(command[0], command)
    if not _take_lock(lockfile):
        return 1
    try:
        return subprocess.call(command)
    finally:
        _release_lock(lockfile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pymco.puppet.launch")
    parser.add_argument("--lockfile")
    parser.add_argument("--splay", type=float, default=0.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or shutil.which(command[0]) is None:
        sys.stderr.write(f"cannot find {command[0] if command else 'a command'} to run\n")
        return 127
    if os.fork():
        return 0
    try:
        _detach()
        code = _run(command, args.lockfile, args.splay)
    except BaseException:  # noqa: BLE001 - nobody is listening; just end the child
        code = 1
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
