"""Values as Ruby MCollective prints them: `inspect` and `to_s` of reply data.

Operators read fact values, aggregate summaries and inventories in the form
Ruby 2.12.5 printed them (`{"family"=>"Debian"}`, `[1, "a", true]`, `nil`);
scripts grep for that text.  Python's repr (`{'family': 'Debian'}`) must never
reach the terminal.  ESC bytes from node data are stripped here, so a node
cannot paint the operator's terminal.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["clean", "inspect", "to_s"]

_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b")


def clean(text: str) -> str:
    return _ESC.sub("", text)


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"
    return text


def inspect(value: Any, symbol_keys: bool = False) -> str:
    """Ruby 3.1's one-line `inspect`; `symbol_keys` prints the outer hash's keys as `:key` (reply data)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(clean(value), ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inspect(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key_inspect(k, symbol_keys)}=>{inspect(v)}" for k, v in value.items()) + "}"
    return clean(str(value))


def key_inspect(key: Any, symbol: bool = False) -> str:
    if symbol and isinstance(key, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*[?!]?", key):
        return ":" + key
    return inspect(key)


def to_s(value: Any) -> str:
    """Ruby's `to_s` (what `"#{value}"` and `"%s" % value` print): strings bare, nil empty, hashes inspected."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, (bool, int, float, list, tuple, dict)):
        return inspect(value)
    return clean(str(value))
