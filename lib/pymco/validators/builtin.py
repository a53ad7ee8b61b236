"""MCollective's input validators (`validation:` in a DDL input).

Each validator is a function `(value, argument) -> None` that raises
ValidatorError with MCollective's message.  `validate()` dispatches a DDL
`validation` value: a validator name, a regular expression, or a list of
allowed values; third-party validators register in the plugin table.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pymco.errors import PluginError, ValidatorError

__all__ = ["validate", "shellsafe", "ipv4address", "ipv6address", "regex", "length", "typecheck", "array",
           "check_type"]

_UNSAFE = ("`", "$", ";", "|", "&&", ">", "<")


def shellsafe(value: Any, _arg: Any = None) -> None:
    if not isinstance(value, str):
        raise ValidatorError("value should be a String")
    for chars in _UNSAFE:
        if chars in value:
            raise ValidatorError(f"value should not have {chars} in it")


def ipv4address(value: Any, _arg: Any = None) -> None:
    import ipaddress  # here: every mco and pymcod imports this module, few check an address

    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        raise ValidatorError("value should be an ipv4 address") from None


def ipv6address(value: Any, _arg: Any = None) -> None:
    import ipaddress

    try:
        ipaddress.IPv6Address(str(value))
    except ValueError:
        raise ValidatorError("value should be an ipv6 address") from None


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)


def regex(value: Any, pattern: Any) -> None:
    if not isinstance(value, str):
        raise ValidatorError("value should be a String")
    source = pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)
    if source.startswith("/") and source.endswith("/") and len(source) > 1:
        source = source[1:-1]
    try:
        compiled = _compiled(source)
    except re.error as exc:
        raise ValidatorError(f"invalid validation regex {source!r}: {exc}") from None
    if not compiled.search(value):
        raise ValidatorError(f"value should match {source}")


def length(value: Any, maximum: Any) -> None:
    limit = int(maximum or 0)
    if limit > 0 and len(str(value)) > limit:
        raise ValidatorError(f"Input string is longer than {limit} character(s)")


def check_type(value: Any, kind: str) -> bool:
    kind = kind.lower()
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, float)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("array", "list"):
        return isinstance(value, list)
    if kind == "hash":
        return isinstance(value, dict)
    return True


def typecheck(value: Any, kind: Any) -> None:
    if not check_type(value, str(kind)):
        raise ValidatorError(f"value should be a {kind}")


def array(value: Any, allowed: Any) -> None:
    if value not in list(allowed):
        raise ValidatorError("value should be one of " + ", ".join(str(a) for a in allowed))


_NAMED = {"shellsafe", "ipv4address", "ipv6address"}
_TYPES = {"string", "integer", "float", "number", "boolean", "hash", "array"}


def validate(value: Any, validation: Any) -> None:
    """Apply a DDL `validation` (name, regex or list) to `value`."""
    if validation is None or validation == "":
        return
    if isinstance(validation, list):
        array(value, validation)
        return
    if isinstance(validation, re.Pattern):
        regex(value, validation)
        return
    name = str(validation)
    if name in _TYPES:
        typecheck(value, name)
        return
    if name in _NAMED:
        globals()[name](value)
        return
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        from pymco import plugins

        try:
            plugin = plugins.resolve("validator", name)
        except PluginError:
            # Fail closed: a misspelt validator name must not let input through.
            raise ValidatorError(f"unknown validator '{name}'") from None
        plugin(value, None)
        return
    regex(value, name)
