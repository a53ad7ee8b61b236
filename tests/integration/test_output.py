"""Issue 12: output for scripts: `--json` wherever a user pipes, and `mco inventory --template` reports.

Every JSON document is an array of per-node objects with a `sender` (`[]`
when nothing matched: jq and json.load need a document), so it also feeds
`mco rpc` as a node list on standard input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet(cluster, tmp_path_factory):
    puppet = tmp_path_factory.mktemp("puppet")
    (puppet / "puppet.conf").write_text(f"[main]\nvardir = {puppet}/var\npublicdir = {puppet}/public\n"
                                        f"rundir = {puppet}/run\n")
    settings = {"plugin.puppet.config": str(puppet / "puppet.conf")}
    cluster.add_node("j01", facts={"role": "web", "os": {"family": "Debian"}}, classes=["base"], **settings)
    cluster.add_node("j02", facts={"role": "db", "n": 7}, **settings)
    cluster.wait()
    return cluster


def document(result, rc=0):
    assert result.rc == rc, result
    return json.loads(result.out)


@pytest.mark.parametrize("command", [
    ("rpc", "rpcutil", "ping"), ("find",), ("ping",), ("facts", "role"), ("inventory", "--list-collectives"),
    ("puppet", "count"), ("puppet", "summary"), ("puppet", "status"), ("package", "status", "bash"),
    ("service", "status", "cron")])
def test_no_match_is_an_empty_array(fleet, command):
    result = fleet.mco(*command, "-F", "role=nomatch", "--json")
    assert result.out == "[]\n", result
    assert result.rc != 0
    assert "Traceback" not in result.err


def test_inventory_of_a_node_that_does_not_answer(fleet):
    assert document(fleet.mco("inventory", "ghost", "-t", "1", "--json"), rc=1) == []


def test_find_ping_and_facts(fleet):
    assert sorted(r["sender"] for r in document(fleet.mco("find", "--json"))) == ["j01", "j02"]
    pings = document(fleet.mco("ping", "--json"))
    assert sorted(p["sender"] for p in pings) == ["j01", "j02"]
    assert all(isinstance(p["time"], float) and p["time"] > 0 for p in pings)
    assert document(fleet.mco("facts", "role", "--json")) == [{"sender": "j01", "fact": "role", "value": "web"},
                                                              {"sender": "j02", "fact": "role", "value": "db"}]
    [family, _] = document(fleet.mco("facts", "os", "--json"))
    assert family["value"]["family"] == "Debian"  # structured values stay structured


def test_inventory(fleet):
    [node] = document(fleet.mco("inventory", "j01", "--json"))
    assert node["sender"] == "j01" and node["inventory"]["classes"] == ["base"]
    assert node["inventory"]["facts"]["role"] == "web" and node["daemon_stats"]["pid"] > 0
    [collective] = document(fleet.mco("inventory", "--list-collectives", "--json"))
    assert collective == {"collective": fleet.collective, "nodes": ["j01", "j02"]}


def test_puppet_count_summary_and_status(fleet, tmp_path):
    nodes = tmp_path / "nodes.txt"
    nodes.write_text("j01\nj02\n")
    counted = document(fleet.mco("puppet", "count", "--json", "--nodes", str(nodes)))
    assert [r["sender"] for r in counted] == ["j01", "j02"]
    assert all(r["statuscode"] == 0 and "enabled" in r["data"] for r in counted)
    summary = document(fleet.mco("puppet", "summary", "--json", "--nodes", str(nodes)))
    assert [r["sender"] for r in summary] == ["j01", "j02"] and "total_resources" in summary[0]["data"]
    status = document(fleet.mco("package", "status", "bash", "-I", "j02", "--json"))
    assert status[0]["data"]["name"] == "bash" and status[0]["data"]["provider"] == "apt"


def test_find_output_is_a_node_list_for_the_next_command(fleet):
    nodes = fleet.mco("find", "-F", "role=web", "--json").out
    result = fleet.mco("rpc", "rpcutil", "ping", "--json", input=nodes)
    assert [r["sender"] for r in document(result)] == ["j01"]


def doc_templates() -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "docs" / "inventory.md").read_text()
    return re.findall(r"```jinja\n(.*?)```", text, re.S)


def test_inventory_template_reports(fleet, tmp_path):
    one_line, paged, csv = doc_templates()
    template = tmp_path / "csv.j2"
    template.write_text(csv)
    result = fleet.mco("inventory", "--template", str(template))
    assert result.rc == 0, result
    assert result.out.splitlines() == ["identity,role,os,release,classes", "j01,web,Debian,12.11,base",
                                       "j02,db,Debian,12.11,"]
    template.write_text(one_line)
    result = fleet.mco("inventory", "--template", str(template), "-F", "role=web")
    assert result.out == "j01:\t\t\t\t\n", result
    template.write_text('{{ identity }} {{ facts.os.family }} {{ facts.os }} {{ "%5d"|format(facts.n) }}'
                        ' [{{ facts.no.such.fact }}] {{ facts.no|inspect }}\n')
    result = fleet.mco("inventory", "--template", str(template), "-I", "j02")
    assert re.fullmatch(r'j02 Debian \{"architecture"=>"amd64", .*"family"=>"Debian", .*\}     7 \[\] nil\n',
                        result.out), result


def test_inventory_templates_run_no_code(fleet, tmp_path):
    template = tmp_path / "evil.j2"
    template.write_text("{{ identity.__class__.__mro__[1].__subclasses__() }}\n")
    result = fleet.mco("inventory", "--template", str(template), "-I", "j01")
    assert result.out.strip() == "" and "object" not in result.out
    template.write_text("{% for x in %}\n")
    result = fleet.mco("inventory", "--template", str(template))
    assert result.rc == 1 and f"{template}:1:" in result.err and "Traceback" not in result.err
    result = fleet.mco("inventory", "--script", str(template))
    assert result.rc == 1 and "--template" in result.err
