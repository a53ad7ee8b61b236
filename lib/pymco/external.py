"""Actions implemented by external programs, in any language.

This is MCollective's `implemented_by` protocol: the request is written as
JSON to a file, the program is run with two arguments (the request file and
the reply file, also in `MCOLLECTIVE_REQUEST_FILE` / `MCOLLECTIVE_REPLY_FILE`),
and whatever JSON object it writes to the reply file is merged into the
reply.  A non-zero exit fails the reply with the program's stderr; exit codes
1-5 become that status code (so a program can answer "invalid data" with 4),
others become 1.  The program runs under the action's DDL timeout like any
command an agent starts.

Two ways to use it:

* a whole agent: a folder `<libdir>/agents/<name>/` holding an executable
  named `<name>`, with a DDL `<libdir>/ddl/<name>.yaml` whose metadata says
  `provider: external` (`ExternalAgent` in pymco.server.agents);
* one action of a Python agent: `self.implemented_by(path, request, reply)`.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from pymco.agent_messages import RPCReply, RPCRequest
from pymco.errors import DecodeError
from pymco.protocol.bounded import DEFAULT_MAX_BYTES, json_loads
from pymco.shell import run_command

log = logging.getLogger(__name__)

__all__ = ["run_external", "request_document"]


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def request_document(request: RPCRequest) -> dict[str, Any]:
    """What the program reads: MCollective's request JSON plus pymco's extra context."""
    return {"agent": request.agent, "action": request.action, "data": request.data,
            "sender": request.sender, "callerid": request.caller, "uniqid": request.uniqid,
            "collective": request.collective, "ttl": request.ttl, "time": request.time}


def _load_reply(path: str) -> Any:
    """The reply file's JSON; {} when the program wrote nothing usable, as MCollective.

    The program may echo request data into it, so it is read like any other
    input: at most DEFAULT_MAX_BYTES, nested at most 64 deep (pymco.protocol.bounded).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(DEFAULT_MAX_BYTES + 1)
    except OSError:
        return {}
    if not raw.strip():
        return {}
    try:
        return json_loads(raw, max_bytes=DEFAULT_MAX_BYTES)
    except DecodeError as exc:
        log.warning("ignoring the reply file of an external action: %s", exc)
        return {}


def run_external(command: str, request: RPCRequest, reply: RPCReply) -> None:
    """Run `command` for `request` and merge its reply file into `reply`."""
    where = f"{request.agent}#{request.action} command: {command}"
    if not (os.path.isfile(command) and os.access(command, os.X_OK)):
        log.warning("Cannot run %s", where)
        reply.abort(f"Cannot execute {where}")
    import tempfile  # on the first call: the daemon imports this module whether or not it runs external agents

    with tempfile.TemporaryDirectory(prefix="pymco_external_") as tmp:
        request_file = os.path.join(tmp, "request.json")
        reply_file = os.path.join(tmp, "reply.json")
        with open(request_file, "w", encoding="utf-8") as handle:
            json.dump(request_document(request), handle, default=_json_default)
        open(reply_file, "w").close()
        result = run_command([command, request_file, reply_file], cwd=tmp,
                             environment={"MCOLLECTIVE_REQUEST_FILE": request_file,
                                          "MCOLLECTIVE_REPLY_FILE": reply_file})
        data = _load_reply(reply_file)
    for line in result.stderr.splitlines():
        log.error("%s: %s", where, line)
    for line in result.stdout.splitlines():
        log.info("%s: %s", where, line)
    if not isinstance(data, dict):
        reply.abort(f"Reply data from {command} is not a Hash")
    for key, value in data.items():
        reply[str(key)] = value
    if result.exitcode != 0:
        code = result.exitcode if 1 <= result.exitcode <= 5 else 1
        detail = result.stderr.strip() or ("timed out and was killed" if result.timed_out
                                           else f"exit code {result.exitcode}")
        reply.fail(f"Failed to run {command}: {detail}", code)
