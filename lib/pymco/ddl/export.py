"""Writing an agent DDL for other MCollective implementations.

* Ruby: a `.ddl` file for Ruby MCollective clients (`<libdir>/mcollective/agent/`),
  so a stock `mco` validates requests and renders replies of pymco agents.
  Ruby clients only know the validators shellsafe, ipv4address and
  ipv6address, so pymco's named validators are written as their equivalent
  regular expression (a validator's `ruby_regex`); the daemon still checks
  requests with the exact validator.
  Aggregate functions Ruby lacks (boolean_summary) are written as Ruby
  aggregate plugins beside the DDLs.
* Choria JSON: the same content in Choria's agent DDL schema, every output
  with its `default` written out, as Choria's own files are.
"""

from __future__ import annotations

import json
from typing import Any

from pymco.ddl.model import AgentDDL
from pymco.templating import render

__all__ = ["to_choria", "to_ruby", "ruby_aggregates", "CHORIA_SCHEMA"]

CHORIA_SCHEMA = "https://choria.io/schemas/mcorpc/ddl/v1/agent.json"
#: aggregate functions Ruby MCollective lacks, and the template of the plugin pymco writes for them
_RUBY_AGGREGATE_TEMPLATES = {"boolean_summary": "aggregate-boolean_summary.rb.j2"}


def to_choria(ddl: AgentDDL) -> dict[str, Any]:
    metadata = ddl.metadata.as_dict()
    if ddl.metadata.provider:
        metadata["provider"] = ddl.metadata.provider
    actions = []
    for spec in ddl.actions.values():
        inputs = {}
        for key, inp in spec.inputs.items():
            entry: dict[str, Any] = {"prompt": inp.prompt, "description": inp.description, "type": inp.type,
                                     "default": inp.default, "optional": inp.optional}
            if inp.type == "string":
                entry["validation"] = inp.validation if inp.validation is not None else ".*"
                entry["maxlength"] = inp.maxlength
            if inp.type == "list":
                entry["list"] = inp.list
            inputs[key] = entry
        outputs = {}
        for key, out in spec.outputs.items():
            entry = {"description": out.description, "display_as": out.display_as, "default": out.default}
            if out.type:
                entry["type"] = out.type
            outputs[key] = entry
        action: dict[str, Any] = {"action": spec.name, "input": inputs, "output": outputs, "display": spec.display,
                                  "description": spec.description}
        if spec.aggregates:
            action["aggregate"] = [{"function": a.function, "args": [a.output, a.options] if a.options else
                                    [a.output]} for a in spec.aggregates]
        actions.append(action)
    return {"$schema": CHORIA_SCHEMA, "metadata": metadata, "actions": actions}


def choria_json(ddl: AgentDDL) -> str:
    return json.dumps(to_choria(ddl), indent=2) + "\n"


def to_ruby(ddl: AgentDDL) -> str:
    return render("agent.ddl.j2", ddl=ddl)


def ruby_aggregates(ddls: list[AgentDDL]) -> dict[str, str]:
    """`<function>.rb` -> Ruby source of the aggregate plugins these DDLs need and Ruby lacks."""
    used = {aggregate.function for ddl in ddls for spec in ddl.actions.values() for aggregate in spec.aggregates}
    return {f"{name}.rb": render(template) for name, template in _RUBY_AGGREGATE_TEMPLATES.items() if name in used}
