"""Finding and parsing agent DDL files (`ddl/<agent>.yaml` or Choria `.json`)."""

from __future__ import annotations

import json
import os
from typing import Any

from pymco.ddl.model import AgentDDL
from pymco.errors import DDLError
from pymco.yamlcache import YAMLError, load_yaml_file

__all__ = ["find_ddl", "load_ddl", "load_ddl_file", "known_ddls"]

_EXTENSIONS = (".yaml", ".yml", ".json")
_cache: dict[str, tuple[tuple[int, int], AgentDDL]] = {}


def find_ddl(name: str, dirs: list[str]) -> str | None:
    for directory in dirs:
        for ext in _EXTENSIONS:
            path = os.path.join(directory, name + ext)
            if os.path.isfile(path):
                return path
    return None


def load_ddl_file(path: str) -> AgentDDL:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DDLError(f"cannot read DDL {path}: {exc.strerror}") from None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _cache.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data: Any
        if path.endswith(".json"):
            with open(path, "rb") as handle:
                data = json.loads(handle.read())
        else:
            data = load_yaml_file(path)
    except (OSError, ValueError, YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DDLError(f"cannot parse DDL {path}: {first}") from None
    ddl = AgentDDL.from_dict(data, path)
    _cache[path] = (stamp, ddl)
    return ddl


def load_ddl(name: str, dirs: list[str]) -> AgentDDL:
    path = find_ddl(name, dirs)
    if path is None:
        raise DDLError(f"Can't find DDL for agent plugin '{name}'")
    ddl = load_ddl_file(path)
    if ddl.name != name:
        raise DDLError(f"{path}: metadata.name is '{ddl.name}', expected '{name}'")
    return ddl


def known_ddls(dirs: list[str]) -> list[str]:
    names: set[str] = set()
    for directory in dirs:
        if not os.path.isdir(directory):
            continue
        for entry in os.listdir(directory):
            base, ext = os.path.splitext(entry)
            if ext in _EXTENSIONS:
                names.add(base)
    return sorted(names)
