"""Issue 12: pymco's `mco` prints what Ruby MCollective 2.12.5's `mco` prints, on the same nodes.

Two pymcod and two Ruby mcollectived nodes answer both clients; every test
runs one command through Ruby's `mco` and pymco's `mco` and compares stdout
and the exit code.  Only what must differ is masked: timings, the daemons'
own message counters and clocks.  Requests go to a node list (`--nodes`) so
both clients address exactly the same nodes.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.ruby import ruby_fleet, ruby_mco

pytestmark = pytest.mark.interop

OS = {"family": "Debian", "release": {"full": "12.11", "major": "12"}}
_TIMES = [(re.compile(r"\d+\.\d+ ?ms"), "T ms"), (re.compile(r"Start Time: .*"), "Start Time: T"),
          (re.compile(r":pong=>\d+"), ":pong=>T"), (re.compile(r"Timestamp: \d+"), "Timestamp: T")]
_COUNTERS = re.compile(r"^( +(Total Messages|Messages Passed Filters|Messages Filtered|Replies Sent|"
                       r"Total Processor Time|System Time|Process ID): ).*$", re.M)


@pytest.fixture(scope="module")
def fleet(cluster, tmp_path_factory):
    cluster.add_node("py01", facts={"role": "web", "os": OS}, classes=["apache", "base"], base_facts=False)
    cluster.add_node("py02", facts={"role": "web", "os": OS}, classes=["base"], base_facts=False)
    cluster.wait()
    ruby = {"rb01": {"facts": {"role": "web", "os": OS}, "classes": ["apache", "base"]},
            "rb02": {"facts": {"role": "db", "os": OS}, "classes": ["base"]}}
    with ruby_fleet(tmp_path_factory.mktemp("ruby"), cluster.collectives, ruby) as config:
        nodes = config.parent / "nodes.txt"
        nodes.write_text("py01\npy02\nrb01\nrb02\n")
        yield cluster, config, nodes


def both(fleet, *args):
    cluster, config, _ = fleet
    return ruby_mco(*args, config=config), cluster.mco(*args)


def masked(text):
    for pattern, replacement in _TIMES:
        text = pattern.sub(replacement, text)
    return _COUNTERS.sub(r"\1N", text)


def same(fleet, *args):
    ruby, pymco = both(fleet, *args)
    assert (pymco.rc, masked(pymco.out)) == (ruby.rc, masked(ruby.out)), f"ruby:\n{ruby}\n\npymco:\n{pymco}"
    return ruby


def test_rpc_results_summary_and_stats(fleet):
    ruby = same(fleet, "rpc", "rpcutil", "get_fact", "fact=role", "--nodes", str(fleet[2]), "--np", "--sort")
    assert "Summary of Value:\n\n   web = 3\n    db = 1\n\n\nFinished processing 4 / 4 hosts" in ruby.out


def test_structured_values_in_rubys_inspect_form(fleet):
    ruby = same(fleet, "rpc", "rpcutil", "get_fact", "fact=os", "--nodes", str(fleet[2]), "--np", "--sort")
    assert '{"family"=>"Debian", "release"=>{"full"=>"12.11", "major"=>"12"}} = 4' in ruby.out


def test_rpc_verbose(fleet):
    ruby = same(fleet, "rpc", "rpcutil", "ping", "--nodes", str(fleet[2]), "--np", "--sort", "-v")
    assert "---- rpcutil#ping call stats ----" in ruby.out


def test_failed_replies_show_their_message_only(fleet):
    ruby = same(fleet, "rpc", "rpcutil", "get_data", "source=nosuch", "query=x", "-I", "py01", "-I", "rb01",
                "--np", "--sort")
    assert ruby.rc == 2 and "Request Aborted" in ruby.out


def test_nodes_that_did_not_answer(fleet, tmp_path):
    nodes = tmp_path / "nodes.txt"
    nodes.write_text("py01\nrb01\nghost01\n")
    ruby = same(fleet, "rpc", "rpcutil", "ping", "--nodes", str(nodes), "--np", "--sort", "-t", "2")
    assert "No response from:\n\n    ghost01" in ruby.out


def test_json_is_the_same_document(fleet):
    ruby, pymco = both(fleet, "rpc", "rpcutil", "get_fact", "fact=os", "--nodes", str(fleet[2]), "--json")
    assert pymco.rc == ruby.rc == 0

    def replies(out):
        return sorted((r["sender"], r["statuscode"], r["statusmsg"], r["data"]) for r in json.loads(out))

    assert replies(pymco.out) == replies(ruby.out)


def test_no_match_prints_an_empty_json_array(fleet):
    ruby, pymco = both(fleet, "rpc", "rpcutil", "ping", "-F", "role=nomatch", "--json")
    assert (pymco.rc, pymco.out) == (ruby.rc, ruby.out) == (1, "[]\n")
    ruby = same(fleet, "rpc", "rpcutil", "ping", "-F", "role=nomatch", "--np")
    assert ruby.out == "\n\n"


@pytest.mark.parametrize("args", [("facts", "role"), ("facts", "os", "-v"), ("facts", "nosuchfact"),
                                  ("facts", "role", "-F", "role=nomatch")])
def test_facts_report(fleet, args):
    same(fleet, *args)


@pytest.mark.parametrize("node", ["py01", "rb01"])
def test_node_inventory(fleet, node):
    ruby = same(fleet, "inventory", node)
    assert '      os => {"family"=>"Debian", "release"=>{"full"=>"12.11", "major"=>"12"}}\n' in ruby.out


def test_ping_and_find_list_the_same_nodes(fleet):
    ruby, pymco = both(fleet, "ping")
    assert pymco.rc == ruby.rc == 0
    line = re.compile(r"^(\S+) +time=\d+\.\d\d ms$", re.M)
    assert sorted(line.findall(pymco.out)) == sorted(line.findall(ruby.out)) == ["py01", "py02", "rb01", "rb02"]
    assert re.search(r"\n\n\n---- ping statistics ----\n4 replies max: [\d.]+ min: [\d.]+ avg: [\d.]+ \n$",
                     pymco.out), pymco
    ruby, pymco = both(fleet, "find", "-F", "role=web")
    assert pymco.rc == ruby.rc == 0
    assert sorted(pymco.out.split()) == sorted(ruby.out.split()) == ["py01", "py02", "rb01"]


def test_unknown_collective(fleet):
    ruby, pymco = both(fleet, "ping", "-T", "nosuch")
    message = "Unknown collective 'nosuch' known collectives are"
    assert pymco.rc == ruby.rc == 1
    assert message in ruby.err and message in pymco.err and pymco.out == ""


def test_plugin_doc_describes_every_kind_as_ruby(fleet):
    ruby, pymco = both(fleet, "plugin", "doc")
    assert pymco.rc == ruby.rc == 0

    def sections(out):
        found, title = {}, None
        for line in out.splitlines():
            if line.endswith(":") and not line.startswith(" "):
                title = line
            elif line.startswith("  ") and title:
                found.setdefault(title, {})[line.split()[0]] = line
        return found

    ours, theirs = sections(pymco.out), sections(ruby.out)
    for title in ("Aggregate:", "Connectors:", "Discovery Methods:", "Validator Plugins:"):
        assert all(len(line.split()) > 1 for line in ours[title].values()), ours[title]  # every one described
        for name, line in theirs[title].items():
            assert ours[title][name] == line


def test_summaries_in_rubys_order(fleet):
    ruby, pymco = both(fleet, "rpc", "rpcutil", "daemon_stats", "-I", "py01", "--np")
    assert pymco.rc == ruby.rc == 0

    def summaries(out):
        return out[out.index("Summary of"):out.index("Finished processing")]

    assert summaries(pymco.out) == summaries(ruby.out)
    times = re.compile(r"^ +Times: \{:utime=>.*$", re.M)  # the node's Symbol keys, as Ruby prints them
    assert times.search(pymco.out) and times.search(ruby.out)
    assert summaries(ruby.out).index("Summary of Agents") < summaries(ruby.out).index("Summary of Version")
