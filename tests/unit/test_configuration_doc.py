"""docs/configuration.md documents every key of the config schema with the schema's default.

A key added to lib/pymco/config.py without a row in the doc, a row for a key the
code does not know, or a default that no longer matches fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pymco.config import _SCHEMA

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([a-z_]+)` \| ([^|]+) \| (daemon|client|both) \| ([^|]+) \|$")


def _rows() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            key, default, _used_by, meaning = match.groups()
            assert key not in rows, f"{key} is documented twice"
            rows[key] = (default.strip(), meaning.strip())
    return rows


def _shown(default: Any) -> str:
    """How the doc writes a schema default."""
    if default is None:
        return "unset"
    if default == []:
        return "(none)"
    if default == "":
        return "(empty)"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def test_every_schema_key_is_documented_and_nothing_else():
    rows = _rows()
    assert sorted(set(_SCHEMA) - set(rows)) == [], "keys missing from docs/configuration.md"
    assert sorted(set(rows) - set(_SCHEMA)) == [], "docs/configuration.md documents keys the code does not know"


def test_documented_defaults_are_the_schema_defaults():
    rows = _rows()
    for key, (_parser, default) in _SCHEMA.items():
        shown = rows[key][0]
        want = _shown(default)
        # an unset key may say what it then means: "unset: the host's FQDN"
        assert shown == want or (want == "unset" and shown.startswith("unset: ")), (key, shown, want)
        assert rows[key][1], f"{key} has no meaning"
