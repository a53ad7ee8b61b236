"""`rpcauditprovider = logfile`: one line per request in a file.

Two formats, chosen with `plugin.rpcaudit.format`:

`mcollective` (default) is MCollective 2.12's Logfile audit line, so existing
log parsing keeps working:

    [2026-12-01 17:40:53 UTC] reqid=<id>: reqtime=<epoch> caller=<callerid>@<sender> agent=<agent> action=<action> data=<Ruby inspect of the data>

A request the authorization plugin refused gets a second line, in the same
style, with the reason (MCollective writes nothing for it):

    [2026-12-01 17:40:53 UTC] reqid=<id>: denied caller=<callerid>@<sender> agent=<agent> action=<action> reason=<why>

`json` writes one JSON object per line for log shippers: time, requestid,
request_time, caller, sender, agent, action, collective, data, authorized
(true/false, or null when rpcauthorization is off) and reason.

The file is `plugin.rpcaudit.logfile`; it is created mode 0640 and each record
is appended with a single write(2), so lines from several workers (or several
daemons sharing the file) never interleave.  Control characters in any field
are escaped: a sender cannot forge a line.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from typing import Any

from pymco.audit.base import AuditProvider, AuditRecord
from pymco.config import Config
from pymco.errors import ConfigError, UnknownRPCError
from pymco.rubytext import escape_char as _escape_char
from pymco.rubytext import inspect as ruby_inspect
from pymco.rubytext import ruby_float as _ruby_float

log = logging.getLogger(__name__)

__all__ = ["LogfileAudit", "mcollective_lines", "json_line", "ruby_inspect", "DEFAULT_AUDIT_LOG"]

DEFAULT_AUDIT_LOG = "/var/log/pymco/pymco-audit.log"
FORMATS = ("mcollective", "json")

def _field(text: str) -> str:
    """A bare field of the line format: control characters (and nothing else) escaped."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", lambda m: _escape_char(m), text)


def mcollective_lines(record: AuditRecord) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(record.time))
    who = f"caller={_field(record.caller)}@{_field(record.sender)}"
    what = f"agent={_field(record.agent)} action={_field(record.action)}"
    lines = f"[{stamp}] reqid={_field(record.requestid)}: reqtime={record.request_time} {who} {what} " \
            f"data={ruby_inspect(record.data, symbol_keys=True)}\n"
    if record.authorized is False:
        lines += f"[{stamp}] reqid={_field(record.requestid)}: denied {who} {what} " \
                 f"reason={_field(record.reason or '')}\n"
    return lines


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _strict(value: Any, depth: int = 0) -> Any:
    """Data JSON can carry: non-finite floats become their Ruby names, deep nesting is cut."""
    if isinstance(value, float) and not math.isfinite(value):
        return _ruby_float(value)
    if depth > 64:
        return "..."
    if isinstance(value, dict):
        return {k if isinstance(k, str) else ruby_inspect(k): _strict(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v, depth + 1) for v in value]
    return value


def json_line(record: AuditRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.time)) + f".{int(record.time % 1 * 1000):03d}Z"
    document = {"time": stamp, "requestid": record.requestid, "request_time": record.request_time,
                "caller": record.caller, "sender": record.sender, "agent": record.agent,
                "action": record.action, "collective": record.collective, "data": _strict(record.data),
                "authorized": record.authorized, "reason": record.reason}
    return json.dumps(document, default=_json_default, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False) + "\n"


class LogfileAudit(AuditProvider):
    name = "logfile"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.path = config.plugin("rpcaudit.logfile", DEFAULT_AUDIT_LOG)
        self.format = (config.plugin("rpcaudit.format", "mcollective") or "mcollective").strip().lower()
        if self.format not in FORMATS:
            raise ConfigError(f"plugin.rpcaudit.format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise ConfigError(f"plugin.rpcaudit.logfile: the folder {directory} does not exist")
        if not os.access(self.path if os.path.exists(self.path) else directory, os.W_OK):
            raise ConfigError(f"plugin.rpcaudit.logfile: {self.path} is not writable")
        self._lock = threading.Lock()

    def render(self, record: AuditRecord) -> str:
        return json_line(record) if self.format == "json" else mcollective_lines(record)

    def write(self, record: AuditRecord) -> None:
        data = self.render(record).encode("utf-8", "replace")
        try:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    written = os.write(fd, data)
                finally:
                    os.close(fd)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
        except OSError as exc:
            log.error("cannot write the audit log %s: %s; refusing request %s", self.path, exc, record.requestid)
            raise UnknownRPCError(f"the request could not be audited ({exc.strerror or exc}); refused") from None
