"""One fact term of a filter (`-F`, `-W`): its parsing and its wire form.

Shared by the filter object and the compound (`-S`) parser, which both read
`fact<op>value` statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pymco.errors import FilterSyntaxError
from pymco.protocol.marshal import Symbol

__all__ = ["FactTerm", "parse_fact_filter", "FACT", "VALUE", "OPERATOR"]

FACT, VALUE, OPERATOR = Symbol("fact"), Symbol("value"), Symbol("operator")


@dataclass(frozen=True)
class FactTerm:
    fact: str
    value: str
    operator: str

    def to_wire(self) -> dict[Symbol, str]:
        return {FACT: self.fact, VALUE: self.value, OPERATOR: self.operator}


_FACT_PATTERNS = (
    (re.compile(r"^([^ ]+?)[ ]*=>[ ]*(.+)$"), ">="),
    (re.compile(r"^([^ ]+?)[ ]*=<[ ]*(.+)$"), "<="),
)
_FACT_OPERATOR = re.compile(r"^([^ ]+?)[ ]*(<=|>=|<|>|!=|==|=~)[ ]*(.+)$")
_FACT_REGEX = re.compile(r"^(.+?)[ ]*=[ ]*/(.+)/$")
_FACT_EQUALS = re.compile(r"^([^= ]+?)[ ]*=[ ]*(.+)$")
_FACT_NAME = re.compile(r"^[\w.\-:/]+$")


def parse_fact_filter(spec: str) -> FactTerm:
    """Parse `fact<op>value` as MCollective's parse_fact_string does, but strictly.

    MCollective accepts some nonsense (`os.family~~x` becomes a fact named
    'os.family~~x'); pymco refuses fact names that are not names.
    """
    spec = spec.strip()
    term: FactTerm | None = None
    for pattern, operator in _FACT_PATTERNS:
        m = pattern.match(spec)
        if m:
            term = FactTerm(m.group(1), m.group(2), operator)
            break
    if term is None:
        m = _FACT_OPERATOR.match(spec)
        if m:
            term = FactTerm(m.group(1), m.group(3), m.group(2))
    if term is None:
        m = _FACT_REGEX.match(spec)
        if m:
            term = FactTerm(m.group(1), f"/{m.group(2)}/", "=~")
    if term is None:
        m = _FACT_EQUALS.match(spec)
        if m:
            term = FactTerm(m.group(1), m.group(2), "==")
    if term is None or not _FACT_NAME.match(term.fact):
        raise FilterSyntaxError(f"Could not parse fact {spec} it does not appear to be in a valid format")
    if term.operator == "=~":
        pattern = term.value[1:-1] if term.value.startswith("/") and term.value.endswith("/") else term.value
        try:
            re.compile(pattern)
        except re.error as exc:
            raise FilterSyntaxError(f"invalid regular expression in fact filter {spec!r}: {exc}") from None
    return term
