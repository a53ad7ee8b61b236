"""Issue 3: choosing nodes — facts, classes, identities, agents, -W, -S, discovery methods,
sub-collectives, batching and limits — through the real mco against real pymcod nodes
whose facts are real `facter --yaml` output plus per-node overrides."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
import yaml

from tests.support.cluster import unique_name

pytestmark = pytest.mark.integration

#: the shared RabbitMQ and a private 3-server NATS cluster (sub-collectives, batches, discovery)
TRANSPORTS = ("rabbitmq", "nats-cluster")

MAIN, SUB = unique_name("main"), unique_name("sub")


@pytest.fixture(scope="module")
def fleet(cluster_factory):
    cluster = cluster_factory([MAIN, SUB], name="targeting")
    main = [MAIN]
    cluster.add_node("t01", facts={"role": "web", "index": 1, "tags": ["edge", "blue"], "osfamily": "Debian",
                                   "app": {"tier": 1, "name": "shop"}, "maintenance": False},
                     classes=["base", "role::web", "apache"], collectives=main)
    cluster.add_node("t02", facts={"role": "web", "index": 2, "app": {"tier": 1, "name": "blog"},
                                   "maintenance": True},
                     classes=["base", "role::web", "nginx"], collectives=main)
    cluster.add_node("t03", facts={"role": "db", "index": 10, "app": {"tier": 2, "name": "pg"}},
                     classes=["base", "role::db"], collectives=main)
    cluster.add_node("t04", facts={"role": "db", "index": 9}, classes=["base", "role::db"],
                     collectives=[MAIN, SUB])
    cluster.add_node("t05", facts={"role": "cache", "index": 3}, classes=["base"], collectives=[SUB])
    cluster.wait()
    return cluster


def found(result) -> list[str]:
    assert result.rc in (0, 1), result
    return sorted(line for line in result.out.split() if line)


def senders(result) -> list[str]:
    assert result.rc == 0, result
    return sorted(r["sender"] for r in json.loads(result.out))


def find(fleet, *args: str) -> list[str]:
    return found(fleet.mco("find", *args))


MAIN_NODES = ["t01", "t02", "t03", "t04"]


@pytest.mark.parametrize("spec,expected", [
    ("role=web", ["t01", "t02"]),
    ("role==db", ["t03", "t04"]),
    ("role!=web", ["t03", "t04"]),
    ("index>=9", ["t03", "t04"]),          # numeric: "10" >= "9"
    ("index=>9", ["t03", "t04"]),
    ("index<2", ["t01"]),
    ("index<=2", ["t01", "t02"]),
    ("index>9", ["t03"]),
    ("role=~^w", ["t01", "t02"]),
    ("role=/^d/", ["t03", "t04"]),
    ("os.family=Debian", MAIN_NODES),       # structured fact from Facter
    ("osfamily=Debian", ["t01"]),           # a legacy flat name, where the file has it
    ("app.tier=1", ["t01", "t02"]),         # dotted names reach into overrides too
    ("app.name=/^(shop|pg)$/", ["t01", "t03"]),
    ("tags=edge", ["t01"]),                 # a list matches when any element does
    ("maintenance=true", ["t02"]),
    ("maintenance=false", ["t01"]),
    ("processors.count>=1", MAIN_NODES),
    ("nosuchfact=1", []),
])
def test_fact_filters(fleet, spec, expected):
    assert find(fleet, "-F", spec) == expected


def test_structured_fact_values_from_facter(fleet):
    facts = yaml.safe_load((fleet.directory.parent / "facter.yaml").read_text())
    major = str(facts["os"]["release"]["major"])
    assert find(fleet, "--wf", f"os.release.major={major}") == MAIN_NODES
    assert find(fleet, "-F", f"os.release.major!={major}") == []
    lo = facts.get("networking", {}).get("interfaces", {}).get("lo", {}).get("ip")
    if lo:
        assert find(fleet, "-F", f"networking.interfaces.lo.ip={lo}") == MAIN_NODES


@pytest.mark.parametrize("args,expected", [
    (["-C", "apache"], ["t01"]),
    (["--wc", "/^role::/"], MAIN_NODES),
    (["-C", "role::db", "-C", "base"], ["t03", "t04"]),     # classes are ANDed
    (["-C", "/nginx|apache/"], ["t01", "t02"]),
    (["-I", "t02"], ["t02"]),
    (["-I", "t01", "-I", "t03"], ["t01", "t03"]),           # identities are ORed
    (["--wi", "/^t0[34]$/"], ["t03", "t04"]),
    (["-A", "rpcutil"], MAIN_NODES),
    (["--wa", "/^pack/"], MAIN_NODES),
    (["-A", "nosuchagent"], []),
    (["-W", "role=web apache"], ["t01"]),
    (["-W", "base index>=9"], ["t03", "t04"]),
    (["-F", "role=web", "-C", "nginx"], ["t02"]),
])
def test_class_identity_agent_and_with_filters(fleet, args, expected):
    assert find(fleet, *args) == expected


@pytest.mark.parametrize("expression,expected", [
    ("role=web and apache", ["t01"]),
    ("role=web or role=db", MAIN_NODES),
    ("not role=web", ["t03", "t04"]),
    ("!role=web and index < 10", ["t04"]),
    ("(role=web and nginx) or index >= 10", ["t02", "t03"]),
    ("role::db and not (index=9)", ["t03"]),
    ("/^role::w/ or app.tier = 2", ["t01", "t02", "t03"]),
    ("fstat('/etc/hosts').size > 0", MAIN_NODES),
    ("fstat('/etc/hosts').type = file and role=db", ["t03", "t04"]),
    ("fstat('/nonexistent/file').present = 1", []),
    ("fact('os.family') = 'Debian' and role=web", ["t01", "t02"]),
    ("fact('app.name').value = /^sh/", ["t01"]),
    ("agent('package').version = /^\\d/ and index=1", ["t01"]),
    ("collective('{main}').member = true and index<3", ["t01", "t02"]),
])
def test_compound_select(fleet, expression, expected):
    assert find(fleet, "-S", expression.replace("{main}", MAIN)) == expected


def test_several_selects_are_anded(fleet):
    assert find(fleet, "-S", "role=web", "-S", "nginx or index=10") == ["t02"]


@pytest.mark.parametrize("args,message", [
    (["-F", "os.family~~x"], "Could not parse fact"),
    (["-S", "(role=web and apache"], "Missing parenthesis"),
    (["-S", "role=web and"], "Parse error"),
    (["-S", "role=web apache"], "Parse error"),
    (["-S", "nosuch('x').y = 1"], "not known"),
    (["-S", "fstat('/etc/hosts').nosuch = 1"], "does not return a 'nosuch' value"),
    (["-C", "/[/"], "invalid regular expression"),
])
def test_bad_filters_are_refused_before_sending(fleet, args, message):
    def total() -> int:
        [reply] = json.loads(fleet.mco("rpc", "rpcutil", "daemon_stats", "-I", "t01", "--json").out)
        return reply["data"]["total"]

    before = total()
    result = fleet.mco("rpc", "rpcutil", "ping", *args)
    assert result.rc == 1, result
    assert message in result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) <= 2 and "Traceback" not in result.err, result   # one line (+ the --help hint)
    assert total() == before + 1   # only the second daemon_stats reached the node


def test_rpcutil_get_data_serves_the_data_plugins(fleet):
    result = fleet.mco("rpc", "rpcutil", "get_data", "source=fstat", "query=/etc/hosts", "-I", "t01", "--json")
    [reply] = json.loads(result.out)
    assert reply["statuscode"] == 0, result
    assert reply["data"]["type"] == "file" and reply["data"]["size"] > 0
    result = fleet.mco("rpc", "rpcutil", "get_data", "source=fact", "query=app.name", "-I", "t03", "--json")
    [reply] = json.loads(result.out)
    assert reply["data"]["value"] == "pg" and reply["data"]["exists"] is True


# ------------------------------------------------------------ discovery methods

def test_flatfile_discovery(fleet, tmp_path):
    nodes = tmp_path / "nodes.txt"
    nodes.write_text("# web nodes\nt01\n\nt02\nghost\n")
    result = fleet.mco("rpc", "rpcutil", "ping", "--nodes", str(nodes), "-t", "3")
    assert result.rc == 0, result
    assert "Finished processing 2 / 3 hosts" in result.out
    assert "ghost" in result.out.split("No response from:")[1]
    assert senders(fleet.mco("rpc", "rpcutil", "ping", "--dm", "flatfile", "--do", str(nodes),
                             "-I", "/^t/", "--json")) == ["t01", "t02"]
    refused = fleet.mco("rpc", "rpcutil", "ping", "--nodes", str(nodes), "-F", "role=web")
    assert refused.rc == 1 and "Cannot use fact filters while using the 'flatfile' discovery method" in refused.err


def test_stdin_discovery_text_and_json(fleet):
    assert senders(fleet.mco("rpc", "rpcutil", "ping", "--json", input="t03\nt04\n")) == ["t03", "t04"]
    assert senders(fleet.mco("rpc", "rpcutil", "ping", "--dm", "stdin", "--do", "text", "--json",
                             input="t01\n")) == ["t01"]
    # one command's JSON chooses the next command's nodes
    piped = fleet.mco("rpc", "rpcutil", "get_fact", "fact=role", "-F", "role=web", "--json").out
    assert senders(fleet.mco("rpc", "rpcutil", "ping", "--json", input=piped)) == ["t01", "t02"]
    assert found(fleet.mco("find", input="t02\nt03\n")) == ["t02", "t03"]
    bad = fleet.mco("rpc", "rpcutil", "ping", input="not an identity!\n")
    assert bad.rc == 1 and "Identities can only match" in bad.err and "Traceback" not in bad.err
    blank = fleet.mco("rpc", "rpcutil", "ping", "--dm", "stdin", input="  \n")
    assert blank.rc == 1 and "only whitespace" in blank.err


def test_mc_discovery_default_quiet_window_and_full_wait(fleet):
    default = fleet.mco("find", "-F", "role=db", "-v")
    quiet = fleet.mco("find", "-F", "role=db", "--dq", "0.5", "-v")
    full = fleet.mco("find", "-F", "role=db", "--dq", "0", "--dt", "2", "-v")
    assert found(default) == found(quiet) == found(full) == ["t03", "t04"]
    assert "using the mc discovery plugin" in default.err
    assert "Discovering hosts using the mc method for 2 second(s) .... 2" in full.err


# ------------------------------------------------------------ sub-collectives

def test_sub_collectives(fleet):
    assert find(fleet) == MAIN_NODES
    assert find(fleet, "-T", SUB) == ["t04", "t05"]
    result = fleet.mco("rpc", "rpcutil", "collective_info", "-T", SUB, "-I", "t04", "--json")
    [reply] = json.loads(result.out)
    assert sorted(reply["data"]["collectives"]) == sorted([MAIN, SUB])
    assert reply["data"]["main_collective"] == MAIN
    unknown = fleet.mco("find", "-T", "nosuchcollective")
    assert unknown.rc == 1 and "Unknown collective" in unknown.err


def test_inventory_list_collectives(fleet, tmp_path):
    result = fleet.mco("inventory", "--list-collectives")
    assert result.rc == 0, result
    rows = dict(re.findall(r"^\s+(\S+)\s+(\d+)$", result.out, re.M))
    assert rows[MAIN] == "4" and rows[SUB] == "1"   # main-collective broadcast: t04 counts in both
    assert re.search(r"Total nodes:\s+4", result.out)
    graph = tmp_path / "collectives.dot"
    result = fleet.mco("inventory", "--collective-graph", str(graph))
    assert result.rc == 0, result
    assert f'"t04" -- "{SUB}"' in graph.read_text()


# ------------------------------------------------------------ batching and limits

_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*message (\S+) for agent rpcutil .*passed filters")


def passed_at(text: str) -> dict[str, datetime]:
    return {m.group(2): datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f") for m in _STAMP.finditer(text)}


def test_batches(fleet):
    marks = {n: len(fleet.nodes[n].log()) for n in MAIN_NODES}
    result = fleet.mco("rpc", "rpcutil", "ping", "-F", "index<20", "--batch", "2", "--batch-sleep", "2", "-v")
    assert result.rc == 0, result
    assert "Nodes: 4 / 4" in result.out
    seen = {n: passed_at(fleet.nodes[n].log()[marks[n]:]) for n in MAIN_NODES}
    # one request id shared by every batch, as MCollective
    common = set.intersection(*(set(ids) for ids in seen.values()))
    assert len(common) == 1, seen
    requestid = common.pop()
    times = sorted(seen[n][requestid] for n in MAIN_NODES)
    # two batches of two nodes, the second after the sleep
    assert (times[2] - times[1]).total_seconds() >= 1.5
    assert (times[1] - times[0]).total_seconds() < 1.5
    percent = fleet.mco("rpc", "rpcutil", "ping", "--batch", "50%", "--batch-sleep", "0", "--json")
    assert senders(percent) == MAIN_NODES
    bad = fleet.mco("rpc", "rpcutil", "ping", "--batch", "0")
    assert bad.rc == 1 and "batch" in bad.err


def test_limits(fleet):
    two = senders(fleet.mco("rpc", "rpcutil", "ping", "--limit-nodes", "2", "--json"))
    assert len(two) == 2 and set(two) <= set(MAIN_NODES)
    assert len(senders(fleet.mco("rpc", "rpcutil", "ping", "--limit", "50%", "--json"))) == 2
    assert len(senders(fleet.mco("rpc", "rpcutil", "ping", "--one", "--json"))) == 1
    seeded = [senders(fleet.mco("rpc", "rpcutil", "ping", "--ln", "2", "--limit-seed", "7", "--json"))
              for _ in range(2)]
    assert seeded[0] == seeded[1] and len(seeded[0]) == 2
    bad = fleet.mco("rpc", "rpcutil", "ping", "--limit-nodes", "lots")
    assert bad.rc == 1 and "Invalid limit" in bad.err


def test_display_sort_ttl_and_progress_options(fleet):
    failed = fleet.mco("rpc", "rpcutil", "get_config_item", "item=nosuchitem", "-F", "role=web", "--display", "ok")
    assert "Unknown config property" not in failed.out
    shown = fleet.mco("rpc", "rpcutil", "get_config_item", "item=nosuchitem", "-F", "role=web", "--display", "failed")
    assert shown.out.count("Unknown config property") == 2
    everything = fleet.mco("rpc", "rpcutil", "ping", "--display", "all", "--sort", "--np", "--ttl", "30")
    assert everything.rc == 0, everything
    order = [m for m in re.findall(r"^(t0\d)\s", everything.out, re.M)]
    assert order == sorted(order) == MAIN_NODES


# ------------------------------------------------------------ applications

def test_find_exit_codes(fleet):
    result = fleet.mco("find", "-F", "role=web")
    assert result.rc == 0 and found(result) == ["t01", "t02"]
    none = fleet.mco("find", "-F", "role=nothing")
    assert none.rc == 1 and none.out.strip() == ""


def test_facts_report(fleet):
    result = fleet.mco("facts", "role")
    assert result.rc == 0, result
    assert "Report for fact: role" in result.out
    assert re.search(r"db\s+found 2 times", result.out) and re.search(r"web\s+found 2 times", result.out)
    verbose = fleet.mco("facts", "app.tier", "-v")
    assert re.search(r"1\s+found 2 times\s+t01\s+t02", verbose.out), verbose
    assert re.search(r"2\s+found 1 times\s+t03", verbose.out), verbose
    family = fleet.mco("facts", "os.family", "-T", SUB)
    assert re.search(r"Debian\s+found 2 times", family.out), family
    missing = fleet.mco("facts", "nosuchfact")
    assert "No values found for fact nosuchfact" in missing.out
    usage = fleet.mco("facts")
    assert usage.rc == 1 and "Please specify a fact" in usage.err


def test_node_inventory(fleet):
    result = fleet.mco("inventory", "t01")
    assert result.rc == 0, result
    out = result.out
    assert "Inventory for t01:" in out
    for heading in ("Server Statistics:", "Agents:", "Data Plugins:", "Configuration Management Classes:",
                    "Facts:"):
        assert heading in out
    assert re.search(r"Collectives: " + MAIN, out) and re.search(r"Main Collective: " + MAIN, out)
    assert re.search(r"Total Messages: \d+", out)
    assert "rpcutil" in out and "package" in out and "fstat" in out
    assert "apache" in out and "role::web" in out
    # structured facts whole, in Ruby's inspect form, as Ruby's `mco inventory` prints them
    assert re.search(r'^      app => \{.*"name"=>"shop"', out, re.M) and "app.name" not in out
    assert re.search(r'^      os => \{.*"family"=>"Debian"', out, re.M)
    ghost = fleet.mco("inventory", "ghost", "-t", "2")
    assert ghost.rc == 1 and "Did not receive any results from node ghost" in ghost.err
