"""How the matcher sees a node, and how a name term selects a name.

Apart from pymco.matcher.node so the compound evaluator can use them
without importing the matcher that calls it.
"""

from __future__ import annotations

from typing import Any, Protocol

from pymco.matcher.facts import compile_regex

__all__ = ["NodeView", "name_matches"]


class NodeView(Protocol):
    identity: str

    def agents(self) -> list[str]: ...

    def classes(self) -> list[str]: ...

    def fact(self, name: str) -> Any: ...

    def data(self, plugin: str, query: str | None) -> dict[str, Any] | None: ...


def name_matches(pattern: str, name: str) -> bool:
    """Exact name, or `/regex/` searched in it."""
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        regex = compile_regex(pattern)
        return bool(regex and regex.search(name))
    return pattern == name
