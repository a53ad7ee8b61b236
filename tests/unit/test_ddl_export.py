"""DDLs written for Ruby MCollective and Choria, and the shipped agent DDLs."""

from __future__ import annotations

import json

import pytest

from pymco.ddl.export import choria_json, to_ruby
from pymco.ddl.ruby_source import ruby_literal, ruby_validation
from pymco.ddl.loader import load_ddl_file
from pymco.ddl.model import AgentDDL, InputSpec
from pymco.errors import DDLError
from pymco.paths import builtin_dir

SHIPPED = ("package", "service", "puppet", "rpcutil", "discovery")


def shipped(name):
    return load_ddl_file(f"{builtin_dir('_ddl')}/{name}.yaml")


@pytest.mark.parametrize("name", SHIPPED)
def test_choria_json_round_trips(name):
    ddl = shipped(name)
    data = json.loads(choria_json(ddl))
    assert data["$schema"] == "https://choria.io/schemas/mcorpc/ddl/v1/agent.json"
    assert all("default" in out for action in data["actions"] for out in action["output"].values())
    again = AgentDDL.from_dict(data, f"{name}.json")
    assert again.metadata == ddl.metadata
    assert again.actions == ddl.actions


def test_the_reference_actions_are_declared():
    assert sorted(shipped("package").actions) == sorted(
        ["install", "update", "uninstall", "purge", "status", "search", "count", "md5", "yum_clean", "apt_update",
         "yum_checkupdates", "apt_checkupdates", "checkupdates", "refresh"])
    assert sorted(shipped("service").actions) == ["restart", "start", "status", "stop"]
    assert sorted(shipped("puppet").actions) == ["disable", "enable", "last_run_summary", "resource", "runonce",
                                                  "status"]
    assert shipped("package").timeout == 180 and shipped("service").timeout == 60 and shipped("puppet").timeout == 20


@pytest.mark.parametrize("value,text", [
    ("a \"quoted\" #{x} \\ line\n", '"a \\"quoted\\" \\#{x} \\\\ line\\n"'), (None, "nil"), (True, "true"),
    (3, "3"), (1.5, "1.5"), (["a", 1], '["a", 1]'), ({"true": "on", "format": "%d"}, '{:true => "on", :format => "%d"}'),
])
def test_ruby_literals(value, text):
    assert ruby_literal(value) == text


def test_ruby_validation():
    def spec(validation):
        return InputSpec("x", "X", "x", "string", False, validation=validation)

    assert ruby_validation(spec("shellsafe")) == ":shellsafe"
    assert ruby_validation(spec(None)) == "'.*'"
    assert ruby_validation(spec("^[a-z']+$")) == "'^[a-z\\']+$'"
    assert ruby_validation(spec("service_name")) == "'\\\\A[a-zA-Z\\\\.\\\\-_\\\\d:@]+\\\\z'"
    assert ruby_validation(spec(["a", "b"])) == '["a", "b"]'
    with pytest.raises(DDLError, match="unknown validator plugin 'no_such_validator'"):
        ruby_validation(spec("no_such_validator"))


def test_ruby_ddl_of_the_puppet_agent():
    text = to_ruby(shipped("puppet"))
    assert 'metadata    :name        => "puppet",' in text
    assert ":timeout     => 20\n" in text
    assert 'action "runonce", :description => "Invoke a single Puppet run" do\n    display :failed\n' in text
    assert "aggregate boolean_summary(:enabled, {:true => \"enabled\", :false => \"disabled\"})" in text
    assert 'aggregate average(:total_time, {:format => "Average: %0.2f"})' in text
    assert "    input :logs,\n" in text and ":default     => false,\n          :optional    => true\n" in text
