"""Name validators of MCollective's package and service plugins.

`service_name` and `package_name` accept only the characters their
plugins allow (systemd template units need `@` and `:`).  `ruby_regex` is
the equivalent pattern `mco plugin export-ddl` writes into Ruby DDLs, whose
clients do not ship these validators.
"""

from __future__ import annotations

import re
from typing import Any

from pymco.errors import ValidatorError

__all__ = ["service_name", "package_name"]

_SERVICE = re.compile(r"[a-zA-Z.\-_\d:@]+")
_PACKAGE = re.compile(r"[a-zA-Z.\-_\d]+")


def service_name(value: Any, _arg: Any = None) -> None:
    if not isinstance(value, str) or not _SERVICE.fullmatch(value):
        raise ValidatorError(f"{value} is not a valid service name")


def package_name(value: Any, _arg: Any = None) -> None:
    if not isinstance(value, str) or not _PACKAGE.fullmatch(value):
        raise ValidatorError(f"{value} is not a valid package name")


service_name.ruby_regex = r"\A[a-zA-Z\.\-_\d:@]+\z"  # type: ignore[attr-defined]
package_name.ruby_regex = r"\A[a-zA-Z\.\-_\d]+\z"  # type: ignore[attr-defined]
