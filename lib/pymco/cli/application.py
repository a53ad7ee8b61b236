"""The base of every `mco` application: MCollective's options, config, exit codes.

An application declares its own options in `add_arguments()` and does its
work in `main()`.  The base class adds MCollective's common, filter and RPC
option groups (unless excluded), loads the client config, builds the filter
(refusing bad syntax before anything is sent), creates the broker session
lazily, and offers `halt()` with MCollective's exit-code policy.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TextIO

from pymco.argparsing import ArgumentParser
from pymco.cli.output import Colour, render_stats
from pymco.config import Config, default_client_config, load_config
from pymco.errors import ConfigError

# Everything else is imported where it is used: `mco` pays at start-up for the
# modules the command needs (the broker client, -S's compound parser, stdin
# discovery...) and no others.
if TYPE_CHECKING:
    from pymco.client.results import RequestStats
    from pymco.client.rpc import CallOptions, RPCClient
    from pymco.client.session import Session
    from pymco.ddl.model import AgentDDL
    from pymco.matcher.filter import Filter

__all__ = ["Application", "UsageError", "halt_code"]


def _piped_input() -> bool:
    from pymco.discovery.stdin import piped_input

    return bool(piped_input())


class UsageError(Exception):
    """Bad command-line usage: printed as one line, exit 1."""


class _Parser(ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def halt_code(stats: RequestStats) -> int:
    """MCollective's Application#halt_code."""
    discovered = stats.discovered or 0
    if stats.discoverytime == 0 and stats.responses == 0:
        return 4
    if discovered > 0:
        if stats.responses == 0:
            return 3
        if stats.failcount > 0:
            return 2
    if discovered == 0:
        return 0 if stats.responses > 0 else 1
    return 0


class Application:
    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    usage: ClassVar[list[str]] = []
    #: option groups to leave out: "common", "filter", "rpc"
    exclude_sections: ClassVar[tuple[str, ...]] = ()
    #: piped input names the nodes when no discovery method is chosen (as `mco rpc`, `mco find`)
    stdin_discovery: ClassVar[bool] = False

    def __init__(self, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.args: argparse.Namespace = argparse.Namespace()
        self.config: Config | None = None
        self._session: Session | None = None
        self.colour = Colour(False)

    # ------------------------------------------------------------ options
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the application's own options and positional arguments."""

    def build_parser(self) -> argparse.ArgumentParser:
        usage = "\n       ".join(self.usage) if self.usage else None
        parser = _Parser(prog=f"mco {self.name}", description=self.description, usage=usage,
                         epilog="pymco, an MCollective-compatible orchestrator")
        parser.add_argument("-c", "--config", help="Load configuration from file rather than default")
        parser.add_argument("-v", "--verbose", action="store_true", help="Be verbose")
        app = parser.add_argument_group("Application Options")
        self.add_arguments(app)
        if "common" not in self.exclude_sections:
            self._common(parser.add_argument_group("Common Options"))
        if "filter" not in self.exclude_sections:
            self._filters(parser.add_argument_group("Host Filters"))
        if "rpc" not in self.exclude_sections:
            self._rpc(parser.add_argument_group("RPC Options"))
        return parser

    @staticmethod
    def _common(group: Any) -> None:
        group.add_argument("-T", "--target", dest="collective", help="Target messages to a specific sub collective")
        group.add_argument("--dt", "--discovery-timeout", dest="discovery_timeout", type=int,
                           help="Timeout for doing discovery")
        group.add_argument("--dq", "--discovery-quiet", dest="quiet_window", type=float,
                           help="End mc discovery after at most this many seconds without a new reply "
                                "(less when replies come quickly; 0: wait --dt)")
        group.add_argument("-t", "--timeout", type=int, help="Timeout for calling remote agents")
        group.add_argument("-q", "--quiet", action="store_true", help="Do not be verbose")
        group.add_argument("--ttl", type=int, help="Time To Live for the request")
        group.add_argument("--reply-to", dest="reply_to", help="Custom reply target")
        group.add_argument("--dm", "--disc-method", dest="discovery_method", help="Which discovery method to use")
        group.add_argument("--do", "--disc-option", dest="discovery_options", action="append", default=[],
                           help="Options to pass to the discovery method")
        group.add_argument("--nodes", help="List of nodes to address")
        group.add_argument("--publish_timeout", type=int, help="Timeout for publishing requests to remote agents")
        group.add_argument("--threaded", action="store_true", help="Start publishing requests and receiving "
                                                                  "responses in threaded mode")
        group.add_argument("--sort", action="store_true", help="Sort the output of an RPC call before processing")
        group.add_argument("--connection-timeout", dest="connection_timeout", type=int,
                           help="Set the timeout for establishing a connection to the middleware")

    @staticmethod
    def _filters(group: Any) -> None:
        group.add_argument("-W", "--with", dest="with_", action="append", default=[], metavar="FILTER",
                           help="Combined classes and facts filter")
        group.add_argument("-S", "--select", action="append", default=[], metavar="FILTER",
                           help="Compound filter combining facts and classes")
        group.add_argument("-F", "--wf", "--with-fact", dest="fact", action="append", default=[],
                           metavar="fact=val", help="Match hosts with a certain fact")
        group.add_argument("-C", "--wc", "--with-class", dest="klass", action="append", default=[],
                           metavar="CLASS", help="Match hosts with a certain config management class")
        group.add_argument("-A", "--wa", "--with-agent", dest="agent", action="append", default=[],
                           metavar="AGENT", help="Match hosts with a certain agent")
        group.add_argument("-I", "--wi", "--with-identity", dest="identity", action="append", default=[],
                           metavar="IDENT", help="Match hosts with a certain configured identity")

    @staticmethod
    def _rpc(group: Any) -> None:
        group.add_argument("--np", "--no-progress", dest="progress", action="store_false", default=True,
                           help="Do not show the progress bar")
        group.add_argument("-1", "--one", action="store_true", help="Send request to only one discovered node")
        group.add_argument("--batch", dest="batch_size", help="Do requests in batches (N or N%%)")
        group.add_argument("--batch-sleep", dest="batch_sleep", type=float, help="Sleep time between batches")
        group.add_argument("--limit-seed", dest="limit_seed", type=int, help="Seed value for deterministic "
                                                                               "random batching")
        group.add_argument("--limit-nodes", "--ln", "--limit", dest="limit", help="Send request to only a subset "
                                                                                  "of nodes, can be a percentage")
        group.add_argument("-j", "--json", action="store_true", help="Produce JSON output")
        group.add_argument("--display", choices=("ok", "failed", "all"), help="Display only a subset of responses")

    # ------------------------------------------------------------ running
    def parse(self, argv: list[str]) -> None:
        extra = os.environ.get("MCOLLECTIVE_EXTRA_OPTS", "")
        self.args = self.build_parser().parse_args(argv + (shlex.split(extra) if extra else []))
        self.config = load_config(self.args.config or default_client_config(), mode="client")
        from pymco.log import setup_logging

        setup_logging(self.config, default_type="console",
                      level="debug" if logging.getLogger().level == logging.DEBUG
                      else self.config.settings.get("loglevel", "warn"))
        self.colour = Colour.for_stream(self.stdout, self.config.color)
        self.validate()

    def validate(self) -> None:
        """Check option combinations after parsing (raise UsageError)."""

    def main(self) -> int:
        raise NotImplementedError

    def run(self, argv: list[str]) -> int:
        self.parse(argv)
        gc.freeze()  # modules and config live to the end: the GC need not walk them per thousand replies
        try:
            return self.main()
        finally:
            if self._session is not None:
                self._session.close()

    # ------------------------------------------------------------ helpers
    @property
    def session(self) -> Session:
        if self._session is None:
            from pymco.client.session import Session

            assert self.config is not None
            self._session = Session(self.config, getattr(self.args, "connection_timeout", None))
        return self._session

    def build_filter(self) -> Filter:
        from pymco.matcher.filter import Filter

        args = self.args
        flt = Filter()
        for spec in getattr(args, "fact", []):
            flt.add_fact(spec)
        for name in getattr(args, "klass", []):
            flt.add_class(name)
        for name in getattr(args, "agent", []):
            flt.add_agent(name)
        for name in getattr(args, "identity", []):
            flt.add_identity(name)
        for spec in getattr(args, "with_", []):
            flt.add_with(spec)
        for expression in getattr(args, "select", []):
            from pymco.matcher.compound import validate_functions

            flt.add_compound(expression)
            validate_functions(flt.compound[-1], self.config)
        return flt

    def call_options(self, flt: Filter | None = None) -> CallOptions:
        from pymco.client.rpc import CallOptions, known_collective

        args = self.args
        known_collective(self.need_config(), getattr(args, "collective", None))
        method = getattr(args, "discovery_method", None)
        options = list(getattr(args, "discovery_options", []) or [])
        nodes_file = getattr(args, "nodes", None)
        if nodes_file:
            if method or options:
                raise UsageError("--nodes cannot be combined with --dm or --do")
            if not os.access(nodes_file, os.R_OK):
                raise UsageError(f"Cannot read the discovery file {nodes_file}")
            method, options = "flatfile", [nodes_file]
        elif self.stdin_discovery and not method and not options and _piped_input():
            method, options = "stdin", ["auto"]
        limit = getattr(args, "limit", None)
        if getattr(args, "one", False):
            limit = "1"
        assert self.config is not None
        return CallOptions(
            filter=flt if flt is not None else self.build_filter(),
            collective=getattr(args, "collective", None),
            timeout=getattr(args, "timeout", None),
            discovery_timeout=getattr(args, "discovery_timeout", None),
            discovery_method=method,
            discovery_options=options or list(self.config.default_discovery_options),
            quiet_window=getattr(args, "quiet_window", None),
            ttl=getattr(args, "ttl", None),
            limit=limit,
            limit_seed=getattr(args, "limit_seed", None),
            batch_size=getattr(args, "batch_size", None) or (str(self.config.default_batch_size)
                                                             if self.config.default_batch_size else None),
            batch_sleep=getattr(args, "batch_sleep", None),
            reply_to=getattr(args, "reply_to", None),
        )

    def load_ddl(self, agent: str) -> AgentDDL:
        from pymco.ddl.loader import load_ddl
        from pymco.paths import ddl_dirs

        return load_ddl(agent, ddl_dirs(self.config))

    def rpc_client(self, agent: str, flt: Filter | None = None, ddl: AgentDDL | None = None) -> RPCClient:
        from pymco.client.rpc import RPCClient

        return RPCClient(self.session, agent, ddl if ddl is not None else self.load_ddl(agent),
                         self.call_options(flt))

    def out(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def stats_to_stderr(self, stats: RequestStats) -> None:
        """--jsonl/--senders: stdout feeds a pipeline, so the call's stats (and who did not answer) go to stderr."""
        self.stderr.write(render_stats(stats, Colour.for_stream(self.stderr, self.config.color)).lstrip("\n"))

    @staticmethod
    def halt(stats: RequestStats) -> int:
        return halt_code(stats)

    def need_config(self) -> Config:
        if self.config is None:
            raise ConfigError("no configuration loaded")
        return self.config
