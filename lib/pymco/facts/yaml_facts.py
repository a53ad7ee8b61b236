"""Facts from YAML files (`factsource = yaml`), e.g. `facter --yaml` output.

`plugin.yaml` lists the files, separated by ':'; they are deep-merged in
order, later files winning, so a small override file can change one nested
fact of Facter's output.  Each file is re-read when its mtime, size or inode
changes; a file that stops parsing keeps its last good content (logged).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pymco.config import Config
from pymco.errors import FactsError
from pymco.facts.base import FactSource
from pymco.yamlcache import YAMLError, load_yaml_file

log = logging.getLogger(__name__)

__all__ = ["YamlFacts", "deep_merge", "load_yaml_mapping"]


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_yaml_mapping(path: str) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping with string keys."""
    try:
        data = load_yaml_file(path)
    except OSError as exc:
        raise FactsError(f"cannot read {path}: {exc.strerror}") from None
    except YAMLError as exc:
        raise FactsError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FactsError(f"{path} does not hold a mapping of facts")
    return {str(k): v for k, v in data.items()}


class YamlFacts(FactSource):
    def __init__(self, config: Config) -> None:
        super().__init__(config)
        spec = config.plugin("yaml", "")
        self.paths = [p for p in spec.split(":") if p.strip()]
        self._stamps: dict[str, tuple[int, int, int] | None] = {}
        self._good: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _stamp(path: str) -> tuple[int, int, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def changed(self) -> bool:
        return any(self._stamp(p) != self._stamps.get(p, ()) for p in self.paths)

    def load(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for path in self.paths:
            stamp = self._stamp(path)
            if stamp != self._stamps.get(path, ()):
                self._stamps[path] = stamp
                if stamp is None:
                    log.error("facts file %s does not exist", path)
                    self._good.pop(path, None)
                else:
                    try:
                        self._good[path] = load_yaml_mapping(path)
                        log.debug("loaded facts from %s", path)
                    except FactsError as exc:
                        log.error("%s; keeping its last good facts", exc)
            merged = deep_merge(merged, self._good.get(path, {}))
        return merged
