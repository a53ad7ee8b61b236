"""Where Puppet keeps its state on this node, as Puppet itself says.

Paths differ between Debian's Puppet (/var/cache/puppet/...), Puppet's AIO
packages (/opt/puppetlabs/puppet/cache/...) and whatever puppet.conf says,
so they come from `puppet config print` for the run mode the runs use
(`agent`, or `user` for masterless `puppet apply`).  That costs about half a
second, so the answer is cached until puppet.conf changes.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass

from pymco.errors import ActionFailed
from pymco.shell import run_command

__all__ = ["PuppetPaths", "puppet_paths", "puppet_environment"]

_SETTINGS = ("agent_catalog_run_lockfile", "agent_disabled_lockfile", "pidfile", "lastrunfile", "lastrunreport",
             "resourcefile", "environment", "config")
_cache: dict[tuple[str, str | None, str], tuple[tuple[int, int] | None, "PuppetPaths"]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class PuppetPaths:
    agent_catalog_run_lockfile: str
    agent_disabled_lockfile: str
    pidfile: str
    lastrunfile: str
    lastrunreport: str
    resourcefile: str
    environment: str
    config: str


def puppet_environment(puppet: str) -> dict[str, str]:
    """MCollective's PATH rule: a bare `puppet` may live in /opt/puppetlabs/bin."""
    if os.sep in puppet:
        return {}
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin") + os.pathsep + "/opt/puppetlabs/bin"}


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def puppet_paths(puppet: str, config_file: str | None, section: str) -> PuppetPaths:
    """The state paths for `section` ("agent" or "user"), cached until puppet.conf changes."""
    key = (puppet, config_file, section)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == _stamp(cached[1].config):
            return cached[1]
    command = [puppet, "config", "print", "--render-as", "json", "--section", section]
    if config_file:
        command.append(f"--config={config_file}")
    result = run_command(command + list(_SETTINGS), timeout=60, environment=puppet_environment(puppet))
    try:
        values = json.loads(result.stdout) if result.ok else None
        paths = PuppetPaths(**{name: str(values[name]) for name in _SETTINGS}) if isinstance(values, dict) else None
    except (ValueError, KeyError):
        paths = None
    if paths is None:
        detail = (result.stderr.strip().splitlines() or [f"exit code {result.exitcode}"])[-1]
        raise ActionFailed(f"Cannot read Puppet's settings with '{' '.join(command)}': {detail}")
    with _lock:
        _cache[key] = (_stamp(paths.config), paths)
    return paths
