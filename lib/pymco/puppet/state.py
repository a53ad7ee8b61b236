"""The Puppet agent's state, read from Puppet's own files (MCollective's PuppetAgentMgr).

* disabled: `agent_disabled_lockfile` exists; its JSON `disabled_message`
  is the lock message.  disable/enable write and remove it as `puppet agent
  --disable/--enable` do (atomically).
* applying: `agent_catalog_run_lockfile` holds the PID of a live process.
* daemon present: `pidfile` holds the PID of a live process.
* last run: `lastrunfile` (last_run_summary.yaml), `lastrunreport` (its logs)
  and `resourcefile` (the managed resources).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from pymco.errors import ActionFailed
from pymco.puppet.settings import PuppetPaths

log = logging.getLogger(__name__)

__all__ = ["AgentState", "seconds_to_human", "pid_alive", "load_report"]

_RESOURCE_COUNTERS = ("failed", "changed", "corrective_change", "total", "restarted", "out_of_sync")
_loaders: dict[str, Any] = {}


def _yaml() -> Any:
    """PyYAML, imported on first use: every daemon loads this agent, few read a Puppet report."""
    import yaml

    return yaml


def _loader(kind: str) -> Any:
    """The safe loader, or the report loader that reads Ruby-tagged objects (`!ruby/object:...`) as plain data."""
    if not _loaders:
        yaml = _yaml()
        safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class _ReportLoader(safe):  # type: ignore[misc,valid-type]
            pass

        def ruby_tagged(loader: Any, suffix: str, node: Any) -> Any:
            if isinstance(node, yaml.MappingNode):
                return loader.construct_mapping(node, deep=True)
            if isinstance(node, yaml.SequenceNode):
                return loader.construct_sequence(node, deep=True)
            return loader.construct_scalar(node)

        yaml.add_multi_constructor("!ruby/", ruby_tagged, Loader=_ReportLoader)
        _loaders.update(safe=safe, report=_ReportLoader)
    return _loaders[kind]


def load_report(path: str) -> Any:
    with open(path, "rb") as handle:
        return _yaml().load(handle, Loader=_loader("report"))


def pid_alive(text: str) -> bool:
    """MCollective's has_process_for_pid?: kill(pid, 0) succeeds."""
    try:
        pid = int(text.strip())
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def seconds_to_human(seconds: int) -> str:
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days > 1:
        return f"{days} days {hours} hours {minutes} minutes {seconds:02d} seconds"
    if days == 1:
        return f"{days} day {hours} hours {minutes} minutes {seconds:02d} seconds"
    if hours > 0:
        return f"{hours} hours {minutes} minutes {seconds:02d} seconds"
    if minutes > 0:
        return f"{minutes} minutes {seconds:02d} seconds"
    return f"{seconds:02d} seconds"


def _epoch(value: Any) -> int:
    from datetime import datetime  # tempfile and datetime load on use: every daemon imports this module

    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    try:
        return int(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return 0


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


class AgentState:
    def __init__(self, paths: PuppetPaths) -> None:
        self.paths = paths

    # ------------------------------------------------------------ lock
    def disabled(self) -> bool:
        return os.path.exists(self.paths.agent_disabled_lockfile)

    def lock_message(self) -> str:
        if not self.disabled():
            return ""
        text = _read(self.paths.agent_disabled_lockfile) or ""
        try:
            data = json.loads(text)
        except ValueError:
            return ""
        return str(data.get("disabled_message", "")) if isinstance(data, dict) else ""

    def disable(self, message: str) -> str:
        if self.disabled():
            raise ActionFailed("Already disabled")
        path = self.paths.agent_disabled_lockfile
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        import tempfile

        handle, temp = tempfile.mkstemp(prefix=os.path.basename(path), dir=directory)
        try:
            with os.fdopen(handle, "w") as stream:
                json.dump({"disabled_message": message}, stream)
            os.chmod(temp, 0o644)
            os.rename(temp, path)
        except BaseException:
            os.unlink(temp)
            raise
        return message

    def enable(self) -> None:
        if not self.disabled():
            raise ActionFailed("Already enabled")
        os.unlink(self.paths.agent_disabled_lockfile)

    # ------------------------------------------------------------ processes
    def applying(self) -> bool:
        try:
            text = _read(self.paths.agent_catalog_run_lockfile)
            return bool(text and text.strip()) and pid_alive(text or "")
        except Exception as exc:  # noqa: BLE001 - MCollective: an error here means "not applying"
            log.warning("Could not determine if Puppet is applying a catalog: %s", exc)
            return False

    def daemon_pid(self) -> int | None:
        text = _read(self.paths.pidfile)
        return int(text.strip()) if text and pid_alive(text) else None

    def daemon_present(self) -> bool:
        return self.daemon_pid() is not None

    def idling(self) -> bool:
        return self.daemon_present() and not self.applying()

    # ------------------------------------------------------------ last run
    def load_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"changes": {}, "time": {}, "resources": {}, "version": {}, "events": {}}
        text = _read(self.paths.lastrunfile)
        if text is not None:
            yaml = _yaml()
            try:
                data = yaml.load(text, Loader=_loader("safe"))
            except yaml.YAMLError as exc:
                raise ActionFailed(f"Cannot parse {self.paths.lastrunfile}: {str(exc).splitlines()[0]}") from None
            if isinstance(data, dict):
                summary.update(data)
        resources = {name: 0 for name in _RESOURCE_COUNTERS}
        resources.update(summary.get("resources") or {})
        summary["resources"] = resources
        for section in ("changes", "time", "version", "events"):
            if not isinstance(summary.get(section), dict):
                summary[section] = {}
        return summary

    def lastrun(self, summary: dict[str, Any] | None = None) -> int:
        value = (summary or self.load_summary())["time"].get("last_run", 0)
        try:
            return int(value)
        except (TypeError, ValueError):
            log.warning("Couldn't parse %s (time from summary file); returning 0", value)
            return 0

    def last_run_logs(self) -> list[dict[str, Any]]:
        if not os.path.exists(self.paths.lastrunreport):
            return []
        try:
            report = load_report(self.paths.lastrunreport)
        except (OSError, _yaml().YAMLError) as exc:
            raise ActionFailed(f"Cannot parse {self.paths.lastrunreport}: {str(exc).splitlines()[0]}") from None
        logs = report.get("logs") if isinstance(report, dict) else None
        entries = []
        for line in logs or []:
            if not isinstance(line, dict):
                continue
            stamp = _epoch(line.get("time"))
            entries.append({"time_utc": stamp, "time": stamp, "level": str(line.get("level", "")),
                            "source": line.get("source"), "msg": str(line.get("message", "")).rstrip("\n")})
        return entries

    def managed_resources(self) -> list[str]:
        text = _read(self.paths.resourcefile)
        return [line.rstrip("\n") for line in text.splitlines()] if text else []

    def type_distribution(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for line in self.managed_resources():
            if "[" not in line:
                continue
            kind = "::".join(part.capitalize() for part in line.split("[", 1)[0].split("::"))
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def managing(self, reference: str) -> bool:
        """Whether 'Type[title]' is in the catalog's resource list."""
        kind, sep, rest = reference.partition("[")
        if not sep or not kind:
            raise ActionFailed(f"Invalid resource name {reference}")
        return f"{kind.lower()}[{rest}" in self.managed_resources()

    # ------------------------------------------------------------ everything
    def status(self) -> dict[str, Any]:
        lastrun = self.lastrun()
        applying = self.applying()
        enabled = not self.disabled()
        daemon = self.daemon_present()
        idling = daemon and not applying
        since = int(time.time()) - lastrun
        if not enabled:
            status = "disabled"
        elif applying:
            status = "applying a catalog"
        elif idling:
            status = "idling"
        else:
            status = "stopped"
        return {"applying": applying, "enabled": enabled, "daemon_present": daemon, "lastrun": lastrun,
                "idling": idling, "disable_message": self.lock_message(), "since_lastrun": since,
                "status": status, "message": f"Currently {status}; last completed run {seconds_to_human(since)} ago"}
