"""Issue 6: property-based fuzzing of everything that reads input a sender controls.

Random and mutated input goes to the Marshal decoder, the psk request/reply
envelopes, the daemon's whole receive path (Runner.on_message, with a
recording connector stand-in and a synchronous pool), the fact-filter
parser, the compound filter parser and evaluator, the DDL parser and request
validator, the actionpolicy parser and the audit line writer.  The properties:
only pymco.errors exceptions (or none) come out, each example finishes within
the deadline (no hang), and decoding allocates memory in proportion to the
input (no amplification).

PYMCO_FUZZ_EXAMPLES sets the examples per property (default 100, which keeps
the file near a minute on a shared runner); e.g. PYMCO_FUZZ_EXAMPLES=5000
for a long run.  The example database is off so a run never writes into the
tree; hypothesis prints the seed and the shrunk input of any failure.
"""

from __future__ import annotations

import math
import os
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymco.agent import RPCRequest
from pymco.audit.base import AuditRecord
from pymco.audit.logfile import json_line, mcollective_lines
from pymco.authorization.actionpolicy import ActionPolicy, parse_policy
from pymco.config import Config
from pymco.connector.base import Incoming
from pymco.ddl.loader import load_ddl_file
from pymco.ddl.model import AgentDDL
from pymco.ddl.validate import validate_request
from pymco.errors import PymcoError
from pymco.facts.base import lookup
from pymco.matcher.compound import evaluate, parse_compound
from pymco.matcher.fact_term import parse_fact_filter
from pymco.matcher.filter import Filter
from pymco.matcher.node import matches
from pymco.paths import ddl_dirs
from pymco.protocol import marshal
from pymco.protocol.marshal import Symbol
from pymco.protocol.message import Reply, Request, rpc_body
from pymco.security.psk import PskSecurity

EXAMPLES = int(os.environ.get("PYMCO_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=3), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------- strategies

def _keys() -> st.SearchStrategy[Any]:
    return st.one_of(st.text(max_size=12), st.builds(Symbol, st.text(max_size=12)), st.integers(-5, 5))


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=False), st.text(max_size=40), st.binary(max_size=40),
                    st.builds(Symbol, st.text(max_size=12)))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=6), st.dictionaries(_keys(), children, max_size=6)), max_leaves=40)


@st.composite
def mutated(draw: st.DrawFn, payload: bytes) -> bytes:
    """`payload` with a few random edits: flipped, inserted, deleted, duplicated bytes, or truncated.

    Positions are drawn as fractions of the length and every draw is made
    whatever the branch, so the draws do not depend on the payload (signed
    payloads differ from run to run).
    """
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("flip", "insert", "delete", "dup", "truncate", "byte")))
        pos = int(draw(st.floats(0, 1, exclude_max=True)) * len(data))
        bit, size, value = draw(st.integers(0, 7)), draw(st.integers(1, 32)), draw(st.integers(0, 255))
        insert = draw(st.binary(min_size=1, max_size=8))
        if kind == "flip" and data:
            data[pos] ^= 1 << bit
        elif kind == "byte" and data:
            data[pos] = value
        elif kind == "insert":
            data[pos:pos] = insert
        elif kind == "delete" and data:
            del data[pos:pos + size]
        elif kind == "dup" and data:
            data[pos:pos] = data[pos:pos + size]
        elif kind == "truncate":
            del data[pos:]
    return bytes(data)


def walk(value: Any, budget: int) -> int:
    """Count the values reachable (shared ones each time) and fail past `budget`: a bounded structure."""
    seen = 0
    stack = [value]
    while stack:
        item = stack.pop()
        seen += 1
        assert seen <= budget, "decoded structure expands past the decoder's budget"
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return seen


def decode_bounded(payload: bytes) -> Any:
    """marshal.loads with the memory it allocates measured: in proportion to the input or refused."""
    tracemalloc.start()
    try:
        try:
            value = marshal.loads(payload)
        except PymcoError:
            value = None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 400 * len(payload) + 200_000, f"{peak} bytes allocated for a {len(payload)} byte payload"
    if value is not None:
        walk(value, 2 * max(marshal.DEFAULT_MAX_NODES, len(payload)) + 10)
    return value


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


# ---------------------------------------------------------------- Marshal

@FUZZ
@given(values)
def test_marshal_round_trip(value):
    assert _equal(marshal.loads(marshal.dumps(value)), value)


@FUZZ
@given(st.binary(max_size=300))
def test_marshal_random_bytes(data):
    decode_bounded(b"\x04\x08" + data)
    decode_bounded(data)


@FUZZ
@given(st.data())
def test_marshal_mutated_payloads(data):
    payload = marshal.dumps(data.draw(values))
    decode_bounded(data.draw(mutated(payload)))


# ---------------------------------------------------------------- envelopes and the daemon's receive path

def _config(tmp_path: Path | None = None) -> Config:
    config = Config(path=str(tmp_path / "server.cfg") if tmp_path else None)
    for key, value in (("identity", "fuzz1"), ("collectives", "mcollective"), ("plugin.psk", "fuzz-psk"),
                       ("classesfile", "/nonexistent/classes.txt")):
        config.set(key, value)
    return config


PSK = PskSecurity(_config(), client=False)

filter_parts = st.one_of(scalars, st.lists(scalars, max_size=3), st.lists(
    st.dictionaries(st.sampled_from([Symbol("fact"), Symbol("value"), Symbol("operator"), "statement"]), scalars,
                    max_size=3), max_size=3), st.lists(st.lists(st.dictionaries(
                        st.sampled_from(["statement", "fstatement", "and", "("]), scalars, max_size=2),
                        max_size=3), max_size=2))
filters = st.one_of(
    st.just({}), st.dictionaries(st.sampled_from(["fact", "cf_class", "agent", "identity", "compound"]), values,
                                 max_size=5),
    st.dictionaries(st.sampled_from(["fact", "cf_class", "agent", "identity", "compound"]), filter_parts,
                    min_size=1, max_size=5),
    st.builds(lambda f: f.to_wire(), st.just(Filter(identity=["fuzz1"]))), values)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    agent = draw(st.sampled_from(["rpcutil", "package", "discovery", "nosuch", ""]))
    action = draw(st.sampled_from(["ping", "inventory", "get_fact", "daemon_stats", "status", "x"]))
    data = draw(st.dictionaries(st.text(max_size=10), values, max_size=4))
    body = draw(st.one_of(st.just(rpc_body(agent, action, "uid=0", data)), values))
    return Request(agent=agent or "rpcutil", collective=draw(st.sampled_from(["mcollective", "other"])), body=body,
                   filter=draw(filters) if draw(st.booleans()) else {}, callerid="uid=0",
                   ttl=draw(st.integers(-10, 100000)))


@FUZZ
@given(st.data())
def test_psk_request_decoding(data):
    payload = PSK.encode_request(data.draw(requests()))
    for candidate in (payload, data.draw(mutated(payload))):
        try:
            PSK.decode_request(candidate, {})
        except PymcoError:
            pass


@FUZZ
@given(st.data())
def test_psk_reply_decoding(data):
    reply = Reply(senderid=data.draw(st.text(max_size=20)), requestid="r", senderagent="rpcutil",
                  body=data.draw(values))
    payload = PSK.encode_reply(reply, Request(agent="rpcutil", collective="mcollective", body=None))
    for candidate in (payload, data.draw(mutated(payload))):
        try:
            PSK.decode_reply(candidate, {})
        except PymcoError:
            pass


class RecordingConnector:
    """Stands in for the broker connection: the runner only registers a callback and publishes replies."""

    def __init__(self) -> None:
        self.replies: list[bytes] = []
        self.callback: Any = None

    def on_message(self, callback: Any) -> None:
        self.callback = callback

    def publish_reply(self, payload: bytes, headers: dict[str, str], ttl: int) -> None:
        self.replies.append(payload)


class SyncPool:
    """Runs each job at once on the caller's thread, so an escaping exception fails the example."""

    queued = 0

    def submit(self, job: Any) -> bool:
        job._state = "running"
        with job.context:
            job.run(job.context)
        return True


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from pymco.facts.yaml_facts import YamlFacts
    from pymco.data.base import run_data_plugin
    from pymco.server.agents import AgentManager
    from pymco.server.node import NodeContext
    from pymco.server.runner import Runner
    from pymco.server.stats import RunnerStats

    tmp = tmp_path_factory.mktemp("fuzz-runner")
    (tmp / "facts.yaml").write_text("role: web\ncores: 4\nos: {family: Debian}\n")
    config = _config(tmp)
    config.set("plugin.yaml", str(tmp / "facts.yaml"))
    stats = RunnerStats()
    node = NodeContext(config, YamlFacts(config), stats, run_data_plugin)
    agents = AgentManager(node)
    agents.load_all()
    connector = RecordingConnector()
    return Runner(config, connector, PskSecurity(config, client=False), node, agents, SyncPool()), connector


@st.composite
def signed_requests(draw: st.DrawFn) -> bytes:
    """A correctly signed request whose fields and inner body are hostile (only the psk holder can send these)."""
    request = draw(requests())
    body = marshal.dumps(request.body)
    if draw(st.booleans()):
        body = draw(mutated(body))
    envelope = {Symbol(k): v for k, v in {
        "body": body, "senderid": draw(st.one_of(st.just("client"), values)), "requestid": draw(st.text(max_size=33)),
        "filter": request.filter, "collective": draw(st.one_of(st.just("mcollective"), values)),
        "agent": draw(st.one_of(st.just(request.agent), values)), "callerid": draw(st.sampled_from(
            ["uid=0", "uid=0\n", "cert=x y", "", "identity=a.b-c"])),
        "ttl": draw(st.one_of(st.just(60), values)),
        "msgtime": draw(st.one_of(st.builds(lambda: int(time.time())), st.integers(0, 2 ** 40), values)),
    }.items()}
    envelope[Symbol("hash")] = PSK._hash(body)
    return marshal.dumps(envelope)


@st.composite
def mutated_requests(draw: st.DrawFn) -> bytes:
    return draw(mutated(PSK.encode_request(draw(requests()))))


def test_daemon_drops_hostile_filter_shapes(runner):
    run, connector = runner
    for flt in ({"fact": 5}, {"compound": "x"}, {"fact": [{"fact": 1}], "identity": 7}, {"compound": [[5]]}):
        request = Request(agent="rpcutil", collective="mcollective", callerid="uid=0", filter=flt,
                          body=rpc_body("rpcutil", "ping", "uid=0", {}))
        before = run.stats.snapshot()
        sent = len(connector.replies)
        run.on_message(Incoming(PSK.encode_request(request), {"reply-to": "/temp-queue/x"}))
        after = run.stats.snapshot()
        assert after["validated"] == before["validated"] + 1
        assert after["filtered"] == before["filtered"] + 1, flt  # a malformed filter selects nothing
        assert len(connector.replies) == sent


@FUZZ
@given(st.one_of(signed_requests(), st.binary(max_size=200), mutated_requests()))
def test_daemon_receive_path_never_raises(runner, payload):
    run, connector = runner
    before = run.stats.snapshot()
    run.on_message(Incoming(payload, {"reply-to": "/temp-queue/x", "mc_sender": "fuzz"}))
    after = run.stats.snapshot()
    assert after["total"] == before["total"] + 1
    outcomes = ("validated", "unvalidated", "dropped", "replay")
    assert sum(after[k] - before[k] for k in outcomes) == 1  # every message is accounted for exactly once


# ---------------------------------------------------------------- filters

fact_like = st.builds(lambda name, op, value: f"{name}{op}{value}",
                      st.text(alphabet="abc.-_:/ =~<>!", max_size=8),
                      st.sampled_from(["=", "==", "!=", "<", ">", "<=", ">=", "=~", "=>", "=<", "~", ""]),
                      st.text(max_size=10))


@FUZZ
@given(st.one_of(st.text(max_size=60), fact_like))
def test_fact_filter_parser(spec):
    try:
        term = parse_fact_filter(spec)
    except PymcoError:
        return
    assert term.fact and term.operator


class Node:
    identity = "fuzz1"
    _facts = {"role": "web", "cores": 4, "os": {"family": "Debian"}, "list": ["a", 1], "flag": True}

    def agents(self) -> list[str]:
        return ["rpcutil"]

    def classes(self) -> list[str]:
        return ["apache", "role::web"]

    def fact(self, name: str) -> Any:
        return lookup(self._facts, name)

    def data(self, plugin: str, query: str | None) -> dict[str, Any] | None:
        return {"value": query, "enabled": True, "count": 3} if plugin == "fake" else None


NODE = Node()
_TOKENS = ["and", "or", "not", "!", "(", ")", "role=web", "cores>2", "os.family=Debian", "apache", "/role::/",
           "fake('x').value=x", "fake().count>=2", "fake('a').enabled=true", "nosuch().x=1", "a=/b/", "x=/(/",
           "fake('x')", "'", '"', "=", "role=", "(role=web", ")and("]
compound_text = st.one_of(st.text(max_size=80), st.lists(st.sampled_from(_TOKENS), max_size=12).map(" ".join),
                          st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join))


@FUZZ
@given(compound_text)
def test_compound_parser_and_evaluator(expression):
    try:
        callstack = parse_compound(expression)
    except PymcoError:
        return
    assert isinstance(evaluate(callstack, NODE), bool)
    assert isinstance(matches(Filter(compound=[callstack]), NODE), bool)


callstack_entries = st.one_of(
    st.sampled_from([{"and": "and"}, {"or": "or"}, {"not": "not"}, {"(": "("}, {")": ")"}]),
    st.builds(lambda s: {"statement": s}, st.one_of(st.sampled_from(_TOKENS), st.text(max_size=20))),
    st.builds(lambda d: {"fstatement": d}, st.dictionaries(st.sampled_from(
        ["name", "params", "value", "operator", "r_compare"]), values, max_size=5)),
    values)


@FUZZ
@given(st.one_of(st.lists(callstack_entries, max_size=15), values))
def test_compound_evaluator_on_received_callstacks(callstack):
    if isinstance(callstack, list):
        assert isinstance(evaluate(callstack, NODE), bool)
    try:
        flt = Filter.from_wire(callstack if isinstance(callstack, dict) else {"compound": [callstack]})
        assert isinstance(matches(flt, NODE), bool)
    except PymcoError:
        pass


# ---------------------------------------------------------------- DDL

_DDL = {"metadata": {"name": "f", "description": "d", "author": "a", "license": "l", "version": "1", "url": "u",
                     "timeout": 5},
        "actions": [{"action": "go", "description": "d", "display": "always",
                     "input": {"s": {"prompt": "p", "description": "d", "type": "string", "optional": False,
                                     "validation": "shellsafe", "maxlength": 10},
                               "n": {"prompt": "p", "description": "d", "type": "integer", "optional": True},
                               "l": {"prompt": "p", "description": "d", "type": "list", "optional": True,
                                     "list": ["a", "b"]}},
                     "output": {"o": {"description": "d", "display_as": "O"}},
                     "aggregate": [{"function": "summary", "args": ["o"]}]}]}


def _mutate_tree(draw: st.DrawFn, tree: Any, depth: int = 0) -> Any:
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            choice = draw(st.integers(0, 9))
            if choice == 0:
                continue  # drop the key
            out[key] = draw(values) if choice == 1 else _mutate_tree(draw, value, depth + 1)
        return out
    if isinstance(tree, list):
        return [_mutate_tree(draw, v, depth + 1) for v in tree if draw(st.integers(0, 9))]
    return draw(values) if draw(st.integers(0, 5)) == 0 else tree


@FUZZ
@given(st.data())
def test_ddl_parser_on_mutated_ddls(data):
    tree = _mutate_tree(data.draw, _DDL) if data.draw(st.booleans()) else data.draw(values)
    try:
        ddl = AgentDDL.from_dict(tree, "fuzz.yaml")
    except PymcoError:
        return
    for action in ddl.actions:
        try:
            validate_request(ddl, action, data.draw(st.dictionaries(st.text(max_size=5), values, max_size=4)))
        except PymcoError:
            pass


SHIPPED = [load_ddl_file(os.path.join(ddl_dirs(None)[-1], f"{name}.yaml"))
           for name in ("rpcutil", "package", "service", "puppet")]


@FUZZ
@given(st.sampled_from(SHIPPED), st.text(max_size=20), st.dictionaries(
    st.sampled_from(["package", "service", "fact", "version", "tags", "noop", "x", "action", "options"]),
    values, max_size=5))
def test_request_validation_against_shipped_ddls(ddl, action, data):
    for name in [action, *ddl.actions]:
        try:
            validate_request(ddl, name, data)
        except PymcoError:
            pass


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))),
       st.sampled_from([".yaml", ".json"]))
def test_ddl_file_loader(tmp_path_factory, text, ext):
    path = tmp_path_factory.getbasetemp() / f"fuzz{ext}"
    path.write_text(text, encoding="utf-8", errors="replace")
    try:
        load_ddl_file(str(path))
    except PymcoError:
        pass


# ---------------------------------------------------------------- policies and audit lines

policy_lines = st.lists(st.one_of(
    st.text(max_size=40),
    st.builds("\t".join, st.lists(st.one_of(st.sampled_from(["allow", "deny", "*", "uid=0", "/uid=\\d+/", "ops",
                                                             "ping", "role=web", "apache", "(", "and",
                                                             "policy default allow"]),
                                            st.sampled_from(_TOKENS)), min_size=1, max_size=6))),
    max_size=8).map("\n".join)


@FUZZ
@given(policy_lines)
def test_policy_parser_and_decision(text):
    policy = parse_policy(text, "fuzz.policy")
    for rule in policy.rules:
        assert isinstance(rule.condition(NODE), bool)


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz-policy")
    (directory / "policies").mkdir()
    return directory


@FUZZ
@given(policy_lines, st.text(max_size=20), st.text(max_size=20))
def test_policy_decisions_are_booleans(policy_dir, text, caller, action):
    (policy_dir / "policies" / "rpcutil.policy").write_text(text)
    config = Config(path=str(policy_dir / "server.cfg"))
    request = RPCRequest("rpcutil", action, {}, caller, "s", "r", 0, 60, "mcollective")
    allowed, why = ActionPolicy(config).decide(request, NODE)
    assert isinstance(allowed, bool) and why


@FUZZ
@given(st.text(max_size=30), st.text(max_size=30), st.dictionaries(st.text(max_size=10), values, max_size=5),
       st.one_of(st.none(), st.booleans()), st.one_of(st.none(), st.text(max_size=30)))
def test_audit_lines_stay_lines(caller, sender, data, authorized, reason):
    record = AuditRecord(0, "r", 0, caller, sender, "a", "b", "c", data, authorized, reason)
    assert mcollective_lines(record).count("\n") == (2 if authorized is False else 1)
    assert json_line(record).count("\n") == 1


# ---------------------------------------------------------------- the ssl provider's YAML serializer

@settings(FUZZ, deadline=timedelta(seconds=15))  # PyYAML is pure Python, and slower still under tracemalloc
@given(st.data())
def test_ruby_yaml_decoder(data):
    from pymco.security import rubyyaml

    document = rubyyaml.dumps(data.draw(values)).encode("utf-8")
    candidates = [document, data.draw(mutated(document)), data.draw(st.binary(max_size=200)),
                  data.draw(st.sampled_from([b"a: &x [1]\nb: *x\n", b"!ruby/object:Gem::Installer {}\n",
                                             b"[" * 500 + b"]" * 500, b"--- !ruby/hash:Foo {}\n",
                                             b'"\\U99999999"\n', b"\x00--- x\n"]))]
    for candidate in candidates:
        tracemalloc.start()
        try:
            try:
                rubyyaml.loads(candidate)
            except PymcoError:
                pass
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak <= 2000 * len(candidate) + 500_000, f"{peak} bytes for a {len(candidate)} byte document"


# ---------------------------------------------------------------- JSON (external agents' reply files)

json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                     st.text(max_size=20)),
                           lambda c: st.one_of(st.lists(c, max_size=5), st.dictionaries(st.text(max_size=8), c,
                                                                                        max_size=5)),
                           max_leaves=30)


@FUZZ
@given(st.data())
def test_bounded_json(data):
    import json

    from pymco.protocol.bounded import json_loads

    document = json.dumps(data.draw(json_values)).encode()
    for candidate in (document, data.draw(mutated(document)), data.draw(st.binary(max_size=200)),
                      b"[" * data.draw(st.integers(0, 5000))):
        try:
            json_loads(candidate, max_bytes=10_000)
        except PymcoError:
            pass


# ---------------------------------------------------------------- ssl and x509 envelopes

@pytest.fixture(scope="module")
def signers(tmp_path_factory):
    """(client, server) provider pairs: ssl with each serializer, and x509, with throwaway keys."""
    import shutil

    from pymco.security.ssl import SslSecurity
    from tests.support.pki import Pki, rsa_pair, x509_provider

    root = tmp_path_factory.mktemp("fuzz-keys")
    server_private, server_public = rsa_pair(root / "server", "server-public")
    alice_private, alice_public = rsa_pair(root / "alice", "alice")
    (root / "clients").mkdir()
    shutil.copy(alice_public, root / "clients" / "alice.pem")
    pairs = []
    for serializer in ("marshal", "yaml"):
        common = {"ssl_server_public": str(server_public), "ssl_serializer": serializer}
        client = SslSecurity(Config(settings={"identity": "c1"}, pluginconf=dict(
            common, ssl_client_private=str(alice_private), ssl_client_public=str(alice_public))), client=True)
        server = SslSecurity(Config(settings={"identity": "n1"}, pluginconf=dict(
            common, ssl_server_private=str(server_private), ssl_client_cert_dir=str(root / "clients"))),
            client=False)
        pairs.append((client, server))
    ca = Pki(root / "puppet")
    for name in ("node1.example.test", "alice"):
        ca.issue(name)

    pairs.append((x509_provider(ca.ssldir, "alice"), x509_provider(ca.ssldir, "node1.example.test", client=False)))
    return pairs


@settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))  # RSA signing per example: fewer, still mutated
@given(st.data())
def test_signed_envelopes_decoding(signers, data):
    client, server = data.draw(st.sampled_from(signers))
    request = data.draw(requests())
    request.msgtime = int(time.time())
    request.ttl = 60
    request.requestid = data.draw(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32))
    payload = client.encode_request(request)
    for candidate in (data.draw(mutated(payload)), data.draw(mutated(payload))):
        try:
            server.decode_request(candidate, {})
        except PymcoError:
            pass
    reply = Reply(senderid=server.config.identity, requestid=request.requestid, senderagent=request.agent,
                  body=data.draw(values))
    answer = server.encode_reply(reply, request)
    for candidate in (answer, data.draw(mutated(answer))):
        try:
            client.decode_reply(candidate, {})
        except PymcoError:
            pass
