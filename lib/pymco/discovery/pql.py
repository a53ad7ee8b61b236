"""An MCollective filter as a PuppetDB query (PQL), for `--dm puppetdb`.

The query shapes are Choria's (providers/discovery/puppetdb), proven against
PuppetDB: the answer is `nodes[certname] { ... }` and every filter term is a
condition on the certname or an implicit subquery of PuppetDB's data about
the node:

* identity: `certname = "web1"`, `certname ~ "^web"` (terms ORed, as on nodes);
* fact: `inventory { facts.os.family = "Debian" }` on the dotted path, a
  digit segment indexing a list (`facts.processors.models[0]`); a value that
  is a number or a boolean is compared as both the typed value and the string,
  because Facter stores `os.release.major` as "12" but `processorcount` as 4,
  and each also as `[value]`, PuppetDB's "a list holding it", since a node
  matches a list fact by any element;
* class: `resources { type = "Class" and title = "Apache::Mod" }` (Puppet's
  capitalised title), a /regex/ matched case-insensitively for that reason;
* agent: the pymco Puppet module's resources (see `agent_condition`);
* `-S`: its and/or/not/parentheses with the same terms inside;
* the request's collective (`-T`, else the main one): nodes whose
  `Class[Pymco]` lists it in its `collectives` parameter, or that have no
  `Class[Pymco]` (see `collective_condition`).

Deactivated and expired nodes are left out (`node_state = "active"`, said
explicitly although PuppetDB's root endpoint adds it by default).

`<`, `>`, `<=`, `>=` cannot be written in PQL with the nodes' meaning:
PuppetDB compares raw JSON, where every string sorts below every number, so
`"12" >= 11` is false and `"Debian" < 11` true.  Such a term is therefore
resolved first: `values_query` fetches the fact's values and `resolve` judges
them with the nodes' own comparison (pymco.matcher.facts).  A `-F` term then
filters the query's answer (the caller intersects, see `query`); inside `-S`
it becomes `certname in [...]`, or "has the fact and is not in [...]" when
that list is shorter.  Either list is capped (MAX_LISTED): PuppetDB parses a
long PQL string slowly and with much memory (5,000 names exhausted a 256 MB
heap), so a longer one is refused in one line.

Strings are written as JSON strings, which is how PuppetDB reads a
double-quoted PQL string, so quotes and backslashes in a value cannot end it.
Fact paths are checked against the characters pymco allows in fact names.
Regular expressions run in PostgreSQL (POSIX "advanced" flavour, which is
close to Ruby's and Python's); `\\b` and `\\B` are rewritten to PostgreSQL's
`\\y` and `\\Y`.  What cannot be translated (data functions in `-S`,
inequalities against non-numbers) raises DiscoveryError in one line.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Collection, Iterable

from pymco.errors import DiscoveryError, FilterSyntaxError
from pymco.facts.base import MISSING, lookup
from pymco.matcher.facts import fact_matches, to_number
from pymco.matcher.filter import FactTerm, Filter, parse_fact_filter

__all__ = ["string", "regex", "fact_field", "class_title", "query", "values_query", "resolve", "Resolved",
           "inequalities", "INEQUALITIES", "MAX_LISTED", "MODULE_CLASS", "SERVER_CLASS", "PLUGIN_TYPE"]

INEQUALITIES = frozenset({"<", ">", "<=", ">="})
#: the most certnames a query lists for an inequality inside -S (1,000 took PuppetDB a second to parse)
MAX_LISTED = 200
#: the pymco Puppet module's main class (its `collectives` and `ensure`), its class for a node running
#: pymcod, and its define for an extra agent
MODULE_CLASS = "Pymco"
SERVER_CLASS = "Pymco::Server"
PLUGIN_TYPE = "Pymco::Plugin"

_SEGMENT = re.compile(r"^[\w\-:/]+$")
_OPTIONS = re.compile(r"^\(\?([a-zA-Z]+)\)")
_MAX_PROJECTION = 63  # PuppetDB's limit on a projected field's name (PDB-4521)
_NOTHING = 'certname = ""'  # no node has an empty certname: the PQL for "false"
_LONG = 2 ** 63


def string(value: str) -> str:
    """A PQL double-quoted string: PuppetDB decodes its content as a JSON string."""
    return json.dumps(value, ensure_ascii=True)


def _is_regex(value: str) -> bool:
    return len(value) > 1 and value.startswith("/") and value.endswith("/")


def regex(pattern: str, ignore_case: bool = False) -> str:
    """A Ruby-style /regex/ (or a bare pattern) as a PQL string for PostgreSQL's `~`."""
    if _is_regex(pattern):
        pattern = pattern[1:-1]
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            follower = pattern[i + 1]
            out.append("\\" + {"b": "y", "B": "Y"}.get(follower, follower))
            i += 2
            continue
        out.append(char)
        i += 1
    translated = "".join(out)
    if ignore_case:
        options = _OPTIONS.match(translated)  # PostgreSQL takes one options group, at the very start
        if options is None:
            translated = "(?i)" + translated
        elif "i" not in options.group(1):
            translated = f"(?{options.group(1)}i)" + translated[options.end():]
    return string(translated)


def fact_field(name: str) -> str:
    """`os.release.major` as `facts.os.release.major`; a digit segment after the first is a list index."""
    parts = name.split(".")
    if not all(_SEGMENT.match(part) for part in parts):
        raise DiscoveryError(f"The fact name {name!r} cannot be used in a PuppetDB query")
    field = "facts." + parts[0]
    for part in parts[1:]:
        field += f"[{part}]" if part.isdigit() else "." + part
    return field


def class_title(name: str) -> str:
    """A class name as Puppet titles Class resources: `apache::mod` is `Apache::Mod`."""
    return "::".join(part.capitalize() for part in name.lstrip(":").split("::"))


def _number(value: str) -> str | None:
    """The PQL integer or real for a numeric filter value; None when PQL cannot hold it."""
    number = to_number(value)
    if number is None:
        return None
    if isinstance(number, int):
        return str(number) if -_LONG <= number < _LONG else None
    if not math.isfinite(number):
        return None
    mantissa, _, exponent = repr(number).partition("e")
    if "." not in mantissa:
        mantissa += ".0"  # PQL's real needs digits on both sides of the point
    return mantissa + ("e" + exponent if exponent else "")


def _equal(field: str, value: str) -> str:
    """`field` equals the value as a string, or as the number or boolean it spells, or is a list holding one."""
    literals = [string(value)]
    number = _number(value)
    if number is not None:
        literals.append(number)
    elif value in ("true", "false"):
        literals.append(value)
    # `= [v]` is PuppetDB's "a list containing v": a node matches a list fact by any element
    return " or ".join(f"{field} = {literal} or {field} = [{literal}]" for literal in literals)


@dataclass(frozen=True)
class Resolved:
    """An inequality judged on PuppetDB's values: the nodes it selects among those having the fact."""

    matched: frozenset[str]
    present: frozenset[str]


def resolved_condition(term: FactTerm, resolved: Resolved) -> str:
    """An inequality as the shorter of "listed" and "has the fact but is not listed"; too long is refused."""
    others = resolved.present - resolved.matched
    if len(resolved.matched) <= min(len(others), MAX_LISTED):
        return _certnames(resolved.matched)
    if len(others) <= MAX_LISTED:
        return f'inventory {{ {fact_field(term.fact)} ~ "" }} and !({_certnames(others)})'
    raise DiscoveryError(f"PuppetDB discovery cannot pass '{term.fact}{term.operator}{term.value}' inside -S: it "
                         f"selects {len(resolved.matched)} of {len(resolved.present)} nodes, more than {MAX_LISTED} "
                         "either way (give it with -F, or use the mc discovery method)")


def fact_condition(term: FactTerm, resolved: dict[FactTerm, Resolved]) -> str:
    """One fact term as a condition on nodes; an inequality needs its `resolve` answer."""
    if term.operator in INEQUALITIES:
        return resolved_condition(term, resolved[term])
    field = fact_field(term.fact)
    if term.operator == "=~":
        return f"inventory {{ {field} ~ {regex(term.value)} }}"
    if term.operator in ("==", "="):
        return f"inventory {{ {_equal(field, term.value)} }}"
    if term.operator == "!=":
        # the fact must exist (any value matches ""): a node without it matches no fact filter
        return f'inventory {{ {field} ~ "" and !({_equal(field, term.value)}) }}'
    raise DiscoveryError(f"PuppetDB discovery does not know the fact operator '{term.operator}'")


def _certnames(names: Collection[str]) -> str:
    if not names:
        return _NOTHING
    return "certname in [" + ", ".join(string(n) for n in sorted(names)) + "]"


def class_condition(name: str) -> str:
    if _is_regex(name):
        return f'resources {{ type = "Class" and title ~ {regex(name, ignore_case=True)} }}'
    return f'resources {{ type = "Class" and title = {string(class_title(name))} }}'


def identity_condition(name: str) -> str:
    if _is_regex(name):
        return f"certname ~ {regex(name)}"
    return f"certname = {string(name)}"


def agent_condition(name: str, builtin: Iterable[str]) -> str:
    """Nodes whose catalog gives pymcod the agent, as the pymco Puppet module declares it.

    A built-in agent comes with `pymco::server` (unless the module's ensure is
    absent); another agent also needs a `pymco::plugin { NAME: }` not absent.
    Choria does the same with its module's classes and agent file tags.
    """
    server = (f'resources {{ type = "Class" and title = {string(SERVER_CLASS)} }} and '
              f'!(resources {{ type = "Class" and title = {string(MODULE_CLASS)} and parameters.ensure = "absent" }})')
    if _is_regex(name):
        try:
            pattern = re.compile(name[1:-1])
        except re.error as exc:
            raise FilterSyntaxError(f"invalid regular expression in agent filter {name!r}: {exc}") from None
        if any(pattern.search(agent) for agent in builtin):
            return f"({server})"
        title = f"title ~ {regex(name)}"
    elif name == "mcollective" or name in builtin:
        return f"({server})"
    else:
        title = f"title = {string(name)}"
    plugin = f'resources {{ type = {string(PLUGIN_TYPE)} and {title} and !(parameters.ensure = "absent") }}'
    return f"({server} and {plugin})"


def collective_condition(collective: str) -> str:
    """Nodes in `collective` according to their catalog, and nodes whose catalog cannot tell.

    The module's `Class[Pymco]` carries the node's `collectives` (Puppet
    stores a class's default parameter values in the catalog too, so
    `['mcollective']` is there when the manifest sets none).  PuppetDB's `=`
    with a list on a list parameter is containment ("holds every element"),
    so `= ["dc_east"]` selects the lists holding dc_east.  A node without
    `Class[Pymco]` (Ruby MCollective, or pymco installed another way) has
    collectives PuppetDB does not know: it is kept, as before this rule, and
    answers or is listed as not answering.
    """
    module = f'resources {{ type = "Class" and title = {string(MODULE_CLASS)}'
    return f"({module} and parameters.collectives = [{string(collective)}] }} or !({module} }}))"


def _statement(statement: str) -> FactTerm | str:
    """A -S statement as the node reads it: a fact comparison, else a class name or /regex/."""
    if _is_regex(statement) or not any(o in statement for o in ("=", "<", ">")):
        return statement
    return parse_fact_filter(statement)


def compound_condition(callstack: list[dict[str, Any]], resolved: dict[FactTerm, Resolved]) -> str:
    """A -S call stack with its and/or/not/parentheses kept, each statement translated."""
    words = {"and": "and", "or": "or", "not": "!", "(": "(", ")": ")"}
    out = []
    for entry in callstack:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise DiscoveryError(f"PuppetDB discovery does not understand the -S element {entry!r:.60}")
        (kind, value), = entry.items()
        if kind == "statement":
            term = _statement(str(value))
            out.append(f"({class_condition(term)})" if isinstance(term, str)
                       else f"({fact_condition(term, resolved)})")
        elif kind == "fstatement":
            name = value.get("name") if isinstance(value, dict) else value
            raise DiscoveryError(f"PuppetDB discovery cannot evaluate the data function {name}() in -S: "
                                 "use the mc discovery method")
        elif kind in words:
            out.append(words[kind])
        else:
            raise DiscoveryError(f"PuppetDB discovery does not understand the -S element {kind!r}")
    return "(" + " ".join(out) + ")"


def inequalities(flt: Filter) -> list[FactTerm]:
    """The fact terms (from -F/-W and -S) that must be resolved before the query, each once."""
    terms = [t for t in flt.fact if t.operator in INEQUALITIES]
    for callstack in flt.compound:
        for entry in callstack:
            if isinstance(entry, dict) and "statement" in entry:
                term = _statement(str(entry["statement"]))
                if isinstance(term, FactTerm) and term.operator in INEQUALITIES:
                    terms.append(term)
    for term in terms:
        if to_number(term.value) is None:
            raise DiscoveryError(f"PuppetDB discovery compares '{term.operator}' with numbers only, "
                                 f"not {term.value!r} ({term.fact}{term.operator}{term.value})")
    return list(dict.fromkeys(terms))


def _projection(name: str) -> str:
    """The field `values_query` asks for: the fact itself when PuppetDB can project it, else its top fact."""
    field = fact_field(name)
    if "[" in field or len(field) > _MAX_PROJECTION:
        return fact_field(name.split(".")[0])
    return field


def values_query(term: FactTerm) -> str:
    """The PQL for every active node's value of the term's fact."""
    field = _projection(term.fact)
    return f'inventory[certname, {field}] {{ node_state = "active" and {field} is not null }}'


def resolve(term: FactTerm, rows: list[dict[str, Any]]) -> Resolved:
    """Judge `values_query`'s rows as a node judges its own fact: which certnames satisfy the term."""
    field = _projection(term.fact)
    top = term.fact.split(".")[0]
    matched, present = set(), set()
    for row in rows:
        certname, value = row.get("certname"), row.get(field, MISSING)
        if not isinstance(certname, str) or value is MISSING:
            continue
        if field != fact_field(term.fact):
            value = lookup({top: value}, term.fact)
            if value is MISSING:
                continue
        present.add(certname)
        if fact_matches(value, term.operator, term.value):
            matched.add(certname)
    return Resolved(frozenset(matched), frozenset(present))


def query(flt: Filter, builtin_agents: Iterable[str] = (), resolved: dict[FactTerm, Resolved] | None = None,
          collective: str | None = None) -> str:
    """The PQL selecting the active nodes `flt` selects in `collective`, but for its -F inequalities.

    Those the caller applies to the answer: a node is selected when its
    certname is also in each one's `resolve(...).matched`.  `resolved` holds
    the inequalities inside -S.  Without `collective`, nodes of any collective.
    """
    resolved = resolved or {}
    builtin = frozenset(builtin_agents)
    parts = ['node_state = "active"']
    if collective is not None:
        parts.append(collective_condition(collective))
    if flt.identity:
        parts.append("(" + " or ".join(identity_condition(i) for i in flt.identity) + ")")
    parts.extend(f"({fact_condition(t, resolved)})" for t in flt.fact if t.operator not in INEQUALITIES)
    parts.extend(f"({class_condition(c)})" for c in flt.cf_class)
    parts.extend(agent_condition(a, builtin) for a in flt.agent)
    parts.extend(compound_condition(c, resolved) for c in flt.compound)
    return "nodes[certname] { " + " and ".join(parts) + " }"
