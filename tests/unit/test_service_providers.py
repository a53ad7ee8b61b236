"""Service providers' commands and verdicts, with stand-in systemctl/service tools.

systemd is not the init here, so these tools are small scripts that record
their arguments and answer with a chosen exit code; the real init-script
provider is exercised against a real service in tests/integration.
"""

from __future__ import annotations

import pytest

from pymco.config import Config
from pymco.errors import ActionFailed
from pymco.service import make_service
from pymco.service.command import CommandService
from pymco.service.systemd import SystemdService

TOOL = """#!/bin/sh
echo "$@" >> {log}
case "$*" in
  *is-active*|*" status") exit {status} ;;
  *start*|*stop*) echo "Job failed" >&2; exit {change} ;;
esac
"""


@pytest.fixture
def tool(tmp_path):
    def make(status=0, change=0):
        path = tmp_path / "tool"
        path.write_text(TOOL.format(log=tmp_path / "calls", status=status, change=change))
        path.chmod(0o755)
        return str(path)

    make.calls = lambda: (tmp_path / "calls").read_text().splitlines()
    return make


def test_systemd_commands(tool):
    service = SystemdService("nginx", {"systemctl": tool(status=0)})
    assert service.status() == "running"
    service.restart()
    assert tool.calls() == ["is-active --quiet -- nginx", "restart -- nginx"]
    assert SystemdService("nginx", {"systemctl": tool(status=3)}).status() == "stopped"


def test_systemd_failure_reads_like_puppet(tool):
    with pytest.raises(ActionFailed, match=r"^Could not start Service\[nginx\]: Execution of '.* start -- nginx' "
                                           r"returned 1: Job failed$"):
        SystemdService("nginx", {"systemctl": tool(change=1)}).start()


def test_service_command_provider_judges_by_exit_code(tool):
    ok = CommandService("ntp", {"servicecmd": tool(status=0, change=0)})
    assert (ok.start(), ok.stop(), ok.restart(), ok.status()) == ("running", "stopped", "running", "running")
    bad = CommandService("ntp", {"servicecmd": tool(status=3, change=1)})
    assert (bad.start(), bad.stop(), bad.restart(), bad.status()) == ("stopped", "running", "stopped", "stopped")
    assert tool.calls()[:2] == ["ntp start", "ntp stop"]


def test_provider_choice():
    config = Config(pluginconf={"service.provider": "service", "service.service.servicecmd": "/sbin/service"})
    chosen = make_service("ntp", config)
    assert isinstance(chosen, CommandService) and chosen.options == {"servicecmd": "/sbin/service"}
    with pytest.raises(ActionFailed, match="^Cannot load service provider implementation: upstart"):
        make_service("ntp", Config(pluginconf={"service.provider": "upstart"}))
    assert make_service("ntp", Config()).name == "sysv"  # no systemd running on this machine
