"""Filter parsing (-F/-C/-I/-A/-W) and matching against a node."""

from __future__ import annotations

import pytest

from pymco.errors import FilterSyntaxError
from pymco.facts.base import MISSING, lookup
from pymco.matcher.facts import fact_matches
from pymco.matcher.fact_term import FactTerm, parse_fact_filter
from pymco.matcher.filter import Filter
from pymco.matcher.node import matches
from tests.support.nodeview import FakeNode


@pytest.mark.parametrize("spec,term", [
    ("role=web", FactTerm("role", "web", "==")),
    ("os.family==Debian", FactTerm("os.family", "Debian", "==")),
    ("count>=4", FactTerm("count", "4", ">=")),
    ("count=>4", FactTerm("count", "4", ">=")),
    ("count=<4", FactTerm("count", "4", "<=")),
    ("count < 4", FactTerm("count", "4", "<")),
    ("name!=x", FactTerm("name", "x", "!=")),
    ("name=~^we", FactTerm("name", "^we", "=~")),
    ("name=/^we/", FactTerm("name", "/^we/", "=~")),
])
def test_fact_filter_forms(spec, term):
    assert parse_fact_filter(spec) == term


@pytest.mark.parametrize("spec", ["os.family~~x", "novalue", "=x", "a=/(/"])
def test_bad_fact_filters(spec):
    with pytest.raises(FilterSyntaxError):
        parse_fact_filter(spec)


def test_wire_round_trip():
    flt = Filter()
    flt.add_fact("role=web")
    flt.add_class("/^role::/")
    flt.add_identity("node01")
    flt.add_agent("rpcutil")
    wire = flt.to_wire()
    assert wire["fact"] == [{"fact": "role", "value": "web", "operator": "=="}]
    assert Filter.from_wire(wire) == flt


def test_with_mixes_facts_and_classes():
    flt = Filter()
    flt.add_with("role=web apache")
    assert flt.fact == [FactTerm("role", "web", "==")]
    assert flt.cf_class == ["apache"]


@pytest.mark.parametrize("actual,op,wanted,result", [
    ("web", "==", "web", True),
    ("web", "!=", "web", False),
    (12, "==", "12", True),
    (12, "==", "12.0", True),
    (12, ">", "9", True),          # numeric, not string, comparison
    ("12", ">", "9", True),
    ("abc", "<", "abd", True),
    (True, "==", "true", True),
    (False, "==", "true", False),
    (["a", "b"], "==", "b", True),  # list: any element
    ({"eth0": {}}, "==", "eth0", True),  # hash: any key
    ("webserver", "=~", "/^web/", True),
    ("webserver", "=~", "^db", False),
    (MISSING, "==", "x", False),
    (MISSING, "!=", "x", False),
])
def test_fact_comparisons(actual, op, wanted, result):
    assert fact_matches(actual, op, wanted) is result


def test_dotted_lookup():
    facts = {"os": {"release": {"major": "12"}}, "list": [{"a": 1}], "flat.name": 3}
    assert lookup(facts, "os.release.major") == "12"
    assert lookup(facts, "list.0.a") == 1
    assert lookup(facts, "flat.name") == 3
    assert lookup(facts, "os.nope") is MISSING


WEB1 = FakeNode({"role": "web", "os": {"family": "Debian"}}, ["base", "role::web"], identity="web1")


@pytest.mark.parametrize("build,result", [
    (lambda f: None, True),
    (lambda f: f.add_fact("os.family=Debian"), True),
    (lambda f: f.add_fact("os.family=RedHat"), False),
    (lambda f: f.add_class("role::web"), True),
    (lambda f: f.add_class("/^role::/"), True),
    (lambda f: f.add_class("nginx"), False),
    (lambda f: (f.add_identity("db1"), f.add_identity("web1")), True),
    (lambda f: f.add_identity("/^db/"), False),
    (lambda f: f.add_agent("package"), True),
    (lambda f: f.add_agent("puppet"), False),
])
def test_node_matching(build, result):
    flt = Filter()
    build(flt)
    assert matches(flt, WEB1) is result
