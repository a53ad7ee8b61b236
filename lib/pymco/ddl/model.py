"""Agent DDL: the schema of an agent's actions, inputs and outputs.

A DDL is a YAML (or Choria JSON) document with the fields of Choria's agent
DDL schema.  It serves both ends: the client validates and fills inputs and
renders results with it; the daemon validates requests again and enforces the
agent's timeout.  `from_dict` checks every field and names the one at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymco.errors import DDLError

__all__ = ["AgentDDL", "parse_input", "ActionSpec", "InputSpec", "OutputSpec", "AggregateSpec", "Metadata", "DISPLAY_POLICIES",
           "INPUT_TYPES"]

DISPLAY_POLICIES = ("ok", "failed", "always", "flatten")
INPUT_TYPES = ("string", "integer", "float", "number", "boolean", "list", "hash", "array", "any")
_METADATA_FIELDS = ("name", "description", "author", "license", "version", "url", "timeout")


@dataclass
class Metadata:
    name: str
    description: str
    author: str
    license: str
    version: str
    url: str
    timeout: float
    provider: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _METADATA_FIELDS}


@dataclass
class InputSpec:
    name: str
    prompt: str
    description: str
    type: str
    optional: bool
    validation: Any = None
    maxlength: int = 0
    default: Any = None
    list: list[Any] | None = None
    sensitive: bool = False


@dataclass
class OutputSpec:
    name: str
    description: str
    display_as: str
    default: Any = None
    type: str | None = None


@dataclass
class AggregateSpec:
    function: str
    output: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionSpec:
    name: str
    description: str
    display: str = "failed"
    inputs: dict[str, InputSpec] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    aggregates: list[AggregateSpec] = field(default_factory=list)

    def display_as(self, key: str) -> str:
        spec = self.outputs.get(key)
        return spec.display_as if spec else key


@dataclass
class AgentDDL:
    metadata: Metadata
    actions: dict[str, ActionSpec]
    path: str = ""

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def timeout(self) -> float:
        return self.metadata.timeout

    def action(self, name: str) -> ActionSpec | None:
        return self.actions.get(name)

    @classmethod
    def from_dict(cls, data: Any, path: str = "<ddl>") -> "AgentDDL":
        if not isinstance(data, dict):
            raise DDLError(f"{path}: a DDL must be a mapping with 'metadata' and 'actions'")
        meta = data.get("metadata")
        if not isinstance(meta, dict):
            raise DDLError(f"{path}: 'metadata' is missing or not a mapping")
        for key in _METADATA_FIELDS:
            if key not in meta:
                raise DDLError(f"{path}: metadata needs a '{key}' field")
        try:
            timeout = float(meta["timeout"])
        except (TypeError, ValueError):
            raise DDLError(f"{path}: metadata.timeout must be a number") from None
        if timeout <= 0:
            raise DDLError(f"{path}: metadata.timeout must be greater than 0")
        metadata = Metadata(
            name=str(meta["name"]), description=str(meta["description"]), author=str(meta["author"]),
            license=str(meta["license"]), version=str(meta["version"]), url=str(meta["url"]),
            timeout=timeout, provider=meta.get("provider"))
        raw_actions = data.get("actions")
        if not isinstance(raw_actions, list):
            raise DDLError(f"{path}: 'actions' must be a list")
        actions: dict[str, ActionSpec] = {}
        for index, raw in enumerate(raw_actions):
            spec = _action(raw, f"{path}: actions[{index}]")
            if spec.name in actions:
                raise DDLError(f"{path}: action '{spec.name}' is declared twice")
            actions[spec.name] = spec
        return cls(metadata, actions, path)


def _action(raw: Any, where: str) -> ActionSpec:
    if not isinstance(raw, dict):
        raise DDLError(f"{where} must be a mapping")
    name = raw.get("action")
    if not isinstance(name, str) or not name:
        raise DDLError(f"{where}: 'action' (the action's name) is missing")
    where = f"{where} ({name})"
    if not isinstance(raw.get("description"), str):
        raise DDLError(f"{where}: 'description' is missing")
    display = raw.get("display", "failed") or "failed"
    if display not in DISPLAY_POLICIES:
        raise DDLError(f"{where}: display must be one of {', '.join(DISPLAY_POLICIES)}, not {display!r}")
    inputs = {}
    for key, spec in _section(raw, "input", dict, where).items():
        inputs[key] = parse_input(key, spec, f"{where}: input '{key}'")
    outputs = {}
    for key, spec in _section(raw, "output", dict, where).items():
        if not isinstance(spec, dict):
            raise DDLError(f"{where}: output '{key}' must be a mapping")
        for required in ("description", "display_as"):
            if required not in spec:
                raise DDLError(f"{where}: output '{key}' needs a '{required}' field")
        outputs[key] = OutputSpec(key, str(spec["description"]), str(spec["display_as"]),
                                  spec.get("default"), spec.get("type"))
    aggregates = []
    for index, agg in enumerate(_section(raw, "aggregate", list, where)):
        aggregates.append(_aggregate(agg, f"{where}: aggregate[{index}]", outputs))
    return ActionSpec(name, raw["description"], display, inputs, outputs, aggregates)


def _section(raw: dict[str, Any], field: str, kind: type, where: str) -> Any:
    """An action's optional `input`/`output` mapping or `aggregate` list, refused in one line if malformed."""
    value = raw.get(field) or kind()
    if not isinstance(value, kind):
        raise DDLError(f"{where}: '{field}' must be a {'mapping' if kind is dict else 'list'}")
    return value


def parse_input(key: str, spec: Any, where: str) -> InputSpec:
    if not isinstance(spec, dict):
        raise DDLError(f"{where} must be a mapping")
    for required in ("prompt", "description", "type"):
        if required not in spec:
            raise DDLError(f"{where} needs a '{required}' field")
    kind = str(spec["type"]).lower()
    if kind not in INPUT_TYPES:
        raise DDLError(f"{where}: type must be one of {', '.join(INPUT_TYPES)}, not {kind!r}")
    if "optional" not in spec:
        raise DDLError(f"{where} needs an 'optional' field")
    if kind == "list" and not isinstance(spec.get("list"), list):
        raise DDLError(f"{where}: a list input needs a 'list' of allowed values")
    maxlength = spec.get("maxlength", 0) or 0
    if not isinstance(maxlength, int):
        raise DDLError(f"{where}: maxlength must be an integer")
    return InputSpec(
        name=key, prompt=str(spec["prompt"]), description=str(spec["description"]), type=kind,
        optional=bool(spec["optional"]), validation=spec.get("validation"), maxlength=maxlength,
        default=spec.get("default"), list=spec.get("list"), sensitive=bool(spec.get("sensitive", False)))


def _aggregate(raw: Any, where: str, outputs: dict[str, OutputSpec]) -> AggregateSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("function"), str):
        raise DDLError(f"{where}: needs a 'function' name")
    args = raw.get("args") or []
    if not isinstance(args, list) or not args or not isinstance(args[0], str):
        raise DDLError(f"{where}: 'args' must start with the output name")
    if args[0] not in outputs:
        raise DDLError(f"{where}: aggregates output '{args[0]}' which the action does not declare")
    options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    options = {str(k).lstrip(":"): v for k, v in options.items()}
    return AggregateSpec(raw["function"], args[0], options)
