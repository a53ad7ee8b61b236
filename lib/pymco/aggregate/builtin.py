"""MCollective's aggregate functions: summary, sum, average, boolean_summary."""

from __future__ import annotations

import json
from typing import Any

from pymco.aggregate.base import AggregateFunction, ruby_format
from pymco.rubytext import to_s

__all__ = ["Summary", "Sum", "Average", "BooleanSummary"]


def _key(value: Any) -> tuple[str, str]:
    """Equal as Ruby's Hash keys are: 1, 1.0, true and "1" stay apart; hashes equal whatever their key order."""
    return type(value).__name__, json.dumps(value, sort_keys=True, default=str)


def _ruby_length(value: Any) -> int:
    """Ruby's `k.length` when it has one (a Hash's is its size), else the length of `k.to_s`."""
    if isinstance(value, (str, list, dict)):
        return len(value)
    return len(to_s(value))


class Summary(AggregateFunction):
    """Counts of each distinct value (list values count per element), printed as Ruby's summary does."""

    def __init__(self, output: str, options: dict[str, Any]) -> None:
        super().__init__(output, options)
        self.counts: dict[Any, int] = {}
        self.values: dict[Any, Any] = {}

    def process_result(self, value: Any, reply: Any) -> None:
        if value is None:
            return
        for item in value if isinstance(value, list) else [value]:
            self.add(item)

    def add(self, item: Any) -> None:
        key = _key(item)
        self.values.setdefault(key, item)
        self.counts[key] = self.counts.get(key, 0) + 1

    def summarize(self) -> str:
        if not self.counts:
            return ""
        fmt = self.format
        if not fmt:
            width = max(_ruby_length(v) for v in self.values.values())
            fmt = f"%{width}s = %s"
        # Ruby: sort by count ascending, then reverse: most frequent first, ties latest-seen first
        ordered = sorted(self.counts.items(), key=lambda kv: kv[1])[::-1]
        return "\n".join(ruby_format(fmt, to_s(self.values[k]), n) for k, n in ordered)


class Sum(AggregateFunction):
    def __init__(self, output: str, options: dict[str, Any]) -> None:
        super().__init__(output, options)
        self.total: float = 0
        self.format = self.format or f"Sum of {output}: %f"

    def process_result(self, value: Any, reply: Any) -> None:
        if value is None:
            return
        self.total += value

    def summarize(self) -> str:
        return ruby_format(self.format, self.total)


class Average(AggregateFunction):
    def __init__(self, output: str, options: dict[str, Any]) -> None:
        super().__init__(output, options)
        self.total: float = 0
        self.count = 0
        self.format = self.format or f"Average of {output}: %f"

    def process_result(self, value: Any, reply: Any) -> None:
        if value is None:
            return
        self.total += value
        self.count += 1

    def summarize(self) -> str:
        if not self.count:
            return ""
        return ruby_format(self.format, self.total / self.count)


class BooleanSummary(Summary):
    """Counts of true/false under configurable labels (the puppet agent's aggregate)."""

    def __init__(self, output: str, options: dict[str, Any]) -> None:
        super().__init__(output, options)
        self.labels = {True: str(options.get("true", "True")), False: str(options.get("false", "False"))}
        self.format = self.format or "%5s = %s"

    def process_result(self, value: Any, reply: Any) -> None:
        if value is None:
            return
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                item = item.strip().lower() in ("true", "yes", "1")
            self.add(self.labels[bool(item)])
