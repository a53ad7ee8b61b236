"""Where the shipped agents, DDLs and templates live once installed.

The repository keeps them in top-level `agents/`, `ddl/` and `templates/`
(the design card); packaging maps those folders to `pymco._agents`,
`pymco._ddl` and `pymco._templates` so they install with the package.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

from pymco.config import Config

__all__ = ["builtin_dir", "agent_dirs", "ddl_dirs", "templates_dir"]


@lru_cache(maxsize=None)
def builtin_dir(package: str) -> str:
    spec = importlib.util.find_spec(f"pymco.{package}")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"pymco is installed without its pymco.{package} data")
    return list(spec.submodule_search_locations)[0]


def _libdirs(config: Config | None, sub: str) -> list[str]:
    dirs = []
    for libdir in (config.libdir if config else []):
        path = os.path.join(libdir, sub)
        if os.path.isdir(path):
            dirs.append(path)
    return dirs


def agent_dirs(config: Config | None) -> list[str]:
    """Built-in agents first; a libdir agent of the same name replaces it."""
    return [builtin_dir("_agents")] + _libdirs(config, "agents")


def ddl_dirs(config: Config | None) -> list[str]:
    """libdir DDLs first, so an operator's copy wins over the shipped one."""
    return _libdirs(config, "ddl") + [builtin_dir("_ddl")]


def templates_dir() -> str:
    return builtin_dir("_templates")
