"""`mco describe_filter`: what -F, -C and -S filters will test, in words, without sending anything."""

from __future__ import annotations

from pymco.cli.application import Application
from pymco.matcher.compound import describe

__all__ = ["DescribeFilter"]


class DescribeFilter(Application):
    name = "describe_filter"
    description = "Display human readable interpretation of filters"
    usage = ["mco describe_filter -S <filter> -F <filter> -C <filter>"]
    exclude_sections = ("common", "rpc")

    def main(self) -> int:
        flt = self.build_filter()
        if flt.fact:
            self.out("-F filter expands to the following fact comparisons:\n")
            for term in flt.fact:
                self.out(f"  Check if fact '{term.fact}' {term.operator} '{term.value}'")
            self.out()
        if flt.cf_class:
            self.out("-C filter expands to the following class checks:\n")
            for name in flt.cf_class:
                self.out(f"  Check if class '{name}' is present on the host")
            self.out()
        if flt.compound:
            self.out("-S Query expands to the following instructions:\n")
            for line in describe(flt.compound[0]):
                self.out(f"  {line}")
            self.out()
        return 0
