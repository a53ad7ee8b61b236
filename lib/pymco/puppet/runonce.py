"""What `runonce` runs: Puppet's command line and how the run is started.

`cli_options` is MCollective's create_common_puppet_cli: validated options
in a fixed order (tags, skip_tags, splay, splaylimit, noop, environment,
server/masterport, ignoreschedules, use_cached_catalog).  `RunCommand`
knows the configured command (`plugin.puppet.command`, default
`puppet agent`): `puppet agent` gets MCollective's `--onetime
--no-daemonize --color=false --show_diff --verbose` and does its own splay
and locking; a masterless `puppet apply ...` gets `--color=false --show_diff
--verbose --write-catalog-summary` (so resources.txt exists as after an
agent run), while the launcher does the splay and holds the run lock.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from pymco.errors import ActionFailed, ValidatorError
from pymco.puppet.settings import puppet_environment
from pymco.shell import CommandResult, run_command
from pymco.validators.puppet import parse_server, puppet_server_address, valid_name

__all__ = ["RunOptions", "cli_options", "RunCommand"]

_AGENT_OPTIONS = ["--onetime", "--no-daemonize", "--color=false", "--show_diff", "--verbose"]
_APPLY_OPTIONS = ["--color=false", "--show_diff", "--verbose", "--write-catalog-summary"]


@dataclass
class RunOptions:
    noop: bool | None = None
    tags: list[str] = field(default_factory=list)
    skip_tags: list[str] = field(default_factory=list)
    environment: str | None = None
    server: str | None = None
    splay: bool | None = None
    splaylimit: int | float | None = None
    ignoreschedules: bool = False
    use_cached_catalog: bool | None = None


def _check_tags(tags: list[str], what: str) -> None:
    for tag in tags:
        for part in tag.split("::"):
            if not valid_name(part):
                raise ActionFailed(f"Invalid {what} '{tag}' specified")


def cli_options(opts: RunOptions) -> list[str]:
    """Puppet's options for `opts`, each validated (ActionFailed in MCollective's words)."""
    if opts.server is not None:
        try:
            puppet_server_address(opts.server)
        except ValidatorError as exc:
            raise ActionFailed(str(exc)) from None
    host, port = parse_server(opts.server)
    if opts.environment and not valid_name(opts.environment):
        raise ActionFailed(f"Invalid environment '{opts.environment}' specified")
    if opts.splaylimit is not None and (not isinstance(opts.splaylimit, int) or isinstance(opts.splaylimit, bool)):
        raise ActionFailed(f"Invalid splaylimit '{opts.splaylimit}' specified")
    options: list[str] = []
    if opts.tags:
        _check_tags(opts.tags, "tag")
        options += ["--tags", ",".join(opts.tags)]
    if opts.skip_tags:
        _check_tags(opts.skip_tags, "skip_tag")
        options += ["--skip_tags", ",".join(opts.skip_tags)]
    if opts.splay is not None:
        options.append("--splay" if opts.splay else "--no-splay")
    if opts.splaylimit is not None:
        options += ["--splaylimit", str(opts.splaylimit)]
    if opts.noop is not None:
        options.append("--noop" if opts.noop else "--no-noop")
    if opts.environment:
        options += ["--environment", opts.environment]
    if host:
        options += ["--server", host]
    if port:
        options += ["--masterport", port]
    if opts.ignoreschedules:
        options.append("--ignoreschedules")
    if opts.use_cached_catalog is not None:
        options.append("--use_cached_catalog" if opts.use_cached_catalog else "--no-use_cached_catalog")
    return options


class RunCommand:
    """The configured Puppet command and how to start it in the background."""

    def __init__(self, command: str) -> None:
        import shlex  # not at the top: every daemon imports this module, few parse a Puppet command

        self.text = command
        self.argv = shlex.split(command)
        if not self.argv:
            raise ActionFailed("plugin.puppet.command is empty")

    @property
    def puppet(self) -> str:
        return self.argv[0]

    @property
    def config_file(self) -> str | None:
        """The puppet.conf the command names with `--config FILE` or `--config=FILE`, if any."""
        for index, arg in enumerate(self.argv):
            if arg.startswith("--config="):
                return arg.split("=", 1)[1]
            if arg == "--config" and index + 1 < len(self.argv):
                return self.argv[index + 1]
        return None

    @property
    def masterless(self) -> bool:
        return len(self.argv) > 1 and self.argv[1] == "apply"

    def full(self, options: list[str]) -> list[str]:
        """The run's argv from `cli_options`; masterless runs leave splay to the launcher."""
        options = list(options)
        if not self.masterless:
            return self.argv + _AGENT_OPTIONS + options
        if "--splaylimit" in options:
            index = options.index("--splaylimit")
            del options[index:index + 2]
        return self.argv + _APPLY_OPTIONS + [o for o in options if o not in ("--splay", "--no-splay")]

    def start(self, argv: list[str], opts: RunOptions, lockfile: str) -> CommandResult:
        """Launch `argv` detached; the result is the launcher's (0 once the run started)."""
        launcher = [sys.executable, "-m", "pymco.puppet.launch"]
        if self.masterless:
            launcher += ["--lockfile", lockfile]
            if opts.splay and opts.splaylimit:
                launcher += ["--splay", str(opts.splaylimit)]
        return run_command(launcher + ["--"] + argv, timeout=30, environment=puppet_environment(self.puppet))
