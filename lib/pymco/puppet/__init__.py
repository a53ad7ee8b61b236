"""The Puppet agent as pymco's puppet agent and data plugins see it.

`plugin.puppet.command` (default `puppet agent`) is the command runs use;
a `puppet apply ...` command makes the node masterless, and then Puppet's
settings are read for the `user` run mode that `puppet apply` uses.
`plugin.puppet.config` names the puppet.conf to read them from; when it is
unset, the command's own `--config FILE` is used, so status never reads the
state files of another Puppet than the one the runs use (and a config that
names two different files is refused rather than guessed).
"""

from __future__ import annotations

import os

from pymco.config import Config
from pymco.errors import ActionFailed
from pymco.puppet.runonce import RunCommand
from pymco.puppet.settings import puppet_paths
from pymco.puppet.state import AgentState

__all__ = ["run_command", "agent_state", "puppet_config"]


def run_command(config: Config) -> RunCommand:
    return RunCommand(config.plugin("puppet.command", "puppet agent"))


def puppet_config(config: Config, command: RunCommand) -> str | None:
    """The puppet.conf whose settings say where the runs keep their state (None: Puppet's default)."""
    configured = config.plugin("puppet.config") or None
    in_command = command.config_file
    if configured and in_command and os.path.abspath(configured) != os.path.abspath(in_command):
        raise ActionFailed(f"plugin.puppet.config {configured} differs from --config {in_command} in "
                           "plugin.puppet.command; remove plugin.puppet.config or make them equal")
    return configured or in_command


def agent_state(config: Config) -> AgentState:
    command = run_command(config)
    return AgentState(puppet_paths(command.puppet, puppet_config(config, command),
                                   "user" if command.masterless else "agent"))
