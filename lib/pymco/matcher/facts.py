"""Comparing a fact's value with a filter term (`-F`, `-W`, `-S` statements).

MCollective compares strings; pymco keeps Facter's types, so the rules are:
numbers compare as numbers when both sides are numeric, booleans compare as
`true`/`false`, a list fact matches when any element matches, a hash fact
when any key matches (as MCollective), and a missing fact never matches.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pymco.facts.base import MISSING

__all__ = ["fact_matches", "ruby_string", "to_number", "compile_regex"]

_NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$")


def ruby_string(value: Any) -> str:
    """A value as Ruby's to_s would print a scalar."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def to_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str) and _NUMBER.match(value):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return float(text)
    return None


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str] | None:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        pattern = pattern[1:-1]
    try:
        return re.compile(pattern, re.MULTILINE)
    except re.error:
        return None


def _scalar_matches(actual: Any, operator: str, wanted: str) -> bool:
    if operator == "=~":
        regex = compile_regex(wanted)
        return bool(regex and regex.search(ruby_string(actual)))
    if operator in ("==", "="):
        return _equal(actual, wanted)
    if operator == "!=":
        return not _equal(actual, wanted)
    left, right = to_number(actual), to_number(wanted)
    if left is None or right is None:
        if isinstance(actual, bool):
            return False
        left, right = ruby_string(actual), wanted  # type: ignore[assignment]
    if operator == "<":
        return left < right  # type: ignore[operator]
    if operator == ">":
        return left > right  # type: ignore[operator]
    if operator == "<=":
        return left <= right  # type: ignore[operator]
    if operator == ">=":
        return left >= right  # type: ignore[operator]
    return False


def _equal(actual: Any, wanted: str) -> bool:
    if ruby_string(actual) == wanted:
        return True
    left, right = to_number(actual), to_number(wanted)
    return left is not None and right is not None and left == right


def fact_matches(actual: Any, operator: str, wanted: str) -> bool:
    if actual is MISSING:
        return False
    if isinstance(actual, list):
        return any(_scalar_matches(v, operator, wanted) for v in actual)
    if isinstance(actual, dict):
        return any(_scalar_matches(k, operator, wanted) for k in actual)
    return _scalar_matches(actual, operator, wanted)
