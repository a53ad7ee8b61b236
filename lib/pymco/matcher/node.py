"""Does a request's filter select this node?

The daemon asks this for every request that passed security and TTL checks.
The node is seen through `NodeView`, so the same code matches for the real
daemon, the fleet simulator and unit tests.  Fact, class, agent and compound
terms must all pass; identity terms are ORed; an empty filter passes.
"""

from __future__ import annotations

from pymco.matcher.facts import fact_matches
from pymco.matcher.filter import Filter
from pymco.matcher.view import NodeView, name_matches

__all__ = ["matches"]


def matches(flt: Filter, node: NodeView) -> bool:
    for term in flt.fact:
        if not fact_matches(node.fact(term.fact), term.operator, term.value):
            return False
    if flt.cf_class:
        classes = node.classes()
        for wanted in flt.cf_class:
            if not any(name_matches(wanted, c) for c in classes):
                return False
    if flt.agent:
        agents = node.agents()
        for wanted in flt.agent:
            if wanted == "mcollective" or wanted in agents:  # the usual exact name, before any regex
                continue
            if not any(name_matches(wanted, a) for a in agents):
                return False
    if flt.identity and node.identity not in flt.identity \
            and not any(name_matches(i, node.identity) for i in flt.identity):
        return False
    if flt.compound:
        from pymco.matcher.compound import evaluate  # only -S filters pay for the evaluator

        for callstack in flt.compound:
            if not evaluate(callstack, node):
                return False
    return True
