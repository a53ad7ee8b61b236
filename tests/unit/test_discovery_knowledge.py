"""When mc discovery may end early: the known-nodes rule, the choice of rule, the cache and the line."""

from __future__ import annotations

import json
import os

from pymco.cli.discovery_line import silent_line, summary
from pymco.config import Config
from pymco.discovery.ending import FullWait, KnownNodesEnd, QuietWindow, plan
from pymco.discovery.known import KnownNodes, filter_key, registered_nodes
from pymco.discovery.mc import Outcome
from pymco.matcher.filter import Filter


def config(**settings: str) -> Config:
    cfg = Config(path=None, mode="client")
    for key, value in settings.items():
        cfg.set(key, value)
    return cfg


# ------------------------------------------------------------ the known-nodes rule

def test_waits_the_timeout_while_a_known_node_is_silent():
    ending = KnownNodesEnd({"a", "b"}, grace=0.1)
    ending.start(10.0)
    ending.seen("a", 10.05)
    ending.seen("new", 10.06)
    assert ending.end_at() is None


def test_ends_after_the_last_known_node_plus_a_grace():
    ending = KnownNodesEnd({"a", "b"}, grace=0.1)
    ending.start(10.0)
    ending.seen("a", 10.02)
    ending.seen("b", 10.04)
    assert abs(ending.end_at() - 10.14) < 1e-9  # at least the grace
    slow = KnownNodesEnd({"a"}, grace=0.1)
    slow.start(10.0)
    slow.seen("a", 12.0)
    assert abs(slow.end_at() - 12.5) < 1e-9  # a slow fleet: a quarter of its time again


def test_nothing_known_means_the_full_wait():
    ending = KnownNodesEnd(set())
    ending.start(0.0)
    ending.seen("a", 0.01)
    assert ending.end_at() is None


def test_the_rule_follows_the_options():
    assert plan(config(), 2.0, False, None).rule == "known"
    assert isinstance(plan(config(), 2.0, False, None).ending(), KnownNodesEnd)
    assert plan(config(), 4.0, True, None).rule == "full"                       # --dt 4
    assert plan(config(discovery_timeout="3"), 3.0, False, None).rule == "full"  # discovery_timeout = 3
    assert isinstance(plan(config(), 2.0, False, 0.0).ending(), FullWait)        # --dq 0
    assert isinstance(plan(config(), 2.0, False, 0.4).ending(), QuietWindow)     # --dq 0.4
    assert plan(config(discovery_quiet_window="0.5"), 2.0, True, None).rule == "quiet"
    assert plan(config(discovery_grace="0.3"), 2.0, False, None).grace == 0.3


# ------------------------------------------------------------ the cache

def test_filter_keys_ignore_option_order():
    one, two = Filter(), Filter()
    one.add_fact("role=web")
    one.add_fact("index>1")
    one.add_agent("rpcutil")
    two.add_agent("rpcutil")
    two.add_fact("index>1")
    two.add_fact("role=web")
    assert filter_key(one) == filter_key(two)
    two.add_class("apache")
    assert filter_key(one) != filter_key(two)
    assert filter_key(Filter()) != filter_key(one)


def test_the_cache_remembers_per_filter_and_forgets_the_long_silent(tmp_path):
    web = filter_key(Filter(fact=[], cf_class=["web"]))
    KnownNodes("c1", 100.0, str(tmp_path), now=1000.0).record(web, ["a", "b"])
    KnownNodes("c1", 100.0, str(tmp_path), now=1050.0).record(web, ["a"])
    assert KnownNodes("c1", 100.0, str(tmp_path), now=1060.0).expected(web) == {"a", "b"}
    assert KnownNodes("c1", 100.0, str(tmp_path), now=1120.0).expected(web) == {"a"}  # b silent 120 s
    assert KnownNodes("c1", 100.0, str(tmp_path), now=1060.0).expected(filter_key(Filter())) == set()
    assert KnownNodes("c2", 100.0, str(tmp_path), now=1060.0).expected(web) == set()  # per collective
    assert (os.stat(tmp_path / "discovery-c1.json").st_mode & 0o777) == 0o600


def test_a_broken_or_disabled_cache_knows_nothing(tmp_path):
    key = filter_key(Filter())
    (tmp_path / "discovery-c1.json").write_text("{not json")
    assert KnownNodes("c1", 100.0, str(tmp_path)).expected(key) == set()
    KnownNodes("c1", 100.0, str(tmp_path)).record(key, ["a"])  # replaces the broken file
    assert KnownNodes("c1", 100.0, str(tmp_path)).expected(key) == {"a"}
    off = KnownNodes("c1", 0.0, str(tmp_path))  # discovery_cache_max_age = 0
    assert off.expected(key) == set()
    off.record(key, ["b"])
    assert json.loads((tmp_path / "discovery-c1.json").read_text())["filters"][key].keys() == {"a"}


def test_no_inventory_configured_means_no_registered_nodes(tmp_path):
    assert registered_nodes(config(), "c1", Filter()) == set()
    missing = config(**{"plugin.inventory.database": str(tmp_path / "none.db")})
    assert registered_nodes(missing, "c1", Filter()) == set()


# ------------------------------------------------------------ the line

def test_the_line_says_why_discovery_ended():
    early = Outcome("known", 2.0, elapsed=0.21, found=["a", "b", "c"], expected={"a", "b"}, ended_early=True)
    assert summary(early) == " (ended after 0.21 s: all 2 known nodes answered, 1 new)"
    cold = Outcome("known", 2.0, elapsed=2.0, found=["a"], expected=set())
    assert summary(cold) == " (no known nodes for this filter yet: waited the full time)"
    assert summary(Outcome("full", 4.0, elapsed=4.0, found=["a"], expected={"a"})) == ""
    quiet = Outcome("quiet", 2.0, elapsed=0.3, found=["a"], ended_early=True)
    assert summary(quiet) == " (ended after 0.30 s: replies stopped (--dq))"
    assert silent_line(early) is None


def test_silent_known_nodes_are_named():
    silent = Outcome("known", 2.0, elapsed=2.0, found=["a"], expected={"a", "b", "c"})
    assert silent_line(silent) == "2 known nodes did not answer discovery: b, c"
    many = Outcome("known", 2.0, found=[], expected={f"n{i:02d}" for i in range(12)})
    assert silent_line(many).endswith("n08, n09 and 2 more")


def test_the_inventory_tells_which_registered_nodes_a_filter_selects(tmp_path):
    from pymco.registration.receiver import Inventory

    path = str(tmp_path / "inventory.db")
    inventory = Inventory(path)
    inventory.record("web1", ["rpcutil", "package"], {"role": "web"}, ["apache"], ["c1"])
    inventory.record("db1", ["rpcutil"], {"role": "db"}, [], ["c1"])
    inventory.record("other", ["rpcutil"], {"role": "web"}, [], ["c2"])
    inventory.record("agentlist", ["rpcutil"], None, None, [])  # agentlist registration: no facts, no collectives
    inventory.close()
    cfg = config(**{"plugin.inventory.database": path})
    web = Filter(agent=["rpcutil"])
    web.add_fact("role=web")
    assert registered_nodes(cfg, "c1", web) == {"web1"}
    assert registered_nodes(cfg, "c1", Filter(agent=["rpcutil"])) == {"web1", "db1", "agentlist"}
    assert registered_nodes(cfg, "c1", Filter(agent=["package"])) == {"web1"}
    compound = Filter()
    compound.add_compound("role=web")
    assert registered_nodes(cfg, "c1", compound) == set()  # cannot be judged from registration data


def test_the_line_is_for_terminals_and_verbose_runs_never_json():
    import argparse
    import io

    from pymco.cli.discovery_line import wanted

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def app(stderr, **args):
        return argparse.Namespace(args=argparse.Namespace(**dict({"verbose": False, "quiet": False}, **args)),
                                  stderr=stderr)

    assert wanted(app(Terminal()))
    assert not wanted(app(io.StringIO()))
    assert wanted(app(io.StringIO(), verbose=True))
    assert not wanted(app(Terminal()), json_out=True)
    assert not wanted(app(Terminal(), quiet=True))


class FakeSession:
    """Just enough of a Session for McDiscovery: senders answer in order until the rule may end."""

    identity = "client"

    def __init__(self, replies: list[str]) -> None:
        self.config = config()
        self.replies = replies
        self.late: dict = {}
        self.published: list = []

    def callerid(self) -> str:
        return "psk=client"

    def publish(self, request) -> None:
        self.published.append(request)

    def collect(self, requestid, timeout, on_reply, end_at=None):
        from types import SimpleNamespace

        from pymco.client.session import CollectResult

        result = CollectResult()
        for sender in self.replies:
            if end_at is not None and end_at() is not None:
                break  # the rule ended discovery: later senders are "late"
            on_reply(SimpleNamespace(senderid=sender))
        result.timed_out = end_at is None or end_at() is None
        return result

    def on_late(self, requestid, listener) -> None:
        self.late[requestid] = listener


def test_mc_discovery_expects_what_it_learnt_and_learns_late_nodes(tmp_path, monkeypatch):
    from pymco.discovery.base import DiscoveryRequest
    from pymco.discovery.mc import McDiscovery

    monkeypatch.setenv("PYMCO_CACHE_DIR", str(tmp_path))

    def discover(replies: list[str]):
        session = FakeSession(replies)
        method = McDiscovery(session)  # type: ignore[arg-type]
        found = method.discover(DiscoveryRequest(Filter(), "c1", "rpcutil", 2.0,
                                                 plan=plan(session.config, 2.0, False, None)))
        return found, method.outcome, session

    found, outcome, _ = discover(["a", "b"])
    assert found == ["a", "b"] and outcome.expected == set() and not outcome.ended_early  # cold: full wait
    found, outcome, session = discover(["a", "b", "slow"])
    assert outcome.expected == {"a", "b"} and outcome.ended_early and found == ["a", "b"]
    [listener] = session.late.values()
    listener("slow")  # its reply came while the client went on
    _, outcome, _ = discover(["a", "b", "slow"])
    assert outcome.expected == {"a", "b", "slow"} and outcome.found == ["a", "b", "slow"]
