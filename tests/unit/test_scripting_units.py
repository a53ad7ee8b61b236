"""Issue 16, pure logic: --filter-replies, JSON-lines node lists, generated clients, libdir applications."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest

from pymco.cli.codegen import class_name, client_module
from pymco.cli.custom import load_file_application
from pymco.cli.pipeline import ReplyFilter, from_args
from pymco.client.results import RPCResult
from pymco.ddl.model import AgentDDL
from pymco.discovery.stdin import parse_node_list
from pymco.errors import DiscoveryError, FilterSyntaxError, PluginError


def reply(data, sender="web1", statuscode=0, statusmsg="OK"):
    return RPCResult("a", "b", sender, statuscode, statusmsg, data)


@pytest.mark.parametrize("expression,data,expected", [
    ("status=running", {"status": "running"}, True),
    ("status=running", {"status": "stopped"}, False),
    ("status=/^run/", {"status": "running"}, True),
    ("count>5", {"count": 10}, True),
    ("count>5", {"count": "10"}, True),          # numbers compare as numbers
    ("count>5", {"count": 3}, False),
    ("count>5", {}, False),                      # missing never matches
    ("disk.free<=50", {"disk": {"free": 50}}, True),
    ("items.1=b", {"items": ["a", "b"]}, True),
    ("enabled", {"enabled": True}, True),
    ("enabled", {"enabled": False}, False),
    ("not enabled and status!=stopped", {"enabled": 0, "status": "running"}, True),
    ("enabled=false", {"enabled": False}, True),
    ("statuscode=0 and sender=/^web/", {}, True),
    ("sender=db1 or (statusmsg=OK and not x)", {"x": ""}, True),
    ("sender=x", {"sender": "web1"}, False),     # data keys win over the reply's fields
])
def test_filter_replies(expression, data, expected):
    assert ReplyFilter(expression)(reply(data)) is expected


def test_filter_replies_refuses_nonsense_in_its_own_words():
    with pytest.raises(FilterSyntaxError, match="--filter-replies 'a=1 and'"):
        ReplyFilter("a=1 and")
    with pytest.raises(FilterSyntaxError, match="data functions only work in -S"):
        ReplyFilter("fstat('/etc/hosts').size>0")
    with pytest.raises(FilterSyntaxError):
        ReplyFilter("")


def test_pipeline_options():
    stream = io.StringIO()
    ns = argparse.Namespace(filter_replies="v=1", jsonl=True, senders=False, json=False)
    output = from_args(ns, stream)
    assert output.accept(reply({"v": 1})) and not output.accept(reply({"v": 2}, sender="x"))
    assert [json.loads(line)["sender"] for line in stream.getvalue().splitlines()] == ["web1"]
    assert from_args(argparse.Namespace(json=True), stream) is None
    from pymco.cli.application import UsageError
    with pytest.raises(UsageError):
        from_args(argparse.Namespace(jsonl=True, senders=True), stream)
    with pytest.raises(UsageError):
        from_args(argparse.Namespace(senders=True, json=True), stream)


def test_json_lines_node_lists():
    lines = '{"sender":"web1","data":{}}\n\n{"sender":"db1"}\n{"certname":"web1"}\n'
    assert parse_node_list(lines) == ["web1", "db1"]
    assert parse_node_list(lines, "jsonl") == ["web1", "db1"]
    with pytest.raises(DiscoveryError, match="not valid JSON"):
        parse_node_list('{"sender":"a"}\n{oops\n')
    with pytest.raises(DiscoveryError, match="not an array of Hashes"):
        parse_node_list('{"sender":"a"}\n[1]\n', "jsonl")


DDL = {
    "metadata": {"name": "my-agent", "description": 'Odd """ text \\ here', "author": "a", "license": "l",
                 "version": "1", "url": "u", "timeout": 5},
    "actions": [
        {"action": "reset", "description": "An action named like a Client method", "display": "always",
         "input": {
             "class": {"prompt": "c", "description": "a keyword", "type": "string", "optional": False,
                       "validation": "^\\w+$", "maxlength": 10},
             "mode": {"prompt": "m", "description": "enumerated", "type": "list", "optional": False,
                      "list": ["fast", "slow"], "default": "fast"},
             "force": {"prompt": "f", "description": "a flag", "type": "boolean", "optional": True},
             "count": {"prompt": "n", "description": "how many", "type": "integer", "optional": True},
         },
         "output": {"done": {"description": "Whether it worked", "display_as": "Done"}}},
        {"action": "noop", "description": "Nothing", "display": "always"},
    ],
}


def test_generated_client_source(tmp_path):
    ddl = AgentDDL.from_dict(DDL)
    source = client_module(ddl)
    path = tmp_path / "generated.py"
    path.write_text(source)
    code = ("import inspect, generated as g\n"
            "print(inspect.signature(g.MyAgentClient.reset_))\n"
            "print(inspect.signature(g.MyAgentClient.noop))\n"
            "print(g.__doc__.splitlines()[2])\n"
            "print('enumerated' in g.MyAgentClient.reset_.__doc__, g.DDL['metadata']['name'])\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "(self, *, class_: 'str', mode: \"Literal['fast', 'slow']\" = 'fast', count: 'int | None' = None, "
        "force: 'bool | None' = None) -> 'Call'",
        "(self) -> 'Call'",
        'Odd """ text \\ here',
        "True my-agent",
    ]
    assert "'class': class_" in source and class_name("my_agent") == "MyAgent"


@pytest.mark.parametrize("text,message", [
    ("x = 1\n", "exactly one Application subclass, it defines 0"),
    ("raise SystemError('boom')\n", "SystemError: boom"),
    ("from pymco.cli.custom import CustomApplication\nclass A(CustomApplication): pass\n"
     "class B(CustomApplication): pass\n", "it defines 2"),
])
def test_bad_application_files(tmp_path, text, message):
    path = tmp_path / "app.py"
    path.write_text(text)
    with pytest.raises(PluginError, match=message):
        load_file_application("app", str(path))


def test_application_file_gets_its_name(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("from pymco.cli.custom import CustomApplication\nclass Mine(CustomApplication):\n"
                    "    description = 'd'\n")
    cls = load_file_application("mine", str(path))
    assert cls.name == "mine" and "--jsonl" in cls().build_parser().format_help()


@pytest.mark.parametrize("argv", [["help"], ["rpc", "--help"], ["ping", "--help"], ["plugin", "doc"]])
def test_mco_never_imports_the_client_api(argv):
    code = ("import sys\nfrom pymco.cli.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m in ('pymco.api', 'pymco.cli.codegen')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"
