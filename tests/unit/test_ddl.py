"""DDL loading, request validation, defaults and CLI coercion."""

from __future__ import annotations

import json

import pytest

from pymco.ddl.loader import load_ddl, load_ddl_file
from pymco.ddl.model import AgentDDL
from pymco.ddl.validate import coerce_cli_value, set_defaults, validate_request
from pymco.errors import DDLError, DDLValidationError
from pymco.paths import builtin_dir

META = {"name": "demo", "description": "d", "author": "a", "license": "l", "version": "1", "url": "u",
        "timeout": 5}


def ddl(actions):
    return AgentDDL.from_dict({"metadata": META, "actions": actions})


ACTION = {
    "action": "go", "description": "Go", "display": "always",
    "input": {
        "name": {"prompt": "N", "description": "n", "type": "string", "validation": "shellsafe",
                 "maxlength": 10, "optional": False},
        "count": {"prompt": "C", "description": "c", "type": "integer", "optional": False, "default": 3},
        "mode": {"prompt": "M", "description": "m", "type": "list", "list": ["a", "b"], "optional": True,
                 "default": "a"},
        "force": {"prompt": "F", "description": "f", "type": "boolean", "optional": True},
    },
    "output": {"out": {"description": "o", "display_as": "Out", "default": "none"}},
    "aggregate": [{"function": "summary", "args": ["out"]}],
}


def test_validation_messages_are_mcollectives():
    agent = ddl([ACTION])
    with pytest.raises(DDLValidationError, match="Attempted to call action stop for demo but it's not declared"):
        validate_request(agent, "stop", {})
    with pytest.raises(DDLValidationError, match="Action go needs a name argument"):
        validate_request(agent, "go", {"count": 1})
    with pytest.raises(DDLValidationError, match="Cannot validate input name: value should not have ; in it"):
        validate_request(agent, "go", {"name": "a;b", "count": 1})
    with pytest.raises(DDLValidationError, match="Input string is longer than 10"):
        validate_request(agent, "go", {"name": "x" * 11, "count": 1})
    with pytest.raises(DDLValidationError, match="value should be a integer"):
        validate_request(agent, "go", {"name": "x", "count": "1"})
    with pytest.raises(DDLValidationError, match="value should be one of a, b"):
        validate_request(agent, "go", {"name": "x", "count": 1, "mode": "c"})


def test_undeclared_inputs_pass_through():
    validate_request(ddl([ACTION]), "go", {"name": "x", "count": 1, "ip": "10.0.0.1"})


def test_defaults_only_for_required_inputs():
    spec = ddl([ACTION]).action("go")
    assert set_defaults(spec, {"name": "x"}) == {"name": "x", "count": 3}


@pytest.mark.parametrize("kind,text,value", [
    ("boolean", "yes", True), ("boolean", "0", False), ("integer", "42", 42), ("float", "1.5", 1.5),
    ("number", "7", 7), ("number", "7.5", 7.5), ("hash", '{"a": 1}', {"a": 1}), ("array", "[1]", [1]),
    ("string", "12", "12"),
])
def test_cli_coercion(kind, text, value):
    spec = ddl([dict(ACTION, input={"v": {"prompt": "v", "description": "v", "type": kind, "optional": True,
                                          **({"validation": ".", "maxlength": 0} if kind == "string" else {})}})])
    assert coerce_cli_value(spec.action("go").inputs["v"], text) == value


def test_cli_coercion_error():
    spec = ddl([ACTION]).action("go").inputs["count"]
    with pytest.raises(DDLValidationError, match="not a valid integer"):
        coerce_cli_value(spec, "many")


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d["metadata"].pop("timeout"), "metadata needs a 'timeout'"),
    (lambda d: d["actions"][0].pop("description"), "'description' is missing"),
    (lambda d: d["actions"][0].update(display="sometimes"), "display must be one of"),
    (lambda d: d["actions"][0]["input"]["name"].pop("optional"), "needs an 'optional' field"),
    (lambda d: d["actions"][0]["input"]["name"].update(type="blob"), "type must be one of"),
    (lambda d: d["actions"][0]["output"]["out"].pop("display_as"), "needs a 'display_as'"),
    (lambda d: d["actions"][0]["aggregate"][0].update(args=["nope"]), "does not declare"),
])
def test_loader_errors_name_the_field(mutate, message):
    data = {"metadata": dict(META), "actions": [json.loads(json.dumps(ACTION))]}
    mutate(data)
    with pytest.raises(DDLError, match=message):
        AgentDDL.from_dict(data, "demo.yaml")


def test_choria_json_ddl_loads(tmp_path):
    choria = {"$schema": "https://choria.io/schemas/mcorpc/ddl/v1/agent.json", "metadata": META,
              "actions": [ACTION]}
    (tmp_path / "demo.json").write_text(json.dumps(choria))
    agent = load_ddl("demo", [str(tmp_path)])
    assert agent.action("go").aggregates[0].function == "summary"


def test_missing_ddl_message(tmp_path):
    with pytest.raises(DDLError, match="Can't find DDL for agent plugin 'nope'"):
        load_ddl("nope", [str(tmp_path)])


def test_shipped_ddls_load():
    agent = load_ddl_file(f"{builtin_dir('_ddl')}/rpcutil.yaml")
    assert agent.timeout == 10 and "get_fact" in agent.actions
