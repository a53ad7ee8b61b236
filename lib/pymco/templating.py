"""Rendering pymco's jinja2 templates (`templates/`): plugin docs, generated plugins, exported DDLs.

Templates are strict (an unknown name is an error, not an empty string) and
keep their layout: block tags take their line with them, so a template
reads like the text it produces.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from pymco.paths import templates_dir

__all__ = ["render"]


def _yaml_scalar(value: Any) -> str:
    """A value as one line of YAML (quoted when it has to be)."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip().removesuffix("\n...")


@lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    from pymco.ddl.ruby_source import ruby_literal, ruby_validation

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters.update(ruby=ruby_literal, ruby_validation=ruby_validation, yaml=_yaml_scalar, pyrepr=repr)
    return env


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)
