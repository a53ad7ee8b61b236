"""-S compound filters: MCollective's call stack shape, refusals, node-side evaluation."""

from __future__ import annotations

import re

import pytest

from pymco.errors import FilterSyntaxError
from pymco.facts.base import MISSING, lookup
from pymco.matcher.compound import describe, evaluate, parse_compound
from pymco.protocol import marshal
from tests.support.nodeview import FakeNode


NODE = FakeNode({"os": {"family": "Debian", "release": {"major": "12"}}, "role": "web", "processors": {"count": 4}},
            ["apache", "role::web"],
            {"fstat(/etc/hosts)": {"size": 120, "present": 1, "name": "/etc/hosts", "type": "file"},
             "fact(os.family)": {"exists": True, "value": "Debian", "value_encoding": "text/plain"},
             "agent(package)": {"version": "5.3.0", "timeout": 180},
             "puppet()": {"enabled": True, "idling": False}})


def test_stack_shape_matches_mcollective():
    assert parse_compound("os.family=Debian and apache") == [
        {"statement": "os.family=Debian"}, {"and": "and"}, {"statement": "apache"}]
    assert parse_compound("not role = db or (/^role::/ and processors.count >= 2)") == [
        {"not": "not"}, {"statement": "role=db"}, {"or": "or"}, {"(": "("}, {"statement": "/^role::/"},
        {"and": "and"}, {"statement": "processors.count>=2"}, {")": ")"}]
    assert parse_compound("fstat('/etc/hosts').size > 0") == [
        {"fstatement": {"name": "fstat", "params": "/etc/hosts", "value": "size", "operator": ">",
                        "r_compare": "0"}}]
    (entry,) = parse_compound("agent('package').version=/^5/")
    assert entry["fstatement"]["operator"] == "=~"
    assert entry["fstatement"]["r_compare"].pattern == "^5"
    (entry,) = parse_compound('fact("os.family") != /Red/')
    assert entry["fstatement"]["operator"] == "!=~"


def test_stack_survives_marshal_round_trip():
    stack = parse_compound("agent('package').version=/^5/ and !apache")
    back = marshal.loads(marshal.dumps(stack))
    assert back[0]["fstatement"]["r_compare"].pattern == "^5"
    assert evaluate(back, NODE) is False
    assert evaluate(marshal.loads(marshal.dumps(parse_compound("agent('package').version=/^5/"))), NODE)


@pytest.mark.parametrize("expression", [
    "(role=web", "role=web)", "role=web and", "and role=web", "role=web or or apache", "not", "()",
    "role=web apache", "os.family~~x", "fstat('x'", "fstat(x).size=1", "fstat('x').size", "/abc",
    "x = ", "a=/(/", "", "role='web",
])
def test_malformed_expressions_are_refused(expression):
    with pytest.raises(FilterSyntaxError):
        parse_compound(expression)


@pytest.mark.parametrize("expression,expected", [
    ("os.family=Debian", True),
    ("os.family=RedHat", False),
    ("os.release.major >= 11", True),
    ("processors.count > 10", False),
    ("apache", True),
    ("nginx", False),
    ("/^role::/", True),
    ("!apache", False),
    ("not nginx and apache", True),
    ("nginx or apache and role=web", True),     # and binds tighter than or
    ("(nginx or apache) and role=db", False),
    ("not (nginx or role=db)", True),
    ("role='web' and os.family=/^Deb/", True),
    ("fstat('/etc/hosts').size > 0", True),
    ("fstat('/etc/hosts').size > 1000", False),
    ("fstat('/etc/hosts').type = file", True),
    ("fact('os.family') = 'Debian'", True),
    ("fact('os.family').value = /^Red/", False),
    ("fact('os.family').value != /^Red/", True),
    ("agent('package').version = /^5/", True),
    ("agent('package').timeout >= 100", True),
    ("agent('package').version > 1", False),       # no < > on strings
    ("puppet().enabled = true", True),
    ("puppet().idling = true", False),
    ("fstat('/missing').size > 0", False),        # the plugin has no answer: false
    ("not fstat('/missing').size > 0", False),    # ...for the whole term, as MCollective
    ("fstat('/etc/hosts').nosuch = 1", False),
    ("fstat('/etc/`id`').size > 0", False),
])
def test_evaluation(expression, expected):
    assert evaluate(parse_compound(expression), NODE) is expected


@pytest.mark.parametrize("stack", [
    [{"and": "and"}], [{"statement": "apache"}, {"statement": "apache"}], [{"(": "("}, {"statement": "x"}],
    [{"bogus": 1}], ["text"], [{"fstatement": {"name": "fact", "params": "os.family", "operator": "<>",
                                                "r_compare": "x"}}],
])
def test_malformed_received_stacks_select_nothing(stack):
    assert evaluate(stack, NODE) is False


def test_ruby_client_stack_is_understood():
    # as Ruby's Matcher.create_compound_callstack builds it (bytes from Marshal, Regexp object)
    stack = [{b"fstatement": {b"name": b"fact", b"params": b"os.family", b"value": b"value",
                              b"operator": b"=~", b"r_compare": re.compile("Deb")}},
             {b"and": b"and"}, {b"statement": b"role=web"}]
    assert evaluate(stack, NODE) is True


def test_describe():
    lines = describe(parse_compound("apache and (role=web or fstat('/etc/hosts').size>0)"))
    assert lines == [
        "Check if class 'apache' is present on the host", "AND", "(",
        "  Check if fact 'role' == 'web'", "  OR",
        "  Execute the Data Query 'fstat' with parameters (/etc/hosts). Check if the query's 'size' value > '0'",
        ")"]


def test_missing_fact_never_matches():
    assert lookup({}, "nope") is MISSING
    assert evaluate(parse_compound("nope=1"), NODE) is False
    assert evaluate(parse_compound("nope!=1"), NODE) is False
