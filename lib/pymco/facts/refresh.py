"""`pymcod facts refresh`: write Facter's facts to a file, atomically and safely.

Facter 4 exits 1 in containers over unreadable /proc entries while its YAML
on stdout is complete, and it prints coloured errors on stderr.  So: stderr
never goes into the file, the exit code alone does not decide, the output
must parse as a non-empty mapping with an `os` fact, and the file is replaced
by rename so the daemon never reads half of it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import yaml

from pymco.errors import FactsError

__all__ = ["refresh_facts", "main"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def refresh_facts(path: str, facter: str = "facter", puppet: bool = False, timeout: float = 120,
                  extra_args: list[str] | None = None) -> int:
    """Run Facter and replace `path`; returns the number of top-level facts."""
    command = [facter, "--yaml"] + (["-p"] if puppet else []) + list(extra_args or [])
    try:
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              env=dict(os.environ, LC_ALL="C"))
    except FileNotFoundError:
        raise FactsError(f"cannot run {facter}: not found (install Facter)") from None
    except subprocess.TimeoutExpired:
        raise FactsError(f"{facter} did not finish within {timeout:g}s") from None
    try:
        facts = yaml.load(proc.stdout, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise FactsError(f"{facter} printed invalid YAML (exit {proc.returncode}): "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(facts, dict) or not facts:
        stderr = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FactsError(f"{facter} printed no facts (exit {proc.returncode})"
                         + (f": {stderr[-1]}" if stderr else ""))
    if "os" not in facts and "osfamily" not in facts:
        raise FactsError(f"{facter} output lacks the os facts; refusing to replace {path}")
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".facts-", suffix=".yaml", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(proc.stdout)
            handle.flush()
            os.fsync(handle.fileno())
        with open(tmp, "rb") as handle:
            check = yaml.load(handle, Loader=_Loader)
        if check != facts:
            raise FactsError(f"the facts written to {tmp} do not read back the same")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    from pymco.yamlcache import remember

    remember(path, facts)  # the daemon then re-reads it without PyYAML
    return len(facts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pymcod facts",
                                     description="Refresh the facts file from Facter, atomically.")
    sub = parser.add_subparsers(dest="command", required=True)
    refresh = sub.add_parser("refresh", help="run facter --yaml and replace the facts file")
    refresh.add_argument("--output", "-o", default="/etc/pymco/facts.yaml", help="facts file to write")
    refresh.add_argument("--facter", default="facter", help="facter command")
    refresh.add_argument("-p", "--puppet", action="store_true", help="include Puppet's custom facts (facter -p)")
    refresh.add_argument("--timeout", type=float, default=120, help="seconds to wait for facter")
    args = parser.parse_args(argv)
    try:
        count = refresh_facts(args.output, args.facter, args.puppet, args.timeout)
    except (FactsError, OSError) as exc:
        print(f"pymcod facts refresh: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {count} facts to {args.output}")
    return 0
