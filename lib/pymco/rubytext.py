"""Values as Ruby MCollective prints them: `inspect` and `to_s` of reply data.

Operators read fact values, aggregate summaries, inventories and audit lines
in the form Ruby 2.12.5 printed them (`{"family"=>"Debian"}`, `[1, "a", true]`,
`nil`); scripts grep for that text.  Python's repr (`{'family': 'Debian'}`)
must never reach them.  `inspect` escapes control characters as Ruby does
(ESC is `\\e`), and `to_s` strips terminal escapes from bare strings, so a node
cannot paint the operator's terminal.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pymco.protocol.marshal import Symbol

__all__ = ["clean", "inspect", "key_inspect", "to_s", "ruby_float", "escape_char"]

_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b")
_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*[?!]?$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\x07": "\\a",
            "\b": "\\b", "\f": "\\f", "\v": "\\v"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f\u0080-\u009f\u2028\u2029]|#(?=[{$@])')


def clean(text: str) -> str:
    """Text without terminal escape sequences."""
    return _ESC.sub("", text)


def escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    if char == "#":
        return "\\#"
    if char in _ESCAPES:
        return _ESCAPES[char]
    return f"\\u{ord(char):04X}" if ord(char) > 0x7f else f"\\x{ord(char):02X}"


def _string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(escape_char, text) + '"'


def _bytes(raw: bytes) -> str:
    try:
        return _string(raw.decode("utf-8"))
    except UnicodeDecodeError:
        out = []
        for b in raw:
            ch = chr(b)
            if b >= 0x80:
                out.append(f"\\x{b:02X}")
            elif _NEEDS_ESCAPE.match(ch) and ch != "#":
                out.append(escape_char(_NEEDS_ESCAPE.match(ch)))  # type: ignore[arg-type]
            else:
                out.append(ch)
        return '"' + "".join(out).replace("#{", "\\#{") + '"'


def ruby_float(value: float) -> str:
    """Ruby's Float#to_s: `1.0e+20`, `NaN`, `Infinity`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}e{exponent}"
    return text


def key_inspect(key: Any, symbol: bool = False, depth: int = 0) -> str:
    """A hash key: `:name` for a Symbol (or any str key when `symbol`), else its inspect."""
    if isinstance(key, Symbol) or (symbol and isinstance(key, str)):
        return ":" + key if _SYMBOL.match(key) else ":" + _string(key)
    return inspect(key, depth=depth + 1)


def inspect(value: Any, symbol_keys: bool = False, depth: int = 0) -> str:
    """Ruby 3.1's one-line `inspect` of Marshal-shaped data.

    `symbol_keys` prints every key of the outer hash as a Symbol (reply and
    request data keys are Symbols on the wire, plain str here).
    """
    if depth > 64:
        return "..."
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ruby_float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (bytes, bytearray)):
        return _bytes(bytes(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inspect(v, depth=depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key_inspect(k, symbol_keys, depth)}=>{inspect(v, depth=depth + 1)}"
                               for k, v in value.items()) + "}"
    return _string(str(value))


def to_s(value: Any) -> str:
    """Ruby's `to_s` (what `"#{value}"` and `"%s" % value` print): strings bare, nil empty, hashes inspected."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, (bool, int, float, list, tuple, dict, bytes, bytearray)):
        return inspect(value)
    return clean(str(value))
