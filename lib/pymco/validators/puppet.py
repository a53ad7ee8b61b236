"""Validators of MCollective's puppet agent: variables, tags, server addresses, resources.

They keep the plugin's rules and messages, including Ruby's `String#split`
(trailing empty fields dropped, and "" splitting to nothing): "a," and ",a"
are valid tag lists, "::a" is not.
`parse_server` splits "host", "host:port", "v6addr" and "[v6addr]:port" the
way the agent does before handing them to `--server`/`--masterport`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pymco.errors import ValidatorError
from pymco.validators.builtin import shellsafe

__all__ = ["puppet_variable", "puppet_tags", "puppet_server_address", "puppet_resource", "parse_server",
           "valid_name", "ruby_split"]

_LETTER = re.compile(r"[a-zA-Z]")
_WORD = re.compile(r"[a-zA-Z0-9_]+")
_HOSTNAME = re.compile(r"(([a-zA-Z]|[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
                       r"([A-Za-z]|[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9])")
_BRACKETED_V6 = re.compile(r"\[[a-fA-F0-9:.]*\](:\d*)?")
_RESOURCE = re.compile(r"[a-zA-Z0-9_]+\[.+\]", re.DOTALL)


def ruby_split(text: str, sep: str) -> list[str]:
    """Ruby's String#split(sep): like str.split, minus trailing empty fields."""
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def valid_name(name: str) -> bool:
    """A single letter, or letters, digits and underscores (Puppet's names)."""
    pattern = _LETTER if len(name) == 1 else _WORD
    return bool(pattern.fullmatch(name))


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidatorError("value should be a string")
    shellsafe(value)
    return value


def puppet_variable(value: Any, _arg: Any = None) -> None:
    if not valid_name(_string(value)):
        raise ValidatorError(f"Invalid variable name '{value}' specified")


def puppet_tags(value: Any, _arg: Any = None) -> None:
    for tag in ruby_split(_string(value), ","):
        for part in ruby_split(tag, "::"):
            puppet_variable(part)


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text or text.isdigit():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_server(server: str | None) -> tuple[str | None, str | None]:
    """(name, port) of "host", "host:port", an IPv6 address or "[v6]:port"."""
    if server is None:
        return None, None
    address = _ip(server)
    if address is not None and address.version == 6:
        return server, None
    if _BRACKETED_V6.match(server):
        name, _, rest = server[1:].partition("]")
        return name, (rest[1:] if rest else None)
    if server.count(":") == 1:
        name, _, port = server.partition(":")
        return name, port
    return server, None


def puppet_server_address(value: Any, _arg: Any = None) -> None:
    name, port = parse_server(_string(value))
    if name is not None and _ip(name) is None and not _HOSTNAME.fullmatch(name):
        raise ValidatorError(f"The hostname '{name}' is not a valid hostname")
    if port is not None and not port.isdigit():
        raise ValidatorError(f"The port '{port}' is not a valid puppet master port")


def puppet_resource(value: Any, _arg: Any = None) -> None:
    if not isinstance(value, str):
        raise ValidatorError("value should be a string")
    if not _RESOURCE.fullmatch(value):
        raise ValidatorError(f"'{value}' is not a valid resource name")


_VARIABLE_RE = r"(?:[a-zA-Z]|[a-zA-Z0-9_]{2,})"
_TAG_RE = rf"{_VARIABLE_RE}(?:::{_VARIABLE_RE})*"
puppet_variable.ruby_regex = rf"\A{_VARIABLE_RE}\z"  # type: ignore[attr-defined]
puppet_tags.ruby_regex = rf"\A{_TAG_RE}(?:,{_TAG_RE})*\z"  # type: ignore[attr-defined]
puppet_server_address.ruby_regex = (  # type: ignore[attr-defined]
    r"\A(?:\[[0-9a-fA-F:.]*\](?::\d+)?|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*|[A-Za-z0-9.\-]+(?::\d+)?)\z")
puppet_resource.ruby_regex = r"\A[a-zA-Z0-9_]+\[.+\]\z"  # type: ignore[attr-defined]
