"""The SimpleRPC client: discover, publish, gather, as MCollective's RPC client.

Semantics kept from MCollective 2.12: DDL defaults and validation before
anything is sent; identity-only filters skip discovery; requests go direct
(one message per node, filter reduced to the agent) when the discovery
method is not `mc`, when batching, or when few nodes were found; the wait
ends as soon as every discovered node answered; limits pick `first` or
`random` (seeded) nodes; batches share one request id.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pymco import plugins
from pymco.client.results import RequestStats, RPCResult, plain
from pymco.client.session import Session
from pymco.config import Config
from pymco.ddl.model import AgentDDL
from pymco.ddl.validate import set_defaults, validate_request
from pymco.discovery.base import DiscoveryMethod, DiscoveryRequest
from pymco.discovery.ending import DiscoveryPlan, plan
from pymco.discovery.mc import Outcome
from pymco.errors import ClientError
from pymco.matcher.compound import validate_functions
from pymco.matcher.filter import Filter
from pymco.protocol.message import Reply, Request, rpc_body, text

log = logging.getLogger(__name__)

__all__ = ["RPCClient", "CallOptions", "parse_count", "known_collective"]

ResultCallback = Callable[[RPCResult], None]


def parse_count(spec: str | int | None, total: int, what: str) -> int | None:
    """`N` or `N%` of total (percentages round up, at least 1)."""
    if spec is None or spec == "" or spec == 0:
        return None
    text_spec = str(spec).strip()
    try:
        if text_spec.endswith("%"):
            pct = float(text_spec[:-1])
            if pct <= 0 or pct > 100:
                raise ValueError
            return max(1, math.ceil(total * pct / 100.0))
        value = int(text_spec)
        if value <= 0:
            raise ValueError
        return value
    except ValueError:
        raise ClientError(f"Invalid {what} '{spec}': use a positive number or a percentage like 10%") from None


@dataclass
class CallOptions:
    filter: Filter = field(default_factory=Filter)
    collective: str | None = None
    timeout: float | None = None
    discovery_timeout: float | None = None
    discovery_method: str | None = None
    discovery_options: list[str] = field(default_factory=list)
    quiet_window: float | None = None
    ttl: int | None = None
    limit: str | None = None
    limit_seed: int | None = None
    limit_method: str | None = None
    batch_size: str | None = None
    batch_sleep: float | None = None
    reply_to: str | None = None
    process_results: bool = True
    nodes: list[str] | None = None  # supplied by stdin/json discovery


def known_collective(config: Config, collective: str | None) -> str:
    """The collective to address (the main one by default); Ruby's "Unknown collective" before any broker call."""
    name = collective or config.main_collective
    if name not in config.collectives:
        raise ClientError(f"Unknown collective '{name}' known collectives are '{', '.join(config.collectives)}'")
    return name


class RPCClient:
    def __init__(self, session: Session, agent: str, ddl: AgentDDL | None, options: CallOptions) -> None:
        self.session = session
        self.config = session.config
        self.agent = agent
        self.ddl = ddl
        self.options = options
        self.collective = known_collective(self.config, options.collective)
        self._discovered: list[str] | None = None
        self.discovery_time = 0.0
        self.discovery_outcome: Outcome | None = None  # what mc discovery did, for the CLI's line
        self.method_name = options.discovery_method or self.config.default_discovery_method
        self.requestids: set[str] = set()

    # ------------------------------------------------------------ discovery
    @property
    def discovery_timeout(self) -> float:
        value = self.options.discovery_timeout
        if value is None:
            value = self.config.discovery_timeout
        # data functions in -S run on every node before it can answer
        extra = sum(validate_functions(c, self.config) for c in self.options.filter.compound)
        return float(value if value is not None else 2) + extra

    def discovery_plan(self) -> DiscoveryPlan:
        """When mc discovery may end before its timeout (pymco.discovery.ending)."""
        return plan(self.config, self.discovery_timeout, self.options.discovery_timeout is not None,
                    self.options.quiet_window)

    def method(self) -> DiscoveryMethod:
        cls = plugins.resolve("discovery", self.method_name)
        return cls(self.session)

    @property
    def skips_discovery(self) -> bool:
        return self.method_name == "mc" and self.options.filter.identity_only and self.options.nodes is None

    def discover(self) -> list[str]:
        if self._discovered is not None:
            return self._discovered
        start = time.monotonic()
        if self.options.nodes is not None:
            nodes = list(self.options.nodes)
        elif self.skips_discovery:
            nodes = list(dict.fromkeys(self.options.filter.identity))
        else:
            method = self.method()
            method.check(self.options.filter)
            limit = None
            if (self.options.limit and self.limit_method == "first"
                    and not str(self.options.limit).endswith("%")):
                limit = parse_count(self.options.limit, 0, "limit")
            request = DiscoveryRequest(self.options.filter, self.collective, self.agent, self.discovery_timeout,
                                       limit=limit, plan=self.discovery_plan(),
                                       options=self.options.discovery_options,
                                       explicit_timeout=(self.options.discovery_timeout is not None
                                                         or self.config.discovery_timeout is not None))
            nodes = method.discover(request)
            self.discovery_outcome = getattr(method, "outcome", None)
            self.discovery_time = time.monotonic() - start
        self._discovered = nodes
        return nodes

    @property
    def direct_only(self) -> bool:
        """Whether requests must go node by node (non-mc discovery or identity optimisation)."""
        if self.options.nodes is not None or self.skips_discovery:
            return True
        return self.method().direct

    # ------------------------------------------------------------ calls
    def prepare(self, action: str, args: dict[str, Any]) -> dict[str, Any]:
        """Apply DDL defaults and validate; DDLValidationError before anything is sent."""
        if self.ddl is None:
            return dict(args)
        spec = self.ddl.action(action)
        if spec is not None:
            args = set_defaults(spec, args)
        validate_request(self.ddl, action, args)
        return args

    def timeout(self) -> float:
        if self.options.timeout is not None:
            return float(self.options.timeout)
        base = self.ddl.timeout if self.ddl else 10
        return base + self.discovery_timeout

    @property
    def limit_method(self) -> str:
        """`first` or `random`; a --limit-seed asks for a (deterministic) random pick."""
        if self.options.limit_seed is not None:
            return "random"
        return self.options.limit_method or self.config.rpclimitmethod

    def select(self, nodes: list[str]) -> list[str]:
        limit = parse_count(self.options.limit, len(nodes), "limit") if self.options.limit else None
        if limit is None or limit >= len(nodes):
            return nodes
        if self.limit_method == "random":
            rng = random.Random(self.options.limit_seed)
            pool = sorted(nodes) if self.options.limit_seed is not None else list(nodes)
            return rng.sample(pool, limit)
        return nodes[:limit]

    def new_request(self, action: str, args: dict[str, Any], flt: Filter) -> Request:
        ttl = self.options.ttl or self.config.ttl
        body = rpc_body(self.agent, action, self.session.callerid(), args, self.options.process_results)
        request = Request(agent=self.agent, collective=self.collective, body=body, filter=flt.to_wire(),
                          callerid=self.session.callerid(), senderid=self.session.identity, ttl=ttl)
        self.requestids.add(request.requestid)
        return request

    def call(self, action: str, args: dict[str, Any], on_result: ResultCallback | None = None,
             on_progress: Callable[[int, int], None] | None = None) -> RequestStats:
        args = self.prepare(action, args)
        nodes = self.select(self.discover())
        stats = RequestStats(discovered=len(nodes), discovered_nodes=list(nodes),
                             discoverytime=self.discovery_time)
        if not nodes:
            return stats
        batch = parse_count(self.options.batch_size, len(nodes), "batch size") if self.options.batch_size else None
        direct = (self.direct_only or batch is not None or
                  (self.config.direct_addressing and len(nodes) <= self.config.direct_addressing_threshold))
        if (self.direct_only or batch is not None) and not self.config.direct_addressing:
            raise ClientError("This request needs direct addressing, which is disabled (direct_addressing = 0)")
        flt = Filter(agent=[self.agent]) if direct else self._broadcast_filter()
        request = self.new_request(action, args, flt)
        stats.requestid = request.requestid
        start = time.monotonic()
        groups = [nodes[i:i + batch] for i in range(0, len(nodes), batch)] if batch else [nodes]
        sleep = self.options.batch_sleep if self.options.batch_sleep is not None else self.config.default_batch_sleep_time
        for index, group in enumerate(groups):
            if index:
                time.sleep(sleep)
            self._send_and_gather(request, action, group if direct else None, group, stats, on_result, on_progress,
                                  len(nodes))
        stats.late += self.session.drain_late(self.requestids)
        stats.blocktime = time.monotonic() - start
        stats.totaltime = stats.discoverytime + stats.blocktime
        return stats

    def _broadcast_filter(self) -> Filter:
        flt = self.options.filter.copy()
        flt.add_agent(self.agent)
        return flt

    def fire_and_forget(self, action: str, args: dict[str, Any]) -> str:
        """--no-results / --reply-to: send, print the request id, wait for nothing."""
        args = self.prepare(action, args)
        nodes: list[str] | None = None
        if self.direct_only:
            nodes = self.discover()
        flt = Filter(agent=[self.agent]) if nodes is not None else self._broadcast_filter()
        request = self.new_request(action, args, flt)
        self.session.publish(request, nodes, reply_to=self.options.reply_to)
        return request.requestid

    def _send_and_gather(self, request: Request, action: str, targets: list[str] | None, expected: list[str],
                         stats: RequestStats, on_result: ResultCallback | None,
                         on_progress: Callable[[int, int], None] | None, total: int) -> None:
        self.session.publish(request, targets)
        waiting = set(expected)
        seen: set[str] = set()
        # Batches share one request id: a node of an earlier batch that answers now is late.
        earlier = set(stats.discovered_nodes) - waiting if targets is not None else set()

        def on_reply(reply: Reply) -> bool:
            sender = reply.senderid
            if sender in earlier:
                stats.late += 1
                log.info("late reply from %s to %s, after its batch timed out", sender, request.requestid)
                return False
            if sender in seen:
                log.warning("ignoring a second reply from %s to %s", sender, request.requestid)
                return False
            seen.add(sender)
            result = self._result(action, reply)
            stats.record(sender, result.ok)
            if on_result is not None:
                on_result(result)
            if on_progress is not None:
                on_progress(stats.responses, total)
            waiting.discard(sender)
            return not waiting

        outcome = self.session.collect(request.requestid, self.timeout(), on_reply)
        stats.late += outcome.late
        stats.unverified += outcome.unverified

    def _result(self, action: str, reply: Reply) -> RPCResult:
        body = reply.body
        if not isinstance(body, dict):
            return RPCResult(self.agent, action, reply.senderid, 5, f"unexpected reply body {body!r:.80}", {})
        data = plain(body.get("data") or {})
        code = body.get("statuscode", 5)
        return RPCResult(self.agent, action, reply.senderid, code if isinstance(code, int) else 5,
                         text(body.get("statusmsg")), data if isinstance(data, dict) else {"data": data})
