"""Checking a request's inputs against its action's DDL, on both ends.

Rules are MCollective's `validate_rpc_request`: the action must be declared;
every non-optional input must be present; every declared input that is
present must pass its type, length and validation; inputs the DDL does not
declare pass through untouched (the puppet agent's `resource` action relies
on it).  Defaults are filled only for non-optional inputs.
"""

from __future__ import annotations

import json
from typing import Any

from pymco.ddl.model import ActionSpec, AgentDDL, InputSpec
from pymco.errors import DDLValidationError, ValidatorError
from pymco.validators.builtin import check_type, length, validate

__all__ = ["validate_request", "set_defaults", "coerce_cli_value", "action_or_fail"]


def action_or_fail(ddl: AgentDDL, action: str) -> ActionSpec:
    spec = ddl.action(action)
    if spec is None:
        raise DDLValidationError(
            f"Attempted to call action {action} for {ddl.name} but it's not declared in the DDL")
    return spec


def set_defaults(spec: ActionSpec, args: dict[str, Any]) -> dict[str, Any]:
    """Insert DDL defaults for absent non-optional inputs (returns a new dict)."""
    result = dict(args)
    for key, inp in spec.inputs.items():
        if not inp.optional and inp.default is not None and key not in result:
            result[key] = inp.default
    return result


def _validate_input(inp: InputSpec, value: Any) -> None:
    if inp.type == "string":
        if not isinstance(value, str):
            raise ValidatorError("value should be a string")
        length(value, inp.maxlength)
        validate(value, inp.validation)
    elif inp.type == "list":
        validate(value, inp.list or [])
    elif inp.type == "any":
        return
    else:
        if not check_type(value, inp.type):
            raise ValidatorError(f"value should be a {inp.type}")
        if inp.validation is not None and isinstance(value, str):
            validate(value, inp.validation)


def validate_request(ddl: AgentDDL, action: str, args: dict[str, Any]) -> ActionSpec:
    spec = action_or_fail(ddl, action)
    for key, inp in spec.inputs.items():
        if key not in args:
            if not inp.optional:
                raise DDLValidationError(f"Action {action} needs a {key} argument")
            continue
        try:
            _validate_input(inp, args[key])
        except ValidatorError as exc:
            raise DDLValidationError(f"Cannot validate input {key}: {exc}") from None
    return spec


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def coerce_cli_value(inp: InputSpec | None, value: str) -> Any:
    """Turn a `key=value` string from the command line into the input's type."""
    if inp is None:
        return value
    kind = inp.type
    try:
        if kind == "boolean":
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if kind == "integer":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "number":
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        if kind in ("hash", "array"):
            parsed = json.loads(value)
            if kind == "hash" and not isinstance(parsed, dict) or kind == "array" and not isinstance(parsed, list):
                raise ValueError
            return parsed
    except ValueError:
        raise DDLValidationError(f"Cannot validate input {inp.name}: {value!r} is not a valid {kind}") from None
    return value
