"""The fact source contract: a node's facts as one nested mapping.

Facts keep their types (Facter's integers, booleans, lists and hashes) and are
reached by dotted names (`os.release.major`).  A source loads its raw facts
in `load()`; the base class caches them, reloads when `changed()` says so at
most once per `check_interval`, and keeps the last good facts when a reload
fails, so a broken facts file never empties a node's facts.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from pymco.config import Config
from pymco.errors import FactsError

log = logging.getLogger(__name__)

__all__ = ["FactSource", "lookup", "MISSING"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def lookup(facts: dict[str, Any], name: str) -> Any:
    """Value of fact `name`, reaching into hashes and lists by dotted path."""
    if name in facts:
        return facts[name]
    value: Any = facts
    for part in name.split("."):
        if isinstance(value, dict):
            if part in value:
                value = value[part]
                continue
            return MISSING
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
            continue
        return MISSING
    return value


class FactSource(ABC):
    check_interval = 1.0

    def __init__(self, config: Config) -> None:
        self.config = config
        self._facts: dict[str, Any] = {}
        self._loaded = False
        self._checked = 0.0
        self._lock = threading.Lock()

    @abstractmethod
    def load(self) -> dict[str, Any]:
        """Read the facts from their origin; raise FactsError if they cannot be read."""

    def changed(self) -> bool:
        """Whether the origin changed since the last load (default: never)."""
        return False

    def facts(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._loaded and now - self._checked < self.check_interval:
            return self._facts
        with self._lock:
            self._checked = now
            if not self._loaded or self.changed():
                try:
                    self._facts = self.load()
                except FactsError as exc:
                    log.error("could not load facts, keeping the last good ones: %s", exc)
                self._loaded = True
        return self._facts

    def get(self, name: str) -> Any:
        """The fact's value, or MISSING."""
        return lookup(self.facts(), name)
