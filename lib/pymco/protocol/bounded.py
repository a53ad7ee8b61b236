"""JSON decoding with the same limits the Marshal reader enforces: size and nesting depth.

Python's json module has neither: a long input is read whole, and nesting is
limited only by the interpreter's recursion limit, so a document a few
kilobytes long can still be deep enough to make later code (the Marshal
encoder writing a reply, the renderers) fail with RecursionError far from the
input.  Everything pymco decodes from JSON that another party wrote goes
through `json_loads`; the YAML reader of the ssl provider has its own limits
(pymco.security.rubyyaml).
"""

from __future__ import annotations

import json
from typing import Any

from pymco.errors import DecodeError
from pymco.protocol.marshal import DEFAULT_MAX_DEPTH

__all__ = ["json_loads", "check_depth", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 2 * 1024 * 1024  # the default max_message_size


def check_depth(value: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """DecodeError if lists/dicts nest deeper than `max_depth` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= max_depth:
            raise DecodeError(f"JSON nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in children)


def json_loads(text: str | bytes, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Decode one JSON document no larger than `max_bytes` and no deeper than `max_depth`."""
    if len(text) > max_bytes:
        raise DecodeError(f"JSON document of {len(text)} bytes is larger than the {max_bytes} byte limit")
    try:
        value = json.loads(text)
    except RecursionError:
        raise DecodeError(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, TypeError) as exc:
        raise DecodeError(f"invalid JSON: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    check_depth(value, max_depth)
    return value
