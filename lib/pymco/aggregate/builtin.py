"""MCollective's aggregate functions: summary, sum, average, boolean_summary."""

from __future__ import annotations

from typing import Any

from pymco.aggregate.base import AggregateFunction, ruby_format
from pymco.matcher.facts import ruby_string

__all__ = ["Summary", "Sum", "Average", "BooleanSummary"]


def _key(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return repr(value)
    return value


class Summary(AggregateFunction):
    """Counts of each distinct value (list values count per element)."""

    def __init__(self, output: str, options: dict[str, Any]) -> None:
        super().__init__(output, options)
        self.counts: dict[Any, int] = {}

    def process_result(self, value: Any, reply: Any) -> None:
        if value is None:
            return
        for item in value if isinstance(value, list) else [value]:
            key = _key(item)
            self.counts[key] = self.counts.get(key, 0) + 1

    def summarize(self) -> str:
        if not self.counts:
            return ""
        fmt = self.format
        if not fmt:
            width = max(len(ruby_string(k)) for k in self.counts)
            fmt = f"%{width}s = %s"
        ordered = sorted(self.counts.items(), key=lambda kv: (-kv[1], ruby_string(kv[0])))
        return "\n".join(ruby_format(fmt, ruby_string(k), n) for k, n in ordered)


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
            label = self.labels[bool(item)]
            self.counts[label] = self.counts.get(label, 0) + 1
