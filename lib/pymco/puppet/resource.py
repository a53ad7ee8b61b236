"""The `resource` action: one Puppet resource applied on the node, if policy allows.

Policy is MCollective's, checked in its order: type allow/deny lists
(`plugin.puppet.resource_type_whitelist` / `_blacklist`; neither set means
deny everything, `none` allows nothing), then per-type name lists
(`resource_name_whitelist.<type>` / `_blacklist.<type>`), then - unless
`resource_allow_managed_resources` - refusing resources the catalog manages.

The Ruby agent applied the resource in-process through Puppet's RAL; here
`puppet resource <type> <title> prop=value ...` does it.  Its log lines are
the result; a resource event means "changed", an error means "failed".
Every resource property is an input the DDL does not declare, so types and
property names are checked here before they reach Puppet's command line.
"""

from __future__ import annotations

import re
from typing import Any

from pymco.config import Config
from pymco.errors import InvalidRPCData, RPCAborted
from pymco.puppet.settings import puppet_environment
from pymco.shell import run_command

__all__ = ["check_policy", "apply_resource", "ResourceOutcome", "reference"]

_TYPE = re.compile(r"[a-z][a-z0-9_]*(::[a-z][a-z0-9_]*)*")
_PROPERTY = re.compile(r"[a-z][a-z0-9_]*")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LEVEL = re.compile(r"^(Debug|Info|Notice|Warning|Error): (.*)$")
_NOISE = re.compile(r"^(Error|Warning): Facter: ")


def reference(kind: str, name: str) -> str:
    """MCollective's 'Type[name]' (Ruby's capitalize: first letter up, the rest down)."""
    return f"{kind.capitalize()}[{name}]"


def check_policy(config: Config, kind: str, name: str) -> None:
    """RPCAborted (status 1) with MCollective's message when policy refuses."""
    allow: str | None = config.plugin("puppet.resource_type_whitelist")
    deny: str | None = config.plugin("puppet.resource_type_blacklist")
    if allow is not None and deny is not None:
        raise RPCAborted("You cannot specify both puppet.resource_type_whitelist and "
                         "puppet.resource_type_blacklist in the config file")
    name_allow = config.plugin(f"puppet.resource_name_whitelist.{kind}")
    name_deny = config.plugin(f"puppet.resource_name_blacklist.{kind}")
    if name_allow is not None and name_deny is not None:
        raise RPCAborted(f"You cannot specify both puppet.resource_name_whitelist.{kind} and "
                         f"puppet.resource_name_blacklist.{kind} in the config file")
    if deny is not None:
        if kind in deny.split(","):
            raise RPCAborted(f"The {kind} type is listed in the type blacklist")
    elif allow is None or allow == "none" or kind not in allow.split(","):
        raise RPCAborted(f"The {kind} type is not listed in the type whitelist")
    if name_deny is not None:
        if name in name_deny.split(","):
            raise RPCAborted(f"The {name} name is listed in the name blacklist")
    elif name_allow is not None and name not in name_allow.split(","):
        raise RPCAborted(f"The {name} name is not listed in the name whitelist")


class ResourceOutcome:
    def __init__(self, lines: list[str], failed: bool) -> None:
        self.lines = lines
        self.failed = failed

    @property
    def result(self) -> str:
        return "\n".join(message for _, message in self._messages()) or "no output produced"

    @property
    def changed(self) -> bool:
        """A resource event (source '/Type[title]/property') was logged."""
        return any(level == "Notice" and message.startswith("/") for level, message in self._messages())

    def _messages(self) -> list[tuple[str, str]]:
        found = []
        for line in self.lines:
            match = _LEVEL.match(line)
            if match:
                found.append((match.group(1), match.group(2)))
        return found


def _argument(key: str, value: Any) -> str:
    if not _PROPERTY.fullmatch(key):
        raise InvalidRPCData(f"'{key}' is not a valid resource property name")
    if isinstance(value, (list, dict)) or value is None:
        raise InvalidRPCData(f"resource property '{key}' must be a single value")
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"{key}={value}"


def apply_resource(puppet: str, config_file: str | None, kind: str, name: str, properties: dict[str, Any],
                   environment: str | None) -> ResourceOutcome:
    if not _TYPE.fullmatch(kind):
        raise InvalidRPCData(f"'{kind}' is not a valid Puppet type name")
    command = [puppet, "resource", "--color=false"]
    if config_file:
        command.append(f"--config={config_file}")
    if environment:
        command += ["--environment", environment]
    command += ["--", kind, name] + [_argument(k, v) for k, v in sorted(properties.items())]
    result = run_command(command, environment=puppet_environment(puppet))
    lines = [_ANSI.sub("", line) for line in (result.stdout + result.stderr).splitlines()]
    lines = [line for line in lines if not _NOISE.match(line)]
    failed = not result.ok or any(line.startswith("Error: ") for line in lines)
    return ResourceOutcome(lines, failed)
