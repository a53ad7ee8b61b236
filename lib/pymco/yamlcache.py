"""YAML files parsed once: a JSON copy of the result, reused while the file is unchanged.

Importing PyYAML costs `mco` 10-20 ms of every start and each daemon about
2 MiB of RSS, for files that almost never change (DDLs, the facts file).  So
the parsed value of a YAML file is kept as JSON (which Python reads without
extra imports, several times faster than libyaml) in a per-user cache
directory, keyed by the file's absolute path and checked against its mtime,
size and inode; PyYAML is imported only when a file is new or has changed.

Only values JSON holds exactly are cached (str keys; str, int, float, bool,
None, lists): a file with, say, a YAML date or an integer key is parsed every
time, so the cache never changes what a caller sees.

The directory is `$PYMCO_CACHE_DIR`, else `$XDG_CACHE_HOME/pymco`, else
`~/.cache/pymco`, created mode 0700; `PYMCO_CACHE_DIR=` (empty) turns the
cache off.  Any cache problem (unwritable, corrupt, foreign owner) just means
a parse.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable

log = logging.getLogger(__name__)

__all__ = ["load_yaml_file", "remember", "cache_dir", "YAMLError"]

_FORMAT = 1
_MISS = object()


class YAMLError(ValueError):
    """A YAML file that does not parse (wraps PyYAML's error, whose text it keeps)."""


def cache_dir() -> str | None:
    """Where parsed copies live, or None when caching is off."""
    explicit = os.environ.get("PYMCO_CACHE_DIR")
    if explicit is not None:
        return explicit or None
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.path.expanduser("~"), ".cache") if os.environ.get("HOME") else "")
    return os.path.join(base, "pymco") if base else None


def _entry(directory: str, path: str) -> str | None:
    name = "yaml-" + path.replace("%", "%25").replace("/", "%2F") + ".json"
    return os.path.join(directory, name) if len(name) < 250 else None


def _exact(value: Any, depth: int = 0) -> bool:
    """Whether JSON gives back exactly this value (and type)."""
    if depth > 200:
        return False
    kind = type(value)
    if kind in (str, int, float, bool) or value is None:
        return True
    if kind is list:
        return all(_exact(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _exact(v, depth + 1) for k, v in value.items())
    return False


def _read(entry: str, stamp: list[int]) -> Any:
    try:
        with open(entry, "rb") as handle:
            if os.fstat(handle.fileno()).st_uid != os.geteuid():
                return _MISS
            cached = json.loads(handle.read())
        if cached.get("format") == _FORMAT and cached.get("stamp") == stamp:
            return cached["value"]
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        pass
    return _MISS


_PRUNE_ABOVE = 200


def _prune(directory: str) -> None:
    """Forget copies of files that no longer exist (test runs leave many behind)."""
    names = [n for n in os.listdir(directory) if n.startswith("yaml-") and n.endswith(".json")]
    if len(names) <= _PRUNE_ABOVE:
        return
    for name in names:
        source = name[5:-5].replace("%2F", "/").replace("%25", "%")
        if not os.path.exists(source):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _write(directory: str, entry: str, stamp: list[int], value: Any) -> None:
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _prune(directory)
        tmp = f"{entry}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)) as handle:
            json.dump({"format": _FORMAT, "stamp": stamp, "value": value}, handle, separators=(",", ":"))
        os.replace(tmp, entry)
    except (OSError, ValueError, TypeError) as exc:
        log.debug("not caching the parsed YAML in %s: %s", directory, exc)
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass


def _parse(raw: bytes, loader: str) -> Any:
    import yaml

    if loader == "safe":
        cls: Callable[..., Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    else:
        raise ValueError(f"unknown loader {loader!r}")
    try:
        return yaml.load(raw, Loader=cls)
    except yaml.YAMLError as exc:
        raise YAMLError(str(exc)) from None


def load_yaml_file(path: str, loader: str = "safe") -> Any:
    """The parsed content of a YAML file; OSError if unreadable, YAMLError if invalid."""
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        stamp = [st.st_mtime_ns, st.st_size, st.st_ino]
        directory = cache_dir()
        entry = _entry(directory, os.path.abspath(path)) if directory else None
        if entry is not None:
            value = _read(entry, stamp)
            if value is not _MISS:
                return value
        raw = handle.read()
    value = _parse(raw, loader)
    if entry is not None and directory is not None and _exact(value):
        _write(directory, entry, stamp, value)
    return value


def remember(path: str, value: Any) -> None:
    """Record `value` as the parsed content of `path` as it is now (a writer that just parsed it).

    `pymcod facts refresh` calls this after replacing the facts file, so the
    daemon that re-reads it finds the parsed copy and never imports PyYAML.
    """
    directory = cache_dir()
    entry = _entry(directory, os.path.abspath(path)) if directory else None
    if entry is None or directory is None or not _exact(value):
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    _write(directory, entry, [st.st_mtime_ns, st.st_size, st.st_ino], value)
