"""MCollective's built-in data plugins: fstat, fact, agent, collective."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from typing import Any

from pymco.data.base import DataPlugin
from pymco.facts.base import MISSING

__all__ = ["FstatData", "FactData", "AgentData", "CollectiveData"]

_MD5_LIMIT = 64 * 1024 * 1024


class FstatData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        path = arg or ""
        result: dict[str, Any] = {
            "name": path, "output": "not present", "type": "unknown", "mode": "0000", "present": 0,
            "size": 0, "mtime": 0, "ctime": 0, "atime": 0, "mtime_seconds": 0, "ctime_seconds": 0,
            "atime_seconds": 0, "md5": 0, "uid": 0, "gid": 0}
        try:
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode):
                st = os.stat(path)
        except OSError:
            return result
        result.update(output="present", present=1, size=st.st_size, uid=st.st_uid, gid=st.st_gid,
                      mode="%o" % st.st_mode)
        now = int(time.time())
        for item in ("mtime", "ctime", "atime"):
            seconds = int(getattr(st, f"st_{item}"))
            result[item] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
            result[f"{item}_seconds"] = seconds
            result[f"{item}_age"] = now - seconds
        mode = st.st_mode
        kind = "unknown"
        for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
                           (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "chardev"), (stat.S_ISBLK, "blockdev")):
            if test(mode):
                kind = name
        result["type"] = kind
        if stat.S_ISREG(mode) and st.st_size <= _MD5_LIMIT:
            digest = hashlib.md5()
            try:
                with open(path, "rb") as handle:
                    for chunk in iter(lambda: handle.read(65536), b""):
                        digest.update(chunk)
                result["md5"] = digest.hexdigest()
            except OSError:
                pass
        return result


class FactData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        value: Any = self.node.facts.facts()
        for part in (arg or "").split("."):
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                value = MISSING
                break
        if value is MISSING:
            return {"exists": False, "value": False, "value_encoding": False}
        if isinstance(value, (list, dict)):
            return {"exists": True, "value": json.dumps(value, separators=(",", ":")),
                    "value_encoding": "application/json"}
        return {"exists": True, "value": value, "value_encoding": "text/plain"}


class AgentData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        manager = self.node.agent_manager
        if manager is None or arg not in manager.names():
            raise LookupError(f"No agent called {arg} found")
        meta = manager.ddl(arg).metadata
        return {"agent": arg, "license": meta.license, "timeout": meta.timeout, "description": meta.description,
                "url": meta.url, "version": meta.version, "author": meta.author}


class CollectiveData(DataPlugin):
    def query(self, arg: str | None) -> dict[str, Any]:
        return {"member": arg in self.node.config.collectives}
