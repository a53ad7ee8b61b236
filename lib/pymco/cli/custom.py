"""Custom `mco` applications: a Python file in a libdir, or an entry point.

`<libdir>/applications/NAME.py` (any `libdir` of the client config, first
wins; built-in applications cannot be replaced) or an entry point in the
group `pymco.application` ("module:Class") becomes `mco NAME`.  The file
defines one subclass of `CustomApplication`, which is an `Application` with
MCollective's common, filter and RPC options, the pipeline options
(`--jsonl`, `--senders`, `--filter-replies`) and two ways to reach nodes:

- `self.rpc(agent, action, **arguments)`: call and print exactly as `mco rpc`
  (progress bar, --json, --display, summaries, stats); returns the exit code;
- `self.client(agent)`: a `pymco.api.Client` already carrying the command
  line's filters and options, for scripts that look at the replies; and
  `self.show(call)` to print such a call as `mco rpc` would.

`mco plugin generate application NAME` writes a starting point.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING, Any

from pymco.cli.application import Application
from pymco.errors import ConfigError, PluginError

if TYPE_CHECKING:
    from pymco.api import Call, Client

log = logging.getLogger(__name__)

__all__ = ["CustomApplication", "libdir_applications", "load_file_application"]


class CustomApplication(Application):
    """The base of applications written by operators (see the module docstring)."""

    stdin_discovery = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: list[Client] = []

    def build_parser(self) -> argparse.ArgumentParser:
        from pymco.cli import pipeline

        parser = super().build_parser()
        if "rpc" not in self.exclude_sections:
            pipeline.add_arguments(parser.add_argument_group("Output Options"))
        return parser

    def run(self, argv: list[str]) -> int:
        try:
            return super().run(argv)
        finally:
            for client in self._clients:
                client.close()

    def client(self, agent: str) -> Client:
        """A `pymco.api.Client` for `agent` with this command line's filters and options."""
        from pymco.api import Client

        options = self.call_options()
        client = Client(agent, self.need_config(), ddl=self.load_ddl(agent),
                        connection_timeout=getattr(self.args, "connection_timeout", None),
                        collective=options.collective, timeout=options.timeout,
                        discovery_timeout=options.discovery_timeout, discovery_method=options.discovery_method,
                        discovery_options=options.discovery_options, discovery_quiet=options.quiet_window,
                        limit=options.limit, limit_seed=options.limit_seed, batch_size=options.batch_size,
                        batch_sleep=options.batch_sleep, ttl=options.ttl, reply_to=options.reply_to)
        client.filter = options.filter
        self._clients.append(client)
        return client

    def show(self, call: Call) -> int:
        """Print a `pymco.api.Call` as `mco rpc` prints its results (honouring --json, --jsonl,
        --senders, --filter-replies, --display, --sort, -v); returns MCollective's exit code."""
        from pymco.api import format_results, format_stats
        from pymco.cli import pipeline
        from pymco.cli.output import render_json

        args = self.args
        replies = pipeline.from_args(args, self.stdout)
        kept = [result for result in call if replies is None or replies.accept(result)]
        stats = call.stats
        assert stats is not None
        if not stats.discovered:
            self.err("\nNo request sent, we did not discover any nodes.")
        elif replies is None or not replies.streaming:
            if getattr(args, "sort", False):
                kept.sort(key=lambda r: r.sender)
            if getattr(args, "json", False):
                self.stdout.write(render_json(kept, self.stdout))
            else:
                display = getattr(args, "display", None)
                self.stdout.write(format_results(kept, call.ddl, display, args.verbose, self.colour.enabled) +
                                  format_stats(stats, kept, call.ddl, f"{call.agent}#{call.action} call stats",
                                               args.verbose, self.colour.enabled))
        else:
            self.stats_to_stderr(stats)
        return self.halt(stats)

    def rpc(self, agent: str, action: str, /, **arguments: Any) -> int:
        """Call and print as `mco rpc AGENT ACTION` does; returns MCollective's exit code."""
        from pymco.cli.apps.rpc import RpcRunner

        return RpcRunner(self).call(agent, action, arguments)


def _config_libdirs(config_path: str | None) -> list[str]:
    from pymco.config import default_client_config, load_config

    path = config_path or default_client_config()
    if not os.access(path, os.R_OK):
        return []
    try:
        return list(load_config(path, mode="client").libdir)
    except ConfigError as exc:
        log.debug("no libdir applications: %s", exc)
        return []


def libdir_applications(config_path: str | None = None) -> dict[str, str]:
    """`{name: file}` for each `applications/NAME.py` in the client config's libdirs (first libdir wins)."""
    found: dict[str, str] = {}
    for libdir in _config_libdirs(config_path):
        directory = os.path.join(libdir, "applications")
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            name, ext = os.path.splitext(entry)
            if ext == ".py" and name.isidentifier() and not name.startswith("_"):
                found.setdefault(name, os.path.join(directory, entry))
    return found


def load_file_application(name: str, path: str) -> type[Application]:
    """The `CustomApplication` (or `Application`) subclass a libdir file defines; PluginError if none."""
    from pymco.plugins import import_file

    module_name = f"pymco_application_{name}"
    try:
        module = import_file(module_name, path)
    except PluginError:
        raise
    except Exception as exc:  # noqa: BLE001 - an operator's file: one line naming it, not a traceback
        raise PluginError(f"cannot load the application file {path}: {type(exc).__name__}: {exc}") from None
    classes = [obj for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, Application) and obj.__module__ == module_name]
    if len(classes) != 1:
        raise PluginError(f"{path} must define exactly one Application subclass, it defines {len(classes)}")
    cls = classes[0]
    if not cls.name:
        cls.name = name
    return cls
