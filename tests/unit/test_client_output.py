"""MCollective's output formats, aggregates and exit codes."""

from __future__ import annotations

import pytest

from pymco.aggregate.base import Aggregator
from pymco.cli.application import halt_code
from pymco.cli.output import Colour, columns, render_results, render_stats, ruby_inspect, text_for_result
from pymco.client.results import RequestStats, RPCResult
from pymco.ddl.model import ActionSpec, AgentDDL

DDL = AgentDDL.from_dict({
    "metadata": {"name": "x", "description": "d", "author": "a", "license": "l", "version": "1", "url": "u",
                 "timeout": 5},
    "actions": [{"action": "get", "description": "d", "display": "always",
                 "output": {"fact": {"description": "f", "display_as": "Fact"},
                            "value": {"description": "v", "display_as": "Value"},
                            "n": {"description": "n", "display_as": "Number"}},
                 "aggregate": [{"function": "summary", "args": ["value"]},
                               {"function": "average", "args": ["n", {"format": "Average: %0.2f"}]},
                               {"function": "boolean_summary", "args": ["fact", {"true": "yes", "false": "no"}]}]}]})


def test_result_block():
    result = RPCResult("x", "get", "node01", 0, "OK", {"fact": "role", "value": "web"})
    text = text_for_result(result, DDL.action("get"), Colour(False))
    assert text == ("node01                                   \n"
                    "    Fact: role\n"
                    "   Value: web\n\n")


def test_failed_result_block_shows_status_and_message():
    result = RPCResult("x", "get", "node02", 1, "nope", {"fact": None})
    text = text_for_result(result, DDL.action("get"), Colour(False))
    assert text.splitlines()[:2] == ["node02                                   Request Aborted", "   nope"]


def test_ruby_inspect():
    assert ruby_inspect({"a": [1, "b", None, True]}) == '{"a"=>[1, "b", nil, true]}'


def test_aggregates():
    agg = Aggregator(DDL.action("get"))
    for value, n, fact in (("web", 1, True), ("web", 2, False), ("db", 3, True)):
        agg.process({"value": value, "n": n, "fact": fact})
    results = dict(agg.results())
    assert results["Value"] == "web = 2\n db = 1"
    assert results["Number"] == "Average: 2.00"
    assert results["Fact"] == "  yes = 2\n   no = 1"


def test_stats_footer_and_missing_nodes():
    stats = RequestStats(discovered=3, discovered_nodes=["a", "b", "c"])
    stats.record("a", True)
    stats.blocktime = 0.01234
    text = render_stats(stats, Colour(False))
    assert "Finished processing 1 / 3 hosts in 12.34 ms" in text
    assert "No response from:" in text and "b" in text and "c" in text


def test_columns():
    # Ruby pads the last row with empty fields (in_groups_of), three 30-wide fields to a row
    assert columns(["n2", "n1"]) == ["   " + " n1".ljust(31) + " n2".ljust(31) + " " * 31]


def test_halt_codes():
    def stats(discovered, ok=0, fail=0, dtime=1.0):
        s = RequestStats(discovered=discovered, discoverytime=dtime)
        for i in range(ok):
            s.record(f"ok{i}", True)
        for i in range(fail):
            s.record(f"f{i}", False)
        return s
    assert halt_code(stats(2, ok=2)) == 0
    assert halt_code(stats(2, ok=1, fail=1)) == 2
    assert halt_code(stats(2)) == 3
    assert halt_code(stats(0, dtime=0.0)) == 4
    assert halt_code(stats(0)) == 1
    assert halt_code(stats(0, ok=1)) == 0


def _results():
    return [RPCResult("x", "get", "good", 0, "OK", {"fact": "a", "value": "b"}),
            RPCResult("x", "get", "bad", 1, "it broke", {"fact": None})]


@pytest.mark.parametrize("policy,shown", [("always", ["good", "bad"]), ("ok", ["good"]), ("failed", ["bad"]),
                                          ("all", ["good", "bad"])])
def test_display_policies(policy, shown):
    text = render_results(_results(), DDL.action("get"), policy, Colour(False))
    assert [name for name in ("good", "bad") if name in text] == shown


def test_display_policy_from_the_ddl_and_flatten():
    spec = AgentDDL.from_dict({
        "metadata": DDL.metadata.as_dict(),
        "actions": [{"action": "get", "description": "d", "display": "flatten",
                     "output": {"value": {"description": "v", "display_as": "Value"}}}]}).action("get")
    assert spec.display == "flatten"
    assert render_results(_results(), spec, None, Colour(False)) == '{"fact"=>"a", "value"=>"b"}\n{"fact"=>nil}\n'
    default = render_results(_results(), ActionSpec("get", "d"), None, Colour(False))  # no display: "failed"
    assert "bad" in default and "good" not in default


def test_nested_values_hang_under_their_label():
    result = RPCResult("x", "get", "n1", 0, "OK", {"value": {"key": "v" * 40, "other": "w" * 40}})
    lines = text_for_result(result, DDL.action("get"), Colour(False)).splitlines()
    assert lines[1] == '   Value: {"key"=>"' + "v" * 40 + '",'
    assert lines[2] == '           "other"=>"' + "w" * 40 + '"}'
