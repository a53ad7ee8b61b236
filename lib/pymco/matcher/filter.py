"""The request filter in MCollective's wire structure, and its CLI parsers.

On the wire a filter is a hash with string keys `fact`, `cf_class`, `agent`,
`identity` and `compound`; fact terms are hashes with Symbol keys `:fact`,
`:value`, `:operator`; compound entries are MCollective call stacks.  Keeping
that structure lets Ruby MCollective nodes and clients exchange filters with
pymco unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pymco.errors import FilterSyntaxError
from pymco.matcher.fact_term import FACT, OPERATOR, VALUE, FactTerm, parse_fact_filter
from pymco.protocol.message import text

__all__ = ["Filter", "parse_fact_filter", "FactTerm"]  # the last two re-exported from matcher.fact_term

def _check_regex(kind: str, value: str) -> None:
    if len(value) > 1 and value.startswith("/") and value.endswith("/"):
        try:
            re.compile(value[1:-1])
        except re.error as exc:
            raise FilterSyntaxError(f"invalid regular expression in {kind} filter {value!r}: {exc}") from None


@dataclass
class Filter:
    fact: list[FactTerm] = field(default_factory=list)
    cf_class: list[str] = field(default_factory=list)
    agent: list[str] = field(default_factory=list)
    identity: list[str] = field(default_factory=list)
    compound: list[list[dict[str, Any]]] = field(default_factory=list)

    # ---- building (client side)
    def add_fact(self, spec: str) -> None:
        self.fact.append(parse_fact_filter(spec))

    def add_class(self, name: str) -> None:
        _check_regex("class", name)
        self.cf_class.append(name)

    def add_identity(self, name: str) -> None:
        _check_regex("identity", name)
        self.identity.append(name)

    def add_agent(self, name: str) -> None:
        _check_regex("agent", name)
        if name not in self.agent:
            self.agent.append(name)

    def add_compound(self, expression: str) -> None:
        from pymco.matcher.compound import parse_compound  # only -S pays for the parser at start-up

        self.compound.append(parse_compound(expression))

    def add_with(self, spec: str) -> None:
        """-W: each token that parses as a fact filter is one, else a class."""
        for token in spec.split():
            try:
                self.fact.append(parse_fact_filter(token))
            except FilterSyntaxError:
                self.add_class(token)

    @property
    def empty(self) -> bool:
        return not (self.fact or self.cf_class or self.agent or self.identity or self.compound)

    @property
    def identity_only(self) -> bool:
        """Only exact identities (plus agents): MCollective skips discovery for these."""
        return bool(self.identity) and not (self.fact or self.cf_class or self.compound) and all(
            not (i.startswith("/") and i.endswith("/")) for i in self.identity)

    def copy(self) -> "Filter":
        return Filter(list(self.fact), list(self.cf_class), list(self.agent), list(self.identity),
                      [list(c) for c in self.compound])

    # ---- wire format
    def to_wire(self) -> dict[str, Any]:
        return {
            "fact": [t.to_wire() for t in self.fact],
            "cf_class": list(self.cf_class),
            "agent": list(self.agent),
            "identity": list(self.identity),
            "compound": [list(c) for c in self.compound],
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> "Filter":
        """Build from a received filter; unknown keys are ignored as MCollective does.

        A filter of the wrong shape (not a hash, or a fact/compound part that is
        not a list) raises FilterSyntaxError: the daemon then treats the request
        as not for it, never as unfiltered.
        """
        if not isinstance(wire, dict):
            raise FilterSyntaxError(f"request filter is a {type(wire).__name__}, not a hash")
        for key in ("fact", "compound"):
            if wire.get(key) and not isinstance(wire.get(key), list):
                raise FilterSyntaxError(f"request filter '{key}' is a {type(wire.get(key)).__name__}, not a list")

        def strings(key: str) -> list[str]:
            values = wire.get(key) or []
            return [text(v) for v in values if isinstance(v, (str, bytes))] if isinstance(values, list) else []

        facts = []
        for entry in wire.get("fact") or []:
            if isinstance(entry, dict):
                facts.append(FactTerm(text(entry.get(FACT)), text(entry.get(VALUE)),
                                      text(entry.get(OPERATOR)) or "=="))
        classes = strings("cf_class") + strings("puppet_class")
        compound = [c for c in (wire.get("compound") or []) if isinstance(c, list)]
        return cls(facts, classes, strings("agent"), strings("identity"), compound)
