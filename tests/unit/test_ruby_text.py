"""Issue 12: values, summaries, stats and reports rendered as Ruby MCollective 2.12.5 renders them.

The expected strings were produced by Ruby 3.1 and MCollective 2.12.5's own
code (Stats#report, CollectionResult#to_s, the inventory application).
"""

from __future__ import annotations

import pytest

from pymco.aggregate.base import Aggregator
from pymco.cli.apps.facts import fact_report
from pymco.cli.apps.inventory import Inventory, grid
from pymco.cli.inventory_template import InventoryTemplate
from pymco.cli.output import Colour, render_results, render_stats, text_for_result
from pymco.client.results import RequestStats, RPCResult
from pymco.ddl.model import AgentDDL
from pymco.errors import ClientError
from pymco.rubytext import inspect, to_s

DDL = AgentDDL.from_dict({
    "metadata": {"name": "x", "description": "d", "author": "a", "license": "l", "version": "1", "url": "u",
                 "timeout": 5},
    "actions": [{"action": "get", "description": "d", "display": "always",
                 "output": {"value": {"description": "v", "display_as": "Value"}},
                 "aggregate": [{"function": "summary", "args": ["value"]}]}]})


def test_inspect_and_to_s():
    nested = {"family": "Debian", "release": {"full": "12.11"}}
    assert inspect(nested) == '{"family"=>"Debian", "release"=>{"full"=>"12.11"}}'
    assert inspect([1, "a", True, None, 2.5, 1e20]) == '[1, "a", true, nil, 2.5, 1.0e+20]'
    assert inspect({"pong": 1}, symbol_keys=True) == "{:pong=>1}"
    assert [to_s(v) for v in ("web", None, False, 3, [1, "a"])] == ["web", "", "false", "3", '[1, "a"]']
    assert to_s("\x1b[31mred") == "red"


def summary(values):
    aggregator = Aggregator(DDL.action("get"))
    for value in values:
        aggregator.process({"value": value})
    [(label, text)] = aggregator.results()
    return text


def test_summary_of_structured_values_never_shows_a_python_repr():
    os = {"full": "12.11", "major": "12"}
    # Ruby: the width is the Hash's `length` (its size), so no padding; key order does not split a value
    assert summary([os, {"major": "12", "full": "12.11"}]) == '{"full"=>"12.11", "major"=>"12"} = 2'


def test_summary_order_and_types_as_ruby():
    # sort by count, reversed: ties come latest-seen first; 1, "1" and true are different values
    assert summary(["a", "b", "c", "c"]) == "c = 2\nb = 1\na = 1"
    assert summary([1, "1", True]) == "true = 1\n   1 = 1\n   1 = 1"


def stats(discovered, responded, blocktime=0.01234):
    result = RequestStats(discovered=len(discovered), discovered_nodes=list(discovered))
    for name in responded:
        result.record(name, True)
    result.blocktime = blocktime
    return result


def test_stats_report_blank_lines_as_ruby():
    done = stats(["a", "b"], ["a", "b"])
    assert render_stats(done, Colour(False)) == "\nFinished processing 2 / 2 hosts in 12.34 ms\n\n"
    assert render_stats(done, Colour(False), [("Value", "web = 2")]) == (
        "Summary of Value:\n\n   web = 2\n\n\nFinished processing 2 / 2 hosts in 12.34 ms\n\n")
    missing = render_stats(stats(["a", "ghost"], ["a"]), Colour(False))
    assert missing == ("\nFinished processing 1 / 2 hosts in 12.34 ms\n\n\nNo response from:\n\n"
                       + "    ghost".ljust(96) + "\n\n")  # three 30-wide fields, padded with empty ones


def test_failed_reply_shows_its_message_only():
    failed = RPCResult("x", "get", "n1", 5, "it broke", {"value": {"secret": "data"}})
    assert text_for_result(failed, DDL.action("get"), Colour(False)) == (
        "n1" + " " * 39 + "Unknown Request Status\n   it broke\n\n")


def test_verbose_results_as_rubys_old_rpcresults():
    results = [RPCResult("x", "get", "n1", 0, "OK", {"pong": 5}), RPCResult("x", "get", "n2", 2, "no action", {})]
    assert render_results(results, DDL.action("get"), None, Colour(False), verbose=True) == (
        f"{'n1':<40}: OK\n    {{:pong=>5}}\n\n{'n2':<40}: no action\n")


def test_facts_report_width_is_at_least_40():
    lines = fact_report("os", {'{"family"=>"Debian"}': ["n2", "n1"], "x": ["n3"]}, verbose=False)
    assert lines[2:] == ["        " + "x".ljust(40) + " found 1 times",
                         "        " + '{"family"=>"Debian"}'.ljust(40) + " found 2 times"]


def test_inventory_report_as_ruby():
    lines = Inventory.report("n1", {"version": "2.12.5", "starttime": 0, "times": {"utime": 0.5, "stime": 0.1}},
                             {"agents": ["rpcutil", "discovery"], "data_plugins": ["fstat_data"],
                              "classes": ["base"], "facts": {"os": {"family": "Debian"}, "list": [1, "a"],
                                                             "role": "web"}})
    assert lines[lines.index("   Agents:") + 1] == "      discovery       rpcutil                        "
    assert lines[lines.index("   Data Plugins:") + 1].startswith("      fstat    ")
    assert lines[-3:] == ['      list => [1, "a"]', '      os => {"family"=>"Debian"}', "      role => web"]
    assert grid(["c", "a", "b", "d"])[1] == "      d".ljust(53)  # "      %-15s %-15s %-15s" % ["d", "", ""]


def test_inventory_template(tmp_path):
    path = tmp_path / "t.j2"
    path.write_text('{% if index == 0 %}head\n{% endif %}{{ "%-4s|%3d|%s"|format(identity, facts.n, facts.os) }}'
                    ' [{{ facts.no.such }}] {{ classes|join(",") }} {{ facts.no|inspect }}\n')
    template = InventoryTemplate(str(path))
    data = {"facts": {"n": "7", "os": {"family": "Debian"}}, "classes": ["a", "b"]}
    assert template.render("n1", data, 0, 2) == 'head\nn1  |  7|{"family"=>"Debian"} [] a,b nil\n'
    assert template.render("n2", data, 1, 2).startswith("n2  |")


@pytest.mark.parametrize("source,message", [("{% for %}", "t.j2:1:"),
                                            ('{{ "%d"|format(identity) }}', "does not fit its values"),
                                            ("{{ identity + 1 }}", "t.j2: can only concatenate")])
def test_inventory_template_errors_are_one_line(tmp_path, source, message):
    path = tmp_path / "t.j2"
    path.write_text(source)
    with pytest.raises(ClientError, match=message):
        InventoryTemplate(str(path)).render("n1", {})


def test_inventory_template_sandbox(tmp_path):
    path = tmp_path / "t.j2"
    path.write_text("{{ identity.__class__.__mro__ }}")
    assert InventoryTemplate(str(path)).render("n1", {}) == ""


def test_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    assert Colour.for_stream(Tty()).enabled
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Colour.for_stream(Tty()).enabled


def test_summaries_come_in_rubys_order_by_output_name():
    ddl = AgentDDL.from_dict({
        "metadata": DDL.metadata.as_dict(),
        "actions": [{"action": "get", "description": "d", "display": "always",
                     "output": {"version": {"description": "v", "display_as": "Version"},
                                "agents": {"description": "a", "display_as": "Agents"}},
                     "aggregate": [{"function": "summary", "args": ["version"]},
                                   {"function": "summary", "args": ["agents"]}]}]})
    aggregator = Aggregator(ddl.action("get"))
    aggregator.process({"version": "1.0", "agents": ["rpcutil"]})
    assert [label for label, _ in aggregator.results()] == ["Agents", "Version"]


def test_symbol_keys_from_the_wire_print_as_symbols():
    from pymco.client.results import plain
    from pymco.protocol.marshal import Symbol

    data = plain({Symbol("times"): {Symbol("utime"): 0.5, "name": "x"}})
    assert data["times"]["utime"] == 0.5  # still looked up by name
    assert inspect(data) == '{:times=>{:utime=>0.5, "name"=>"x"}}'
