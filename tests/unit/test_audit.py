"""Audit records and the logfile plugin's two formats (MCollective's line, JSON lines)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading

import pytest

from pymco.agent import RPCRequest
from pymco.audit.base import MASK, AuditRecord, masked_data
from pymco.audit.logfile import LogfileAudit, json_line, mcollective_lines, ruby_inspect
from pymco.config import Config
from pymco.ddl.model import AgentDDL
from pymco.errors import ConfigError, UnknownRPCError
from pymco.protocol.marshal import Symbol
from tests.support.cluster import which_or_fail

DDL = AgentDDL.from_dict({
    "metadata": {"name": "secret", "description": "d", "author": "a", "license": "l", "version": "1",
                 "url": "u", "timeout": 5},
    "actions": [{"action": "login", "description": "d", "input": {
        "user": {"prompt": "u", "description": "u", "type": "string", "optional": False, "validation": ".*",
                 "maxlength": 0},
        "password": {"prompt": "p", "description": "p", "type": "string", "optional": False,
                     "validation": ".*", "maxlength": 0, "sensitive": True}}}]})


def request(**data):
    return RPCRequest(agent="secret", action="login", data=data, caller="uid=0", sender="node1", uniqid="abc123",
                      time=1700000000, ttl=60, collective="mcollective")


def config(tmp_path, **plugin):
    cfg = Config(path=str(tmp_path / "server.cfg"))
    for key, value in plugin.items():
        cfg.set(f"plugin.rpcaudit.{key}", value)
    return cfg


def test_sensitive_inputs_are_masked():
    data = masked_data(request(user="bob", password="hunter2", extra="x"), DDL)
    assert data == {"user": "bob", "password": MASK, "extra": "x"}
    assert masked_data(request(password="hunter2"), None) == {"password": "hunter2"}


def test_mcollective_line_format():
    record = AuditRecord(1700000000.5, "abc123", 1699999999, "uid=0", "node1", "secret", "login", "mc",
                         {"user": "bob", "n": 3}, None)
    assert mcollective_lines(record) == ("[2023-11-14 22:13:20 UTC] reqid=abc123: reqtime=1699999999 "
                                         "caller=uid=0@node1 agent=secret action=login "
                                         "data={:user=>\"bob\", :n=>3}\n")


def test_denial_adds_a_reason_line():
    record = AuditRecord(0, "r", 1, "uid=5", "n", "a", "b", "mc", {}, False, "Denying based on default policy")
    lines = mcollective_lines(record).splitlines()
    assert len(lines) == 2
    assert lines[1] == "[1970-01-01 00:00:00 UTC] reqid=r: denied caller=uid=5@n agent=a action=b " \
                       "reason=Denying based on default policy"


def test_no_field_can_break_the_line():
    record = AuditRecord(0, "r\nforged", 1, "uid=0", "n\n[1970] reqid=x", "a", "b", "mc",
                         {"k": "v\nw", "b": b"\xff\n"}, False, "why\n")
    text = mcollective_lines(record)
    assert text.count("\n") == 2
    assert json_line(record).count("\n") == 1


def test_ruby_inspect_matches_ruby():
    value = {"s": "q\"uote\t#{x} é", "i": -3, "f": 1.5e20, "g": 0.25, "n": None, "t": True,
             "l": [1, "a", [False]], "h": {Symbol("sym"): 1, "str": 2}, "b": b"\xfe"}
    ruby = which_or_fail("ruby")
    script = ('v = {:s=>"q\\"uote\\t\\#{x} \\u00e9", :i=>-3, :f=>1.5e20, :g=>0.25, :n=>nil, :t=>true, '
              ':l=>[1, "a", [false]], :h=>{:sym=>1, "str"=>2}, :b=>"\\xfe".b}; print v.inspect')
    expected = subprocess.run([ruby, "-e", script], capture_output=True, text=True, check=True).stdout
    assert ruby_inspect(value, symbol_keys=True) == expected


def test_json_format_and_file(tmp_path):
    audit = LogfileAudit(config(tmp_path, logfile=str(tmp_path / "audit.log"), format="json"))
    audit.audit(request(user="bob", password="hunter2"), DDL, authorized=True)
    audit.audit(request(user="eve", password="x"), DDL, authorized=False, reason="no")
    lines = (tmp_path / "audit.log").read_text().splitlines()
    docs = [json.loads(line) for line in lines]
    assert docs[0]["data"] == {"user": "bob", "password": MASK}
    assert docs[0]["authorized"] is True and docs[1]["authorized"] is False and docs[1]["reason"] == "no"
    for key in ("time", "requestid", "request_time", "caller", "sender", "agent", "action", "collective"):
        assert key in docs[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", docs[0]["time"])
    assert "hunter2" not in (tmp_path / "audit.log").read_text()
    assert stat.S_IMODE(os.stat(tmp_path / "audit.log").st_mode) & 0o007 == 0


def test_non_finite_floats_stay_strict_json(tmp_path):
    record = AuditRecord(0, "r", 1, "uid=0", "n", "a", "b", "mc", {"x": float("nan"), "y": [float("inf")]}, None)
    assert json.loads(json_line(record))["data"] == {"x": "NaN", "y": ["Infinity"]}


def test_concurrent_writers_do_not_interleave(tmp_path):
    audit = LogfileAudit(config(tmp_path, logfile=str(tmp_path / "audit.log")))
    big = "x" * 5000

    def work():
        for _ in range(50):
            audit.audit(request(user=big, password="p"), DDL)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "audit.log").read_text().splitlines()
    assert len(lines) == 200
    assert all(line.endswith(f'data={{:user=>"{big}", :password=>"{MASK}"}}') for line in lines)


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="format"):
        LogfileAudit(config(tmp_path, logfile=str(tmp_path / "a.log"), format="xml"))
    with pytest.raises(ConfigError, match="does not exist"):
        LogfileAudit(config(tmp_path, logfile=str(tmp_path / "missing" / "a.log")))


def test_write_failure_refuses_the_request(tmp_path):
    path = tmp_path / "audit.log"
    audit = LogfileAudit(config(tmp_path, logfile=str(path)))
    path.mkdir()  # now the log cannot be opened for writing
    with pytest.raises(UnknownRPCError, match="could not be audited"):
        audit.audit(request(user="a", password="b"), DDL)
