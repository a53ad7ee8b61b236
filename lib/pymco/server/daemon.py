"""`pymcod`: assemble the daemon from its plugins and run it until told to stop.

Lifecycle: load config -> logging -> (daemonize, pidfile) -> facts, agents,
security, connector -> subscribe -> serve.  Signals: TERM/INT stop (waiting
for running actions when `soft_shutdown` is on), USR1 reloads agents, USR2
cycles the log level, HUP reopens log files.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading

from pymco import __version__, plugins
from pymco.argparsing import ArgumentParser
from pymco.config import DEFAULT_SERVER_CONFIG, Config, load_config
from pymco.data.base import run_data_plugin
from pymco.errors import ConnectorError, PymcoError
from pymco.log import cycle_level, reopen_logs, setup_logging
from pymco.server.agents import AgentManager
from pymco.server.node import NodeContext
from pymco.server.pidfile import PidFile
from pymco.server.runner import Runner
from pymco.server.stats import RunnerStats
from pymco.server.workers import WorkerPool

log = logging.getLogger("pymco.daemon")

__all__ = ["Daemon", "main"]


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()
        self._wake = threading.Event()  # set with either of the two above
        self.stats = RunnerStats()
        facts_cls = plugins.resolve("facts", config.factsource)
        self.node = NodeContext(config, facts_cls(config), self.stats, run_data_plugin)
        self.agents = AgentManager(self.node)
        self.security = plugins.resolve("security", config.securityprovider)(config, client=False)
        self.connector = plugins.resolve("connector", config.connector)(config, config.identity, daemon=True)
        self.pool = WorkerPool(config.max_workers, config.max_queued_requests)
        self.runner = Runner(config, self.connector, self.security, self.node, self.agents, self.pool)
        self._setup_policies()
        self.registrar = None
        if config.registerinterval > 0:
            from pymco.registration.base import Registrar

            plugin = plugins.resolve("registration", config.registration.lower())(config, self.node)
            self.registrar = Registrar(config, plugin, self.connector, self.security)

    def _setup_policies(self) -> None:
        config = self.config
        if config.rpcauthorization:
            provider = (config.rpcauthprovider or "action_policy").lower()  # MCollective accepts any case
            self.node.authorizer = plugins.resolve("authorization", provider)(config)
        if config.rpcaudit:
            provider = (config.rpcauditprovider or "logfile").lower()  # MCollective's docs say "Logfile"
            self.node.auditor = plugins.resolve("audit", provider)(config)

    def start(self) -> None:
        self.node.facts.facts()
        self.agents.load_all()
        self.connector.keep_connected()
        self.runner.subscribe()
        if self.connector.connected:
            # "started" in the log then means requests reach this node.
            try:
                self.connector.confirm_subscriptions()
                log.debug("subscriptions confirmed by the broker")
            except ConnectorError as exc:
                log.warning("%s", exc)
        if self.registrar is not None:
            self.registrar.start()
        self.runner.probe.start()
        # What start-up made (modules, config, DDLs, agents) lives as long as the
        # daemon: frozen, the cyclic GC stops walking it on every full collection
        # (about a tenth of the CPU of a request in a profile).
        gc.freeze()
        log.info("pymcod %s started as %s in %s", __version__, self.config.identity,
                 ", ".join(self.config.collectives))

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._request(self.stop_event))
        signal.signal(signal.SIGINT, lambda *_: self._request(self.stop_event))
        signal.signal(signal.SIGUSR1, lambda *_: self._request(self.reload_requested))
        signal.signal(signal.SIGUSR2, lambda *_: cycle_level())
        signal.signal(signal.SIGHUP, lambda *_: reopen_logs())

    def _request(self, event: threading.Event) -> None:
        event.set()
        self._wake.set()

    def serve(self) -> None:
        try:
            while not self.stop_event.is_set():
                # Signals wake the loop at once; a connector that gave up is noticed within 5 s.
                self._wake.wait(5)
                self._wake.clear()
                if self.stop_event.is_set():
                    break
                if self.connector.gave_up:
                    raise ConnectorError(f"{self.connector.gave_up}; exiting")
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    log.info("reloading agents (SIGUSR1)")
                    self.runner.reload_agents()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        config = self.config
        self.runner.probe.stop()
        if self.registrar is not None:
            self.registrar.stop()
        if config.soft_shutdown:
            limit = config.soft_shutdown_timeout
            log.info("soft shutdown: waiting %s for running actions",
                     f"up to {limit:g}s" if limit else "without limit")
            done = self.pool.shutdown(wait=limit if limit else 10 ** 9)
            if not done:
                log.warning("soft shutdown timeout reached with actions still running")
        else:
            self.pool.shutdown(wait=0)
        self.connector.disconnect()
        log.info("pymcod stopped")


def daemonize() -> None:
    """Classic double fork; stdio to /dev/null; cwd /."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


_COMMANDS = """commands:
  pymcod facts refresh [--output FILE] [-p]
                        write the facts file from Facter, atomically (--help for more)
  pymcod registration-receiver [-c FILE] [--database FILE] [--list]
                        keep the fleet inventory from registration messages (--help for more)
"""


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="pymcod", description="The pymco daemon (MCollective-compatible server).",
                            epilog=_COMMANDS, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", help=f"server config file (default: {DEFAULT_SERVER_CONFIG})")
    parser.add_argument("-p", "--pidfile", help="write the daemon's PID here")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--daemonize", dest="daemonize", action="store_true", default=None,
                       help="detach into the background")
    group.add_argument("--no-daemonize", dest="daemonize", action="store_false", help="stay in the foreground")
    parser.add_argument("--version", action="version", version=f"pymcod {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "facts":
        from pymco.facts.refresh import main as facts_main

        return facts_main(argv[1:])
    if argv and argv[0] == "registration-receiver":
        from pymco.registration.receiver import main as receiver_main

        return receiver_main(argv[1:])
    args = _parser().parse_args(argv)
    path = args.config or DEFAULT_SERVER_CONFIG
    try:
        config = load_config(path, mode="server")
        detach = config.daemonize if args.daemonize is None else args.daemonize
        setup_logging(config, foreground=not detach)
        log.info("configuration: %s%s", config.path, "" if args.config else " (the default; -c FILE for another)")
        for warning in config.warnings:
            log.warning(warning)
        pidfile = PidFile(args.pidfile) if args.pidfile else None
        if pidfile:
            pidfile.check()
        if detach:
            daemonize()
        if pidfile:
            pidfile.write()
        try:
            daemon = Daemon(config)
            daemon.install_signals()
            daemon.start()
            daemon.serve()
        finally:
            if pidfile:
                pidfile.remove()
    except PymcoError as exc:
        hint = "" if args.config or os.path.exists(path) else " (the default; give another with -c FILE)"
        print(f"pymcod: {exc}{hint}", file=sys.stderr)
        if logging.getLogger().handlers:  # else logging's last resort would print it to stderr again
            log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
