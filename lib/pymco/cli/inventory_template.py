"""`mco inventory --template FILE`: per-node reports from a jinja2 template, in place of Ruby's `--script`.

MCollective's inventory scripts were Ruby code run by `eval` on the client;
a template gives the same reports without running code: it is rendered in
jinja2's sandbox once per node, with the variables of MCollective's
inventory DSL (`identity`, `facts`, `classes`, `agents`, `collectives`, plus
`data_plugins`, `main_collective` and `time`).  Values print as Ruby printed
them (`{{ facts.os }}` gives `{"family"=>"Debian"}`, a missing fact prints
nothing, as Ruby's nil), and `"%-20s %s"|format(identity, facts.role)` is
Ruby's `format`/`fields` pair.  docs/inventory.md ports a Ruby script.
"""

from __future__ import annotations

import time
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from pymco.errors import ClientError
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
    try:
        return str(fmt) % tuple(_plain(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ClientError(f"the template's format {fmt!r} does not fit its values: {exc}") from None


class InventoryTemplate:
    """A template file, compiled once, rendered per node."""

    def __init__(self, path: str) -> None:
        env = SandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False, trim_blocks=True,
                                   lstrip_blocks=True, finalize=_plain)
        env.filters["format"] = _format
        env.filters["inspect"] = _inspect
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

    def render(self, sender: str, data: dict[str, Any]) -> str:
        context = {"identity": sender, "facts": data.get("facts") or {}, "classes": data.get("classes") or [],
                   "agents": data.get("agents") or [], "collectives": data.get("collectives") or [],
                   "data_plugins": data.get("data_plugins") or [], "main_collective": data.get("main_collective"),
                   "time": self.time}
        try:
            return self.template.render(context)
        except jinja2.exceptions.SecurityError as exc:
            raise ClientError(f"{self.path}: not allowed in an inventory template: {exc}") from None
        except jinja2.TemplateError as exc:
            raise ClientError(f"{self.path}: {exc}") from None
