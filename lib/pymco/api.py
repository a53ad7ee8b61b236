"""pymco's client API for Python scripts: SimpleRPC's `rpcclient` for Python.

    from pymco.api import Client

    with Client("rpcutil") as mc:                  # ~/.pymco, else /etc/pymco/client.cfg
        mc.fact_filter("os.family", "Debian")
        call = mc.call("get_fact", fact="os.family")
        for result in call:                        # as replies arrive
            print(result.sender, result.data["value"])
        print(call.stats.noresponsefrom)

This is the stable surface (everything in `__all__`, documented in
docs/scripting.md); it is a thin layer over the same client `mco rpc` uses
(`pymco.client.rpc`), so discovery, DDL defaults and validation, limits,
batches, direct addressing and the wire format are exactly the CLI's.
Errors are `pymco.errors` classes: `ConfigError`, `DDLError`,
`DDLValidationError` (before anything is sent), `FilterSyntaxError`,
`ClientError`, `ConnectorError`.

Thread safety: a `Client` owns one broker connection and is not thread
safe; use one `Client` per thread.  A call's replies are gathered by a
helper thread and handed to the iterating thread through a queue, so a slow
consumer never delays the wait for replies.

Nothing in `mco`'s start-up imports this module.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from dataclasses import replace
from typing import Any, Iterator, TextIO

from pymco.client.results import RequestStats, RPCResult
from pymco.client.rpc import CallOptions, RPCClient
from pymco.client.session import Session
from pymco.config import Config, default_client_config, load_config
from pymco.ddl.loader import load_ddl
from pymco.ddl.model import AgentDDL
from pymco.matcher.filter import Filter
from pymco.paths import ddl_dirs

__all__ = ["Client", "Call", "Result", "Stats", "load_client_config", "format_results", "format_stats"]

#: One node's reply: `sender`, `statuscode` (0 ok), `statusmsg`, `data` (dict), `ok`, `agent`, `action`.
Result = RPCResult
#: A call's figures: `responses`, `noresponsefrom`, `okcount`, `failcount`, `discovered`,
#: `discovered_nodes`, `discoverytime`, `blocktime`, `totaltime`, `requestid`, `late`, `unverified`.
Stats = RequestStats

_END = object()
_PENDING = object()


def load_client_config(path: str | os.PathLike[str] | None = None) -> Config:
    """A client configuration: `path`, else `~/.pymco`, else `/etc/pymco/client.cfg` (as `mco -c`)."""
    return load_config(os.fspath(path) if path is not None else default_client_config(), mode="client")


def format_results(results: list[Result], ddl: AgentDDL | None = None, display: str | None = None,
                   verbose: bool = False, colour: bool = False) -> str:
    """The per-node blocks exactly as `mco rpc` prints them (SimpleRPC's `printrpc`)."""
    from pymco.cli.output import Colour, render_results

    spec = ddl.action(results[0].action) if ddl is not None and results else None
    return "\n" + render_results(results, spec, display, Colour(colour), verbose=verbose)


def format_stats(stats: Stats, results: list[Result] | None = None, ddl: AgentDDL | None = None,
                 caption: str = "rpc stats", verbose: bool = False, colour: bool = False) -> str:
    """The summaries and stats footer exactly as `mco rpc` prints them (SimpleRPC's `printrpcstats`).

    With `results` and the agent's `ddl`, the action's aggregate summaries
    ("Summary of ...") come first, as `mco rpc` shows them.
    """
    from pymco.aggregate.base import Aggregator
    from pymco.cli.output import Colour, render_stats

    aggregates = None
    spec = ddl.action(results[0].action) if ddl is not None and results else None
    if spec is not None and results:
        aggregator = Aggregator(spec)
        for result in results:
            aggregator.process(result.data, result)
        aggregates = aggregator.results()
    return "\n" + render_stats(stats, Colour(colour), aggregates, caption=caption, verbose=verbose)


class Call:
    """One request: iterate for `Result`s as they arrive; `stats` once the iteration ended.

    Every result seen is also kept in `results`, so `print()` can show the
    whole call afterwards as `mco rpc` does.  Leaving the loop early is fine:
    iterating again goes on with the next reply, and the client's next call
    starts once this one has all its replies (or timed out).
    """

    def __init__(self, client: "Client", rpc: RPCClient, action: str, arguments: dict[str, Any]) -> None:
        self.client = client
        self.agent = rpc.agent
        self.action = action
        self.ddl = rpc.ddl
        self.results: list[Result] = []
        self.stats: Stats | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._end: Any = _PENDING  # the gathering's outcome: its stats or the exception it raised
        self._thread = threading.Thread(target=self._gather, args=(rpc, action, arguments),
                                        name=f"pymco-call-{self.agent}-{action}", daemon=True)
        self._thread.start()

    def _gather(self, rpc: RPCClient, action: str, arguments: dict[str, Any]) -> None:
        try:
            self._queue.put((_END, rpc.call(action, arguments, on_result=self._queue.put)))
        except BaseException as exc:  # handed to the iterating thread, which raises it
            self._queue.put((_END, exc))

    def __iter__(self) -> Iterator[Result]:
        while self.stats is None:
            item = self._queue.get() if self._end is _PENDING else (_END, self._end)
            if isinstance(item, tuple) and item and item[0] is _END:
                self._end = item[1]
                self._finish(item[1])
                return
            self.results.append(item)
            yield item

    def _finish(self, outcome: Any) -> None:
        self._thread.join()
        if isinstance(outcome, BaseException):
            raise outcome
        self.stats = outcome
        self.client.stats = outcome

    def wait(self) -> "Call":
        """Read every remaining reply (they land in `results`); returns self."""
        for _ in self:
            pass
        return self

    def join(self) -> None:
        """Block until every reply is in or the call timed out.

        The replies stay queued for an iteration that is still going on, so a
        loop over one call may make other calls on the same client.
        """
        self._thread.join()

    def format(self, sort: bool = False, display: str | None = None, verbose: bool = False,
               colour: bool = False) -> str:
        """Everything `mco rpc AGENT ACTION` prints for this call (results, summaries, stats)."""
        self.wait()
        assert self.stats is not None
        results = sorted(self.results, key=lambda r: r.sender) if sort else self.results
        return (format_results(results, self.ddl, display, verbose, colour) +
                format_stats(self.stats, results, self.ddl, f"{self.agent}#{self.action} call stats", verbose,
                             colour))

    def print(self, file: TextIO | None = None, sort: bool = False, display: str | None = None,
              verbose: bool = False) -> None:
        """Write `format()` to `file` (stdout), in colour when it is a terminal and the config allows."""
        stream = file if file is not None else sys.stdout
        wanted = self.client.config.color and hasattr(stream, "isatty") and stream.isatty()
        stream.write(self.format(sort, display, verbose, bool(wanted)))


class Client:
    """A client for one agent, configured like `mco` (SimpleRPC's `rpcclient`).

    Options are the `mco` ones: `collective` (-T), `timeout` (-t), `discovery_timeout`
    (--dt), `discovery_quiet` (--dq), `discovery_method` (--dm), `discovery_options` (--do),
    `limit` ("N" or "N%"),
    `limit_method` ("first"/"random"), `limit_seed`, `batch_size` ("N" or "N%"),
    `batch_sleep`, `ttl`, `reply_to`, `connection_timeout`.  They may also be
    set as attributes between calls.  As in SimpleRPC, the nodes discovered by
    the first call are reused by later calls until a filter or option changes
    or `reset()` is called.
    """

    _OPTIONS = ("collective", "timeout", "discovery_timeout", "discovery_quiet", "discovery_method", "discovery_options", "limit",
                "limit_method", "limit_seed", "batch_size", "batch_sleep", "ttl", "reply_to")

    def __init__(self, agent: str, config: str | os.PathLike[str] | Config | None = None, *,
                 ddl: AgentDDL | None = None, connection_timeout: float | None = None,
                 collective: str | None = None, timeout: float | None = None,
                 discovery_timeout: float | None = None, discovery_quiet: float | None = None,
                 discovery_method: str | None = None,
                 discovery_options: list[str] | None = None, limit: str | int | None = None,
                 limit_method: str | None = None, limit_seed: int | None = None,
                 batch_size: str | int | None = None, batch_sleep: float | None = None,
                 ttl: int | None = None, reply_to: str | None = None) -> None:
        self.agent = agent
        self.config = config if isinstance(config, Config) else load_client_config(config)
        self.ddl = ddl if ddl is not None else load_ddl(agent, ddl_dirs(self.config))
        self.collective = collective
        self.timeout = timeout
        self.discovery_timeout = discovery_timeout
        self.discovery_quiet = discovery_quiet
        self.discovery_method = discovery_method
        self.discovery_options = list(discovery_options) if discovery_options is not None else None
        self.limit = limit
        self.limit_method = limit_method
        self.limit_seed = limit_seed
        self.batch_size = batch_size
        self.batch_sleep = batch_sleep
        self.ttl = ttl
        self.reply_to = reply_to
        self.filter = Filter()
        #: the stats of the last finished call (SimpleRPC's `mc.stats`)
        self.stats: Stats | None = None
        self._session = Session(self.config, connection_timeout)
        self._nodes: list[str] | None = None
        self._rpc: RPCClient | None = None
        self._rpc_key: Any = None
        self._last: Call | None = None

    # ------------------------------------------------------------ filters
    def fact_filter(self, fact: str, value: str | None = None, operator: str = "==") -> "Client":
        """`-F`: `fact_filter("os.family", "Debian")`, `fact_filter("processors.count", "4", ">=")`
        or one string `fact_filter("os.family=Debian")`."""
        self.filter.add_fact(fact if value is None else f"{fact}{operator}{value}")
        return self

    def class_filter(self, name: str) -> "Client":
        """`-C`: a configuration management class, exact or /regex/."""
        self.filter.add_class(name)
        return self

    def identity_filter(self, name: str) -> "Client":
        """`-I`: an identity, exact or /regex/ (several are ORed; exact ones skip discovery)."""
        self.filter.add_identity(name)
        return self

    def agent_filter(self, name: str) -> "Client":
        """`-A`: nodes that have this agent."""
        self.filter.add_agent(name)
        return self

    def compound_filter(self, expression: str) -> "Client":
        """`-S`: facts, classes and data functions with and/or/not, checked before anything is sent."""
        from pymco.matcher.compound import validate_functions

        self.filter.add_compound(expression)
        validate_functions(self.filter.compound[-1], self.config)
        return self

    def reset_filter(self) -> "Client":
        """Forget every filter (and the discovered nodes)."""
        self.filter = Filter()
        return self.reset()

    def reset(self) -> "Client":
        """Forget the discovered nodes: the next call discovers again."""
        self._nodes = None
        self._rpc = None
        return self

    # ------------------------------------------------------------ discovery and calls
    def _options(self) -> CallOptions:
        method = self.discovery_method
        options = self.discovery_options
        return CallOptions(filter=self.filter.copy(), collective=self.collective, timeout=self.timeout,
                           discovery_timeout=self.discovery_timeout, quiet_window=self.discovery_quiet,
                           discovery_method=method,
                           discovery_options=list(options if options is not None
                                                  else self.config.default_discovery_options),
                           ttl=self.ttl, limit=None if self.limit is None else str(self.limit),
                           limit_seed=self.limit_seed, limit_method=self.limit_method,
                           batch_size=None if self.batch_size is None else str(self.batch_size),
                           batch_sleep=self.batch_sleep, reply_to=self.reply_to, nodes=self._nodes)

    def _client(self) -> RPCClient:
        """The RPCClient for the current filter and options, rebuilt (rediscovering) when they changed."""
        self._settle()
        key = (self.filter.to_wire().__repr__(), tuple(getattr(self, o).__repr__() for o in self._OPTIONS),
               self._nodes)
        if self._rpc is None or key != self._rpc_key:
            self._rpc = RPCClient(self._session, self.agent, self.ddl, self._options())
            self._rpc_key = key
        return self._rpc

    def _settle(self) -> None:
        if self._last is not None:
            self._last.join()
            self._last = None

    def discover(self, nodes: list[str] | None = None) -> list[str]:
        """The nodes the next call goes to; with `nodes`, use exactly those (no discovery, direct requests)."""
        if nodes is not None:
            self._nodes = list(dict.fromkeys(nodes))
            self._rpc = None
        return list(self._client().discover())

    def call(self, action: str, /, **arguments: Any) -> Call:
        """Send `action` with `arguments` (DDL defaults filled in, validated first) and return the `Call`."""
        rpc = self._client()
        rpc.prepare(action, arguments)  # DDLValidationError here, in the caller's thread
        self._last = Call(self, rpc, action, arguments)
        return self._last

    def send(self, action: str, /, **arguments: Any) -> str:
        """Fire and forget (`mco rpc --no-results`, or `--reply-to` when set): returns the request id."""
        self._settle()
        rpc = RPCClient(self._session, self.agent, self.ddl,
                        replace(self._options(), process_results=self.reply_to is not None))
        return rpc.fire_and_forget(action, arguments)

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Wait for a running call to end and close the broker connection."""
        self._settle()
        self._session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
