"""The Puppet agent as pymco's puppet agent and data plugins see it.

`plugin.puppet.command` (default `puppet agent`) is the command runs use;
a `puppet apply ...` command makes the node masterless, and then Puppet's
settings are read for the `user` run mode that `puppet apply` uses.
`plugin.puppet.config` names the puppet.conf to read them from.
"""

from __future__ import annotations

from pymco.config import Config
from pymco.puppet.runonce import RunCommand
from pymco.puppet.settings import puppet_paths
from pymco.puppet.state import AgentState

__all__ = ["run_command", "agent_state"]


def run_command(config: Config) -> RunCommand:
    return RunCommand(config.plugin("puppet.command", "puppet agent"))


def agent_state(config: Config) -> AgentState:
    command = run_command(config)
    return AgentState(puppet_paths(command.puppet, config.plugin("puppet.config"),
                                   "user" if command.masterless else "agent"))
