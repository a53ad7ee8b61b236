"""README's "Installing on a fleet", run as written on this machine (broker host, node and operator at once).

The section's shell blocks are extracted and run in order by bash, as root, with
only the substitutions the README asks the reader to make: `broker.example.com`
and the listen address `0.0.0.0` become 127.0.0.1 (the shared broker's STOMP
listener stays on loopback, so RabbitMQ is not reconfigured under other tests).
The build block's `scripts/build` is the one command not re-run: the run's
session build (the same command on the same checkout, tests/support/debpkg.py)
provides `dist/`.  The environment gives apt a lock timeout (other tests use
dpkg too) and the operator a private HOME.  Afterwards the node is purged and
the broker user the walk-through created is removed.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from pymco.config import default_identity
from tests.support import debpkg
from tests.support.cluster import wait_for
from tests.support.debpkg import Built, build_once

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SUBSTITUTE = {"broker.example.com": "127.0.0.1", "0.0.0.0": "127.0.0.1"}


def fleet_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Installing on a fleet\n", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    for old, new in SUBSTITUTE.items():
        blocks = [block.replace(old, new) for block in blocks]
    return blocks


def _bash(block: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, f"README block failed ({proc.returncode}):\n{block}\n--- stdout\n{proc.stdout}\n" \
                                 f"--- stderr\n{proc.stderr}"
    return proc


def _broker_users() -> set[str]:
    proc = subprocess.run(["rabbitmqctl", "-q", "list_users"], capture_output=True, text=True, timeout=120)
    return {line.split("\t")[0] for line in proc.stdout.splitlines() if line}


def test_readme_fleet_walkthrough_works_as_written(tmp_path_factory: pytest.TempPathFactory) -> None:
    built: Built = build_once(tmp_path_factory)
    home = tmp_path_factory.mktemp("operator-home")
    apt_conf = home / "apt.conf"
    apt_conf.write_text('DPkg::Lock::Timeout "600";\n')
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home),
           "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "APT_CONFIG": str(apt_conf)}
    build, broker, node, client, remove = fleet_blocks()
    build_lines = build.strip().splitlines()
    assert build_lines[-1] == "scripts/build", build  # the session build ran exactly this
    identity = default_identity()

    with debpkg.machine_lock():
        users_before = _broker_users()
        try:
            _bash("\n".join(build_lines[:-1]), REPO, env)
            _bash(broker, REPO, env)
            _bash(node, built.directory, env)
            wait_for(lambda: f"started as {identity}" in Path("/var/log/pymco/pymcod.log").read_text(), timeout=60)
            out = _bash(client, home, env).stdout
            assert re.search(rf"^{re.escape(identity)}\s+time=", out, re.M), out  # pymco ping
            assert re.search(rf"^{re.escape(identity)}$", out, re.M), out  # pymco find
            assert "Debian" in out, out  # get_fact os.family
            assert debpkg.daemon_pids()
            _bash(remove, built.directory, env)
            assert debpkg.daemon_pids() == []
            assert debpkg.package_state() == ""
            assert not os.path.exists("/etc/pymco") and not os.path.exists("/opt/pymco")
        finally:
            for user in _broker_users() - users_before:
                subprocess.run(["rabbitmqctl", "-q", "delete_user", user], capture_output=True, timeout=120)
