"""The aggregate function contract and the runner the client uses.

A DDL action lists aggregates (`{function: summary, args: [output, {format: ...}]}`).
The client feeds every reply's value of that output to the function and
prints what `summarize()` returns under "Summary of <display_as>:".  A
function that fails is reported, not fatal, as in MCollective.
"""

from __future__ import annotations

import logging
from typing import Any

from pymco import plugins
from pymco.ddl.model import ActionSpec
from pymco.errors import PluginError

log = logging.getLogger(__name__)

__all__ = ["AggregateFunction", "Aggregator", "ruby_format"]


def ruby_format(fmt: str, *values: Any) -> str:
    """Ruby's format() for the %s/%d/%f directives DDLs use."""
    converted = []
    for value in values:
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif value is None:
            value = ""
        converted.append(value)
    try:
        return fmt % tuple(converted)
    except (TypeError, ValueError):
        return fmt % tuple(str(v) for v in converted)


class AggregateFunction:
    """Base class: process_result() for each reply, summarize() once."""

    default_format: str | None = None

    def __init__(self, output: str, options: dict[str, Any]) -> None:
        self.output = output
        self.options = options
        self.format = options.get("format") or self.default_format

    def process_result(self, value: Any, reply: Any) -> None:
        raise NotImplementedError

    def summarize(self) -> str:
        """The lines to print (without indentation); '' if nothing to say."""
        raise NotImplementedError


class Aggregator:
    """Runs an action's aggregates over replies and renders the summary block."""

    def __init__(self, spec: ActionSpec) -> None:
        self.spec = spec
        self.functions: list[AggregateFunction] = []
        self.failures: list[tuple[str, str]] = []
        for agg in spec.aggregates:
            try:
                cls = plugins.resolve("aggregate", agg.function)
                self.functions.append(cls(agg.output, dict(agg.options)))
            except PluginError as exc:
                log.error("aggregate %s(%s): %s", agg.function, agg.output, exc)
                self.failures.append((agg.output, "startup"))
            except Exception as exc:  # noqa: BLE001 - third-party aggregate plugins
                log.error("aggregate %s(%s) failed to start: %s", agg.function, agg.output, exc)
                self.failures.append((agg.output, "startup"))

    def process(self, data: dict[str, Any], reply: Any = None) -> None:
        for function in list(self.functions):
            try:
                function.process_result(data.get(function.output), reply)
            except Exception as exc:  # noqa: BLE001 - a bad value disables only this summary
                log.error("Could not process aggregate function for '%s': %s", function.output, exc)
                self.functions.remove(function)
                self.failures.append((function.output, "process_result"))

    def results(self) -> list[tuple[str, str]]:
        """(display_as, text) per function, by output name as Ruby sorts them; text '' means nothing computed."""
        out = []
        for function in sorted(self.functions, key=lambda f: f.output):
            try:
                text = function.summarize()
            except Exception as exc:  # noqa: BLE001
                log.error("Could not summarize '%s': %s", function.output, exc)
                self.failures.append((function.output, "summarize"))
                continue
            out.append((self.spec.display_as(function.output), text))
        return out
