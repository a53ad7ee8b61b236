"""Filters as PuppetDB queries (pymco.discovery.pql): the translation table, escaping and refusals.

The expected PQL is written out by hand: it is the specification of what
PuppetDB is asked.  That PuppetDB answers these shapes as the nodes would is
shown against a real PuppetDB by the integration tests.
"""

from __future__ import annotations

import json
import re

import pytest

from pymco.errors import DiscoveryError, FilterSyntaxError
from pymco.matcher.compound import parse_compound
from pymco.matcher.filter import FactTerm, Filter, parse_fact_filter
from pymco.discovery import pql

BUILTIN = ["discovery", "package", "puppet", "rpcutil", "service"]
SERVER = ('resources { type = "Class" and title = "Pymco::Server" } and '
          '!(resources { type = "Class" and title = "Pymco" and parameters.ensure = "absent" })')
# PuppetDB's grammar for a double-quoted string (pql-grammar.ebnf), whose content it decodes as JSON
DQSTRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def fact(spec: str, resolved: dict[FactTerm, pql.Resolved] | None = None) -> str:
    return pql.fact_condition(parse_fact_filter(spec), resolved or {})


def where(**parts: list[str]) -> str:
    """The query body of a filter made of the given -F/-C/-I/-A/-S options."""
    flt = Filter()
    for spec in parts.get("F", []):
        flt.add_fact(spec)
    for name in parts.get("C", []):
        flt.add_class(name)
    for name in parts.get("I", []):
        flt.add_identity(name)
    for name in parts.get("A", []):
        flt.add_agent(name)
    for expression in parts.get("S", []):
        flt.add_compound(expression)
    resolved = {t: pql.Resolved(frozenset({f"n-{t.fact}"}), frozenset({f"n-{t.fact}", "other", "more"}))
                for t in pql.inequalities(flt)}
    text = pql.query(flt, BUILTIN, resolved)
    head, tail = 'nodes[certname] { node_state = "active"', " }"
    assert text.startswith(head) and text.endswith(tail)
    return text[len(head):-len(tail)].removeprefix(" and ")


# ------------------------------------------------------------------ strings and names

@pytest.mark.parametrize("value", ['plain', 'a"b', 'back\\slash', 'end\\', '" or certname ~ ".*', "new\nline",
                                   "tab\t", "ünï", "😀", "\x00", "}{)(]["])
def test_strings_are_one_pql_string_that_decodes_to_the_value(value):
    literal = pql.string(value)
    match = DQSTRING.fullmatch(literal)
    assert match is not None, literal
    assert json.loads(f'"{match.group(1)}"') == value


def test_a_hostile_fact_value_stays_inside_its_string():
    text = fact('os.family=Debian" } or nodes { certname ~ ".*')
    strings = DQSTRING.findall(text)
    assert [json.loads(f'"{s}"') for s in strings] == ['Debian" } or nodes { certname ~ ".*'] * 2
    assert DQSTRING.sub('""', text) == 'inventory { facts.os.family = "" or facts.os.family = [""] }'


@pytest.mark.parametrize("pattern, expected", [
    ("/^web\\d+$/", '"^web\\\\d+$"'),
    ("/\\bweb\\B/", '"\\\\yweb\\\\Y"'),       # Ruby's word boundaries are PostgreSQL's \y and \Y
    ("/a\\\\b/", '"a\\\\\\\\b"'),              # an escaped backslash followed by b is not a boundary
    ('/say "hi"/', '"say \\"hi\\""'),
    ("bare", '"bare"'),
])
def test_regex(pattern, expected):
    assert pql.regex(pattern) == expected


def test_regex_ignoring_case():
    assert pql.regex("/apache/", ignore_case=True) == '"(?i)apache"'
    assert pql.regex("/(?i)apache/", ignore_case=True) == '"(?i)apache"'
    assert pql.regex("/(?s)apache/", ignore_case=True) == '"(?si)apache"'
    assert pql.regex("/(?:role|profile)::web/", ignore_case=True) == '"(?i)(?:role|profile)::web"'


@pytest.mark.parametrize("name, field", [
    ("kernel", "facts.kernel"),
    ("os.release.major", "facts.os.release.major"),
    ("processors.models.0", "facts.processors.models[0]"),
    ("disks.sda.size_bytes", "facts.disks.sda.size_bytes"),
    ("mountpoints./var/lib.size", "facts.mountpoints./var/lib.size"),
    ("ec2_metadata.block-device-mapping.ami", "facts.ec2_metadata.block-device-mapping.ami"),
])
def test_fact_fields(name, field):
    assert pql.fact_field(name) == field


@pytest.mark.parametrize("name", ['a"b', "a b", "a..b", "a.b[0]", "a=b", "a~b", "a,b", "", "a!"])
def test_fact_names_pql_cannot_hold_are_refused(name):
    with pytest.raises(DiscoveryError, match="cannot be used in a PuppetDB query"):
        pql.fact_field(name)


@pytest.mark.parametrize("name, title", [
    ("apache", "Apache"), ("apache::mod", "Apache::Mod"), ("::apache::mod::ssl", "Apache::Mod::Ssl"),
    ("Apache::MOD", "Apache::Mod"), ("pymco::server", "Pymco::Server"), ("my_app::web_1", "My_app::Web_1"),
])
def test_class_titles_are_puppets(name, title):
    assert pql.class_title(name) == title


# ------------------------------------------------------------------ facts

@pytest.mark.parametrize("spec, expected", [
    # each value also as [value]: PuppetDB's "a list holding it", as a node matches a list fact by any element
    ("os.family=Debian", 'inventory { facts.os.family = "Debian" or facts.os.family = ["Debian"] }'),
    ("os.family==Debian", 'inventory { facts.os.family = "Debian" or facts.os.family = ["Debian"] }'),
    ("os.release.major=12", 'inventory { facts.os.release.major = "12" or facts.os.release.major = ["12"] or '
                            'facts.os.release.major = 12 or facts.os.release.major = [12] }'),
    ("load=-0.5", 'inventory { facts.load = "-0.5" or facts.load = ["-0.5"] or facts.load = -0.5 or '
                  'facts.load = [-0.5] }'),
    ("big=1e5", 'inventory { facts.big = "1e5" or facts.big = ["1e5"] or facts.big = 100000.0 or '
                'facts.big = [100000.0] }'),
    ("tiny=2.5e-07", 'inventory { facts.tiny = "2.5e-07" or facts.tiny = ["2.5e-07"] or facts.tiny = 2.5e-07 or '
                     'facts.tiny = [2.5e-07] }'),
    # not a finite number, or beyond a Long: the string only
    ("huge=1e400", 'inventory { facts.huge = "1e400" or facts.huge = ["1e400"] }'),
    ("serial=99999999999999999999",
     'inventory { facts.serial = "99999999999999999999" or facts.serial = ["99999999999999999999"] }'),
    ("is_virtual=true", 'inventory { facts.is_virtual = "true" or facts.is_virtual = ["true"] or '
                        'facts.is_virtual = true or facts.is_virtual = [true] }'),
    ("is_virtual=false", 'inventory { facts.is_virtual = "false" or facts.is_virtual = ["false"] or '
                         'facts.is_virtual = false or facts.is_virtual = [false] }'),
    ("processors.models.0=Xeon",
     'inventory { facts.processors.models[0] = "Xeon" or facts.processors.models[0] = ["Xeon"] }'),
    ("os.family!=Debian",
     'inventory { facts.os.family ~ "" and !(facts.os.family = "Debian" or facts.os.family = ["Debian"]) }'),
    ("processorcount!=4",
     'inventory { facts.processorcount ~ "" and !(facts.processorcount = "4" or facts.processorcount = ["4"] or '
     'facts.processorcount = 4 or facts.processorcount = [4]) }'),
    ("os.family=~/^deb/", 'inventory { facts.os.family ~ "^deb" }'),
    ("os.family=/^Deb|^Ubu/", 'inventory { facts.os.family ~ "^Deb|^Ubu" }'),
    ("fqdn=~/^web\\d\\b/", 'inventory { facts.fqdn ~ "^web\\\\d\\\\y" }'),
])
def test_fact_conditions(spec, expected):
    assert fact(spec) == expected


def resolved(matched: list[str], present: list[str]) -> pql.Resolved:
    return pql.Resolved(frozenset(matched), frozenset(present))


@pytest.mark.parametrize("spec", ["os.release.major>=11", "memory.system.total_bytes<1e9", "uptime_days>3",
                                  "load<=-1.5", "x=>2", "x=<2"])
def test_inequalities_in_compound_filters_are_the_resolved_certnames(spec):
    term = parse_fact_filter(spec)
    field = pql.fact_field(term.fact)
    names = ["web2", 'we"ird', "web1"]
    assert fact(spec, {term: resolved(names, names + ["a", "b", "c"])}) == 'certname in ["we\\"ird", "web1", "web2"]'
    assert fact(spec, {term: resolved([], ["a"])}) == 'certname = ""'  # no node has an empty certname
    # the shorter list: "has the fact and is not one of these"
    has_it = f'inventory {{ {field} ~ "" }}'
    assert fact(spec, {term: resolved(names, names + ["a"])}) == f'{has_it} and !(certname in ["a"])'
    assert fact(spec, {term: resolved(names, names)}) == f'{has_it} and !(certname = "")'


def test_long_certname_lists_are_not_sent():
    term = parse_fact_filter("uptime_days>3")
    many = [f"n{i:04d}" for i in range(2 * pql.MAX_LISTED + 2)]
    half = pql.MAX_LISTED + 1
    assert fact("uptime_days>3", {term: resolved(many[:pql.MAX_LISTED], many)}).startswith("certname in [")
    assert fact("uptime_days>3", {term: resolved(many[pql.MAX_LISTED:], many)}).startswith("inventory {")
    with pytest.raises(DiscoveryError, match=rf"^PuppetDB discovery cannot pass 'uptime_days>3' inside -S: it "
                                             rf"selects {half} of {2 * half} nodes, more than {pql.MAX_LISTED} "
                                             r"either way \(give it with -F, or use the mc discovery method\)$"):
        fact("uptime_days>3", {term: resolved(many[:half], many)})


def test_f_inequalities_are_left_to_the_caller():
    flt = Filter()
    flt.add_fact("uptime_days>3")
    flt.add_fact("os.family=Debian")
    assert pql.query(flt) == ('nodes[certname] { node_state = "active" and '
                              '(inventory { facts.os.family = "Debian" or facts.os.family = ["Debian"] }) }')


@pytest.mark.parametrize("spec", ["os.release.major>=eleven", "kernel<Linux", "x>1.2.3", "x<=true"])
def test_inequalities_against_non_numbers_are_refused(spec):
    flt = Filter()
    flt.add_fact(spec)
    with pytest.raises(DiscoveryError, match="with numbers only"):
        pql.inequalities(flt)


def test_inequalities_are_collected_once_from_facts_and_compound_filters():
    flt = Filter()
    flt.add_fact("uptime_days>3")
    flt.add_fact("os.family=Debian")
    flt.add_compound("uptime_days>3 or (apache and processorcount<=8)")
    assert pql.inequalities(flt) == [FactTerm("uptime_days", "3", ">"), FactTerm("processorcount", "8", "<=")]


def test_values_query_projects_the_fact_or_else_its_top_fact():
    assert pql.values_query(parse_fact_filter("os.release.major>=11")) == (
        'inventory[certname, facts.os.release.major] { node_state = "active" and '
        'facts.os.release.major is not null }')
    assert pql.values_query(parse_fact_filter("processors.models.0>1")) == (
        'inventory[certname, facts.processors] { node_state = "active" and facts.processors is not null }')
    long_name = "a." + "b" * 60 + ".c"
    assert pql.values_query(parse_fact_filter(f"{long_name}>1")).startswith("inventory[certname, facts.a] {")


def test_resolve_judges_values_as_the_nodes_do():
    term = parse_fact_filter("os.release.major>=11")
    rows = [{"certname": "string12", "facts.os.release.major": "12"},
            {"certname": "string10", "facts.os.release.major": "10"},
            {"certname": "number11", "facts.os.release.major": 11},
            {"certname": "float10.5", "facts.os.release.major": 10.5},
            {"certname": "word", "facts.os.release.major": "twelve"},
            {"certname": "boolean", "facts.os.release.major": True},
            {"certname": "list", "facts.os.release.major": ["9", "13"]},
            {"certname": "null", "facts.os.release.major": None},
            {"certname": "absent"},
            {"facts.os.release.major": 99}]
    # numbers and numeric strings by value, a list by any element, other strings as strings (as a node does)
    present = {"string12", "string10", "number11", "float10.5", "word", "boolean", "list", "null"}
    assert pql.resolve(term, rows) == resolved(["string12", "number11", "word", "list"], present)
    below = parse_fact_filter("os.release.major<11")
    assert pql.resolve(below, rows) == resolved(["string10", "float10.5", "list", "null"], present)


def test_resolve_walks_a_top_fact_to_the_value():
    term = parse_fact_filter("processors.models.1>2")
    rows = [{"certname": "a", "facts.processors": {"models": [1, 3]}},
            {"certname": "b", "facts.processors": {"models": [3, 1]}},
            {"certname": "c", "facts.processors": {"models": [3]}}]
    assert pql.resolve(term, rows) == resolved(["a"], ["a", "b"])


# ------------------------------------------------------------------ identities, classes, agents

def test_identities_are_ored():
    assert where(I=["web1.example.com"]) == '(certname = "web1.example.com")'
    assert where(I=["web1", "/^db\\d/"]) == '(certname = "web1" or certname ~ "^db\\\\d")'


def test_classes():
    assert where(C=["apache::mod"]) == '(resources { type = "Class" and title = "Apache::Mod" })'
    assert where(C=["/^apache::mod/"]) == '(resources { type = "Class" and title ~ "(?i)^apache::mod" })'
    assert where(C=["a", "b"]) == ('(resources { type = "Class" and title = "A" }) and '
                                   '(resources { type = "Class" and title = "B" })')


@pytest.mark.parametrize("agent", ["rpcutil", "puppet", "mcollective", "/^rpc/", "/util/"])
def test_built_in_agents_come_with_the_server_class(agent):
    assert where(A=[agent]) == f"({SERVER})"


def test_other_agents_need_their_plugin_resource():
    plugin = 'resources {{ type = "Pymco::Plugin" and {} and !(parameters.ensure = "absent") }}'
    assert where(A=["nodeinfo"]) == f'({SERVER} and {plugin.format("title = " + chr(34) + "nodeinfo" + chr(34))})'
    assert where(A=["/^node/"]) == f'({SERVER} and {plugin.format("title ~ " + chr(34) + "^node" + chr(34))})'


def test_a_bad_agent_regex_is_a_filter_error():
    with pytest.raises(FilterSyntaxError):
        pql.agent_condition("/(/", BUILTIN)


def test_the_collective_is_the_module_class_parameter_or_unknown():
    # `= [...]` on a list parameter is PuppetDB's containment: Class[Pymco] lists the collective among others
    assert pql.collective_condition("dc_east") == (
        '(resources { type = "Class" and title = "Pymco" and parameters.collectives = ["dc_east"] } or '
        '!(resources { type = "Class" and title = "Pymco" }))')
    assert pql.collective_condition('a"b') == (
        '(resources { type = "Class" and title = "Pymco" and parameters.collectives = ["a\\"b"] } or '
        '!(resources { type = "Class" and title = "Pymco" }))')


# ------------------------------------------------------------------ whole queries and -S

def test_an_empty_filter_is_every_active_node():
    assert pql.query(Filter()) == 'nodes[certname] { node_state = "active" }'


def test_the_collective_comes_first_and_is_anded():
    flt = Filter()
    flt.add_class("apache")
    assert pql.query(flt, collective="mcollective") == (
        'nodes[certname] { node_state = "active" and '
        '(resources { type = "Class" and title = "Pymco" and parameters.collectives = ["mcollective"] } or '
        '!(resources { type = "Class" and title = "Pymco" })) and '
        '(resources { type = "Class" and title = "Apache" }) }')


def test_terms_are_anded():
    assert where(F=["os.family=Debian"], C=["apache"], I=["/web/"]) == (
        '(certname ~ "web") and (inventory { facts.os.family = "Debian" or facts.os.family = ["Debian"] }) and '
        '(resources { type = "Class" and title = "Apache" })')


@pytest.mark.parametrize("expression, expected", [
    ("os.family=Debian", '((inventory { facts.os.family = "Debian" or facts.os.family = ["Debian"] }))'),
    ("apache", '((resources { type = "Class" and title = "Apache" }))'),
    ("/apache/", '((resources { type = "Class" and title ~ "(?i)apache" }))'),
    ("os.family=Debian and apache",
     '((inventory { facts.os.family = "Debian" or facts.os.family = ["Debian"] }) and '
     '(resources { type = "Class" and title = "Apache" }))'),
    ("(os.family=Debian or !apache) and uptime_days>3",
     '(( (inventory { facts.os.family = "Debian" or facts.os.family = ["Debian"] }) or '
     '! (resources { type = "Class" and title = "Apache" }) ) '
     'and (certname in ["n-uptime_days"]))'),
    ("not os.family=~/deb/ or nginx",
     '(! (inventory { facts.os.family ~ "deb" }) or (resources { type = "Class" and title = "Nginx" }))'),
    ("os.family!=Debian",
     '((inventory { facts.os.family ~ "" and !(facts.os.family = "Debian" or facts.os.family = ["Debian"]) }))'),
])
def test_compound_filters_keep_their_logic(expression, expected):
    assert where(S=[expression]) == expected


def test_compound_data_functions_are_refused_in_one_line():
    flt = Filter(compound=[parse_compound("fstat('/etc/hosts').size > 10 and apache")])
    with pytest.raises(DiscoveryError, match=r"^PuppetDB discovery cannot evaluate the data function fstat\(\) "
                                              r"in -S: use the mc discovery method$"):
        pql.query(flt)


@pytest.mark.parametrize("entry", [{"weird": "x"}, {"statement": "a", "and": "and"}, "statement"])
def test_compound_stacks_of_another_shape_are_refused(entry):
    with pytest.raises(DiscoveryError, match="does not understand the -S element"):
        pql.query(Filter(compound=[[entry]]))
