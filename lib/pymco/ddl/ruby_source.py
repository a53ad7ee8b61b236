"""Ruby source for the values of a DDL: literals and input validations.

Jinja filters of the templates that write Ruby DDLs (lib/pymco/templating.py),
kept apart from the exporter so the templating layer does not import it back.
"""

from __future__ import annotations

import re
from typing import Any

from pymco import plugins
from pymco.ddl.model import InputSpec
from pymco.errors import DDLError, PluginError
from pymco.rubytext import inspect

__all__ = ["ruby_string", "ruby_literal", "ruby_validation"]

_RUBY_VALIDATORS = {"shellsafe", "ipv4address", "ipv6address"}
_TYPE_NAMES = {"string", "integer", "float", "number", "boolean"}


def ruby_string(text: str) -> str:
    """A double-quoted Ruby literal (no interpolation)."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("#", "\\#")
               .replace("\n", "\\n").replace("\t", "\\t"))
    return f'"{escaped}"'


def ruby_literal(value: Any) -> str:
    """Python data as Ruby source; mapping keys become symbols."""
    if value is None or isinstance(value, (bool, int, float)):
        return inspect(value)
    if isinstance(value, str):
        return ruby_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(ruby_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f":{_symbol(k)} => {ruby_literal(v)}" for k, v in value.items()) + "}"
    raise DDLError(f"cannot write {type(value).__name__} value {value!r} as Ruby")


def _symbol(key: Any) -> str:
    name = str(key)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise DDLError(f"cannot write {name!r} as a Ruby symbol")
    return name


def _single_quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ruby_validation(spec: InputSpec) -> str:
    """The `:validation` a Ruby client can apply for this input."""
    validation = spec.validation
    if validation is None or validation == "":
        return _single_quoted(".*")
    if isinstance(validation, list):
        return ruby_literal(validation)
    name = str(validation)
    if name in _RUBY_VALIDATORS or name in _TYPE_NAMES:
        return f":{name}"
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        try:
            validator = plugins.resolve("validator", name)
        except PluginError as exc:
            raise DDLError(f"input {spec.name}: {exc}") from None
        pattern = getattr(validator, "ruby_regex", None)
        if pattern is None:
            raise DDLError(f"input {spec.name}: validator '{name}' has no Ruby equivalent (ruby_regex)")
        return _single_quoted(pattern)
    return _single_quoted(name)
