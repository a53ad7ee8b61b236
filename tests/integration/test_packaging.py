"""Packages: the wheel ships the package, the agents, DDLs, templates and both commands;
`scripts/build` makes the wheel, sdist, an offline wheelhouse and a .deb whose pymcod,
started by its init script, answers the packaged client and Ruby's `mco`; purge leaves nothing.
"""

from __future__ import annotations

import os
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from pymco import __version__
from tests.support import debpkg
from tests.support.cluster import PSK, connector_lines, setup_collectives, unique_name, wait_for, write_config
from tests.support.debpkg import Built, build_once
from tests.support.ruby import ruby_client_config, ruby_mco

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_once(tmp_path_factory)


def test_wheel_contents(built: Built) -> None:
    wheel = built.wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("pymco/_agents/rpcutil.py", "pymco/_agents/discovery.py", "pymco/_ddl/rpcutil.yaml",
                     "pymco/_ddl/data/fstat.yaml", "pymco/server/daemon.py", "pymco/cli/main.py", "pymco/py.typed",
                     "pymco/_agents/package.py", "pymco/_agents/service.py", "pymco/_agents/puppet.py",
                     "pymco/_ddl/puppet.yaml", "pymco/_ddl/data/package.yaml", "pymco/_templates/agent-doc.j2",
                     "pymco/_templates/agent.ddl.j2", "pymco/puppet/launch.py", "pymco/package/apt.py",
                     "pymco/service/sysv.py"):
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "mco = pymco.cli.main:main" in text and "pymcod = pymco.server.daemon:main" in text


# --- scripts/build: wheel, sdist, wheelhouse and the .deb, installed and purged ---------------------

def test_build_makes_wheel_sdist_and_a_lintian_clean_deb(built: Built) -> None:
    assert built.wheel.name == f"pymco-{__version__}-py3-none-any.whl"
    assert built.sdist.name == f"pymco-{__version__}.tar.gz"
    assert built.deb.name.startswith(f"pymco_{__version__}-")
    assert "lintian: clean" in (built.directory / "build.log").read_text()
    sdist = {name.split("/", 1)[1] for name in tarfile.open(built.sdist).getnames() if "/" in name}
    assert {"lib/pymco/server/daemon.py", "ddl/rpcutil.yaml", "agents/rpcutil.py", "setup.cfg"} <= sdist


def test_wheelhouse_installs_pymco_without_an_index(built: Built, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, timeout=120)
    proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--find-links",
                           str(built.wheelhouse), "pymco"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for tool, name in (("mco", "pymco"), ("pymcod", "pymcod")):
        out = subprocess.run([str(venv / "bin" / tool), "--version"], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == f"{name} {__version__}", out


# what bash does on TAB, with the packaged completion loaded as bash-completion loads it
COMPLETE = """source /usr/share/bash-completion/bash_completion
read -ra COMP_WORDS <<< "$1"; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE=$1; COMP_POINT=${#1}
_completion_loader "${COMP_WORDS[0]}"; $(complete -p "${COMP_WORDS[0]}" | sed 's/.*-F \\([^ ]*\\).*/\\1/')
printf '%s\\n' "${COMPREPLY[@]}"
"""


def _packaged_server_cfg(identity: str, collective: str) -> str:
    # the shipped sample with this machine's broker, and a unique node and collective
    sample = Path("/etc/pymco/server.cfg").read_text()
    lines = []
    for line in sample.splitlines():
        key = line.split("=", 1)[0].strip()
        lines.append({"collectives": f"collectives = {collective}",
                      "plugin.rabbitmq.pool.1.host": "plugin.rabbitmq.pool.1.host = 127.0.0.1",
                      "plugin.rabbitmq.pool.1.password": "plugin.rabbitmq.pool.1.password = marionette",
                      "plugin.psk": f"plugin.psk = {PSK}"}.get(key, line))
    return "\n".join(lines) + f"\nidentity = {identity}\n"


def test_deb_installs_a_service_that_answers_mco_beside_ruby_mco_and_purges_clean(built: Built,
                                                                                  tmp_path: Path) -> None:
    ruby_mco_before = Path("/usr/bin/mco").read_bytes()
    identity, collective = unique_name("deb-node-"), unique_name("deb")
    setup_collectives([collective])
    with debpkg.installed(built.deb):
        # what the package put on the machine
        assert stat.S_IMODE(os.stat("/etc/pymco/server.cfg").st_mode) == 0o640
        assert stat.S_IMODE(os.stat("/etc/pymco/client.cfg").st_mode) == 0o600
        assert "# Who may send requests" in Path("/etc/pymco/server.cfg").read_text()
        for path in ("/etc/init.d/pymcod", "/lib/systemd/system/pymcod.service", "/etc/logrotate.d/pymco",
                     "/usr/share/man/man1/pymco.1.gz", "/usr/share/man/man8/pymcod.8.gz",
                     "/usr/share/bash-completion/completions/pymco", "/usr/share/doc/pymco/configuration.md.gz",
                     "/var/log/pymco", "/usr/bin/pymco", "/usr/sbin/pymcod"):
            assert os.path.exists(path), path
        # Debian's Ruby mco keeps /usr/bin/mco; pymco's client is `pymco`
        assert not Path("/usr/bin/mco").is_symlink() and Path("/usr/bin/mco").read_bytes() == ruby_mco_before
        version = debpkg.run(["pymco", "--version"])
        assert version.stdout.strip() == f"pymco {__version__}", version
        for line, word in (("pymco pi", "ping"), ("pymco rpc rpcu", "rpcutil"), ("pymcod fa", "facts")):
            assert word in debpkg.run(["bash", "-c", COMPLETE, "-", line]).stdout.split(), line

        Path("/etc/pymco/server.cfg").write_text(_packaged_server_cfg(identity, collective))
        start = debpkg.run(["/etc/init.d/pymcod", "start"], timeout=60)
        assert start.returncode == 0, start
        wait_for(lambda: Path("/run/pymcod.pid").exists(), timeout=30)
        assert debpkg.run(["/etc/init.d/pymcod", "status"]).returncode == 0

        client = write_config(tmp_path / "client.cfg", {
            "collectives": collective, "securityprovider": "psk", "plugin.psk": PSK,
            "connector_lines": connector_lines(), "logger_type": "console", "loglevel": "warn"})
        ping = wait_for(lambda: (r := debpkg.run(["pymco", "ping", "-c", str(client)], timeout=60))
                        and identity in r.stdout and r, timeout=30)
        assert ping.returncode == 0, ping
        ruby = ruby_mco("ping", config=ruby_client_config(tmp_path / "ruby-client.cfg", [collective]))
        assert ruby.rc == 0 and identity in ruby.out, ruby

        log = Path("/var/log/pymco/pymcod.log").read_text()
        assert "configuration: /etc/pymco/server.cfg (the default" not in log  # the init script names it
        assert "configuration: /etc/pymco/server.cfg" in log and f"started as {identity}" in log
        stop = debpkg.run(["/etc/init.d/pymcod", "stop"], timeout=60)
        assert stop.returncode == 0, stop
        assert debpkg.daemon_pids() == []
    # purged: nothing running, nothing installed, Ruby's mco untouched
    assert debpkg.daemon_pids() == []
    assert debpkg.package_state() == ""
    for path in ("/opt/pymco", "/etc/pymco", "/var/log/pymco", "/etc/init.d/pymcod", "/usr/bin/pymco",
                 "/usr/sbin/pymcod", "/lib/systemd/system/pymcod.service", "/etc/logrotate.d/pymco",
                 "/etc/default/pymcod", "/run/pymcod.pid"):
        assert not os.path.lexists(path), path
    assert not list(Path("/etc").glob("rc?.d/*pymcod"))
    assert not os.path.lexists("/etc/systemd/system/multi-user.target.wants/pymcod.service")
    assert Path("/usr/bin/mco").read_bytes() == ruby_mco_before
    assert debpkg.run(["update-alternatives", "--display", "mco"]).returncode != 0
