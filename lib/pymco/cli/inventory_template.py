"""`mco inventory --template FILE`: per-node reports from a jinja2 template, in place of Ruby's `--script`.

MCollective's inventory scripts were Ruby code run by `eval` on the client;
a template gives the same reports without running code: it is rendered in
jinja2's sandbox once per node, with the variables of MCollective's
inventory DSL (`identity`, `facts`, `classes`, `agents`, `collectives`, plus
`data_plugins`, `main_collective`, `time`, and `index`/`total` for
headings).  Values print as Ruby printed them (`{{ facts.os }}` gives
`{"family"=>"Debian"}`, a missing fact prints nothing, as Ruby's nil), and
`"%-20s %s"|format(identity, facts.role)` is Ruby's `format`/`fields` pair.
docs/inventory.md ports Ruby scripts.
"""

from __future__ import annotations

import time
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from pymco.errors import ClientError
from pymco.matcher.facts import to_number
from pymco.rubytext import inspect, to_s

__all__ = ["InventoryTemplate"]


def _plain(value: Any) -> Any:
    """What Ruby's `%` would get: numbers stay numbers (for %d, %f), everything else its to_s."""
    if isinstance(value, jinja2.Undefined):
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return to_s(value)


def _inspect(value: Any) -> str:
    return "nil" if isinstance(value, jinja2.Undefined) else inspect(value)


def _format(fmt: str, *values: Any) -> str:
    """Ruby's `format % fields`: as Ruby, `%d` takes a number written as a string ("3", from a YAML fact)."""
    plain = tuple(_plain(v) for v in values)
    try:
        return str(fmt) % plain
    except (TypeError, ValueError):
        pass
    numeric = tuple(n if isinstance(v, str) and (n := to_number(v)) is not None else v for v in plain)
    try:
        return str(fmt) % numeric
    except (TypeError, ValueError) as exc:
        raise ClientError(f"the template's format {fmt!r} does not fit its values: {exc}") from None


class InventoryTemplate:
    """A template file, compiled once, rendered per node."""

    def __init__(self, path: str) -> None:
        env = SandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False, trim_blocks=True,
                                   lstrip_blocks=True, keep_trailing_newline=True, finalize=_plain)
        env.filters["format"] = _format
        env.filters["inspect"] = _inspect
        env.filters["to_s"] = lambda value: "" if isinstance(value, jinja2.Undefined) else to_s(value)
        try:
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
        except OSError as exc:
            raise ClientError(f"Could not read the inventory template {path}: {exc.strerror}") from None
        try:
            self.template = env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ClientError(f"{path}:{exc.lineno}: {exc.message}") from None
        self.path = path
        self.time = time.strftime("%Y-%m-%d %H:%M:%S %z")

    def render(self, sender: str, data: dict[str, Any], index: int = 0, total: int = 1) -> str:
        """One node's report; `index` (from 0) and `total` let a template print a heading once, or a footer."""
        context = {"index": index, "total": total, "identity": sender, "facts": data.get("facts") or {},
                   "classes": data.get("classes") or [], "agents": data.get("agents") or [],
                   "collectives": data.get("collectives") or [],
                   "data_plugins": data.get("data_plugins") or [], "main_collective": data.get("main_collective"),
                   "time": self.time}
        try:
            return self.template.render(context)
        except jinja2.exceptions.SecurityError as exc:
            raise ClientError(f"{self.path}: not allowed in an inventory template: {exc}") from None
        except (jinja2.TemplateError, TypeError, ValueError, LookupError, ArithmeticError) as exc:
            raise ClientError(f"{self.path}: {exc}") from None
