"""What `mco plugin generate client|application` writes: Python modules from templates.

A generated client is one `pymco.api.Client` subclass per agent with one
method per action.  Its inputs are keyword-only arguments annotated with
the DDL's types, defaulting as `mco rpc` would (a required input's DDL
default, None for an optional one, which is then not sent), and the DDL
itself is embedded so the client validates exactly as the agent's version
it was generated from, on any machine.
"""

from __future__ import annotations

import keyword
import pprint
from typing import Any

from pymco.ddl.export import to_choria
from pymco.ddl.model import AgentDDL, InputSpec
from pymco.templating import render

__all__ = ["client_module", "application_module", "class_name"]

_TYPES = {"string": "str", "integer": "int", "float": "float", "number": "float", "boolean": "bool",
          "array": "list[Any]", "hash": "dict[str, Any]", "any": "Any"}
#: what a method or argument name must not shadow
_RESERVED = {"self", "agent", "config", "ddl", "filter", "stats", "call", "send", "discover", "close", "reset",
             "reset_filter", "fact_filter", "class_filter", "identity_filter", "agent_filter", "compound_filter"}


def class_name(name: str) -> str:
    """`package_manager` -> `PackageManager`."""
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_") if part)


def _identifier(name: str) -> str:
    """A safe Python name for a DDL name (`class` -> `class_`, `reset` -> `reset_`, `a-b` -> `a_b`)."""
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if not safe or safe[0].isdigit():
        safe = "_" + safe
    if keyword.iskeyword(safe) or safe in _RESERVED:
        safe += "_"
    return safe


def _doc(text: Any) -> str:
    """Text that can sit inside a triple-quoted docstring."""
    return str(text).replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()


def _annotation(spec: InputSpec) -> str:
    if spec.type == "list":
        return "Literal[" + ", ".join(repr(v) for v in (spec.list or [])) + "]"
    return _TYPES.get(spec.type, "Any")


def _input(spec: InputSpec) -> dict[str, Any]:
    annotation = _annotation(spec)
    if spec.optional:
        default = "None"
        annotation += " | None"
    elif spec.default is not None:
        default = repr(spec.default)
    else:
        default = None
    notes = ["optional" if spec.optional else "required"]
    if spec.default is not None:
        notes.append(f"default {spec.default!r}")
    if spec.type == "string" and spec.validation not in (None, ".*"):
        notes.append(f"validation {spec.validation}")
    if spec.maxlength:
        notes.append(f"at most {spec.maxlength} characters")
    return {"name": spec.name, "param": _identifier(spec.name), "annotation": annotation, "default": default,
            "optional": spec.optional, "doc": _doc(f"{spec.description} ({spec.type}; {', '.join(notes)})")}


def client_module(ddl: AgentDDL) -> str:
    """The source of a typed client module for `ddl`'s agent."""
    actions = []
    for spec in ddl.actions.values():
        inputs = [_input(i) for i in spec.inputs.values()]
        # required arguments first (those without a default leading): keyword-only, so any order works
        inputs.sort(key=lambda i: (i["optional"], i["default"] is not None, i["param"]))
        outputs = [(key, _doc(out.description)) for key, out in spec.outputs.items()]
        actions.append({"name": spec.name, "method": _identifier(spec.name), "description": _doc(spec.description),
                        "inputs": inputs, "outputs": outputs})
    return render("client.py.j2", name=ddl.name, cls=class_name(ddl.name) + "Client",
                  description=_doc(ddl.metadata.description), version=ddl.metadata.version,
                  ddl=pprint.pformat(to_choria(ddl), width=110, sort_dicts=False), actions=actions,
                  typing=sorted({"Any"} | ({"Literal"} if "Literal[" in str(actions) else set())))


def application_module(name: str, description: str) -> str:
    """The source of a starting point for `mco NAME`."""
    return render("application.py.j2", name=name, cls=class_name(name), description=_doc(description))
