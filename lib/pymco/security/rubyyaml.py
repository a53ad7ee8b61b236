"""YAML as Ruby's Psych writes and safe-loads it, for the `ssl` provider's YAML serializer.

MCollective's ssl plugin (`plugin.ssl_serializer = yaml`) dumps messages with
`YAML.dump` and reads them with `YAML.safe_load(msg, [Symbol, Regexp])`.  Psych
writes a Symbol as a plain scalar `:name` (or tagged `!ruby/symbol`/`!ruby/sym`),
a binary String as `!binary` base64 and a Regexp as `!ruby/regexp /src/`.

Loading uses PyYAML's pure-Python SafeLoader (never an unsafe Loader) with only
those tags added; any other tag (`!ruby/object:...` and friends) is refused, as
are aliases (Psych's safe_load refuses them too, and they are the way to build
a billion-laughs document) and documents nested deeper than `max_depth`.
Dumping writes what Psych's safe_load reads back with the same types: Symbols
tagged, and every string that Psych could read as something else (a symbol, a
number, a boolean, a date) quoted.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import yaml

from pymco.errors import DecodeError
from pymco.protocol.marshal import Symbol

__all__ = ["loads", "dumps"]

_SYMBOL_TAG = "tag:pymco,2024:ruby-symbol"
_PLAIN_SYMBOL = re.compile(r"^:.")


class _Loader(yaml.SafeLoader):
    """SafeLoader + Psych's symbols, binary strings and regexps; no aliases; depth-bounded."""

    max_depth = 64

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            raise DecodeError("YAML aliases are not accepted in messages")
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise DecodeError(f"YAML message nested deeper than {self.max_depth} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# Psych reads plain dates/times as Date/Time, which safe_load refuses; keep them strings.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_SYMBOL_TAG, _PLAIN_SYMBOL, [":"])


def _plain_symbol(loader: _Loader, node: yaml.ScalarNode) -> Symbol:
    name = node.value[1:]
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1]
    return Symbol(name)


def _tagged_symbol(loader: _Loader, node: yaml.Node) -> Symbol:
    if not isinstance(node, yaml.ScalarNode):
        raise DecodeError("a !ruby/symbol in a message is not a scalar")
    return Symbol(node.value)


def _binary(loader: _Loader, node: yaml.Node) -> bytes:
    if not isinstance(node, yaml.ScalarNode):
        raise DecodeError("a !binary value in a message is not a scalar")
    try:
        return base64.b64decode("".join(node.value.split()), validate=True)
    except ValueError:
        raise DecodeError("a !binary value in a message is not base64") from None


def _regexp(loader: _Loader, node: yaml.Node) -> str:
    """Kept as MCollective's '/source/' filter text; never compiled here."""
    if not isinstance(node, yaml.ScalarNode):
        raise DecodeError("a !ruby/regexp in a message is not a scalar")
    value = node.value
    end = value.rfind("/")
    return value[: end + 1] if value.startswith("/") and end > 0 else value


_Loader.add_constructor(_SYMBOL_TAG, _plain_symbol)
_Loader.add_constructor("!ruby/symbol", _tagged_symbol)
_Loader.add_constructor("!ruby/sym", _tagged_symbol)
_Loader.add_constructor("!binary", _binary)
_Loader.add_constructor("!ruby/regexp", _regexp)


def loads(text: str | bytes, max_depth: int = 64) -> Any:
    """Safe-load one YAML document as Psych's `safe_load(doc, [Symbol, Regexp])` would.

    Raises DecodeError for malformed YAML, unknown tags, aliases or excess nesting.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("YAML message is not UTF-8") from None
    try:
        loader = _Loader(text)  # the reader refuses unprintable characters already here
    except yaml.YAMLError as exc:
        raise DecodeError(f"invalid YAML message: {str(exc).splitlines()[0]}") from None
    loader.max_depth = max_depth
    try:
        return loader.get_single_data()
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("YAML message is nested too deeply") from None
    except (yaml.YAMLError, ValueError, OverflowError) as exc:  # "\U99999999" overflows chr() in the scanner
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DecodeError(f"invalid YAML message: {reason}") from None
    finally:
        loader.dispose()


# ---------------------------------------------------------------- dumping

_SAFE_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@=+ -]*$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nil"}


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        """Never write anchors: Psych's safe_load refuses aliases."""
        return True


def _represent_str(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    plain = bool(_SAFE_PLAIN.match(value)) and value.lower() not in _YAML11_WORDS \
        and not value.endswith(" ") and ": " not in value and " #" not in value
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _represent_symbol(dumper: _Dumper, value: Symbol) -> yaml.ScalarNode:
    return dumper.represent_scalar("!ruby/symbol", str.__str__(value), style=None if _SAFE_PLAIN.match(value)
                                   and value.lower() not in _YAML11_WORDS else '"')


def _represent_bytes(dumper: _Dumper, value: bytes) -> yaml.ScalarNode:
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError:
        return dumper.represent_scalar("!binary", base64.b64encode(value).decode("ascii"))
    return _represent_str(dumper, decoded)


def _represent_pattern(dumper: _Dumper, value: "re.Pattern[str]") -> yaml.ScalarNode:
    return dumper.represent_scalar("!ruby/regexp", f"/{value.pattern}/")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Symbol, _represent_symbol)
_Dumper.add_representer(bytes, _represent_bytes)
_Dumper.add_representer(re.Pattern, _represent_pattern)


def dumps(value: Any) -> str:
    """YAML that Ruby's `YAML.safe_load(doc, [Symbol, Regexp])` reads back with the same types."""
    try:
        return yaml.dump(value, Dumper=_Dumper, default_flow_style=False, allow_unicode=True,
                         explicit_start=True, sort_keys=False)
    except yaml.representer.RepresenterError as exc:
        raise DecodeError(f"cannot write {type(exc.args[1]).__name__ if len(exc.args) > 1 else 'a value'} "
                          "as YAML for the ssl serializer") from None
