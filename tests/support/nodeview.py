"""A node as the filter matcher sees it (pymco.matcher.node.NodeView), for unit tests of pure logic."""

from __future__ import annotations

from typing import Any

from pymco.facts.base import lookup


class FakeNode:
    """Facts, classes and canned data-plugin answers (keyed `plugin(query)`) of an imaginary node."""

    identity = "node1"

    def __init__(self, facts: dict[str, Any] | None = None, classes: list[str] | None = None,
                 data: dict[str, dict[str, Any]] | None = None, identity: str = "node1") -> None:
        self.identity = identity
        self._facts = facts or {}
        self._classes = classes or []
        self._data = data or {}

    def agents(self) -> list[str]:
        return ["rpcutil", "package"]

    def classes(self) -> list[str]:
        return self._classes

    def fact(self, name: str) -> Any:
        return lookup(self._facts, name)

    def data(self, plugin: str, query: str | None) -> dict[str, Any] | None:
        return self._data.get(f"{plugin}({query or ''})")
