"""Rendering results the way MCollective's `printrpc`/`printrpcstats` do.

Per-node blocks follow the action's DDL display policy (or `--display`),
with `display_as` labels right-aligned; non-scalar values print in Ruby's
inspect style so output reads as operators know it.  ESC bytes in node data
are stripped so a node cannot paint the operator's terminal.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, Iterable, TextIO

from pymco.status import STATUS_TEXT
from pymco.client.results import RequestStats, RPCResult
from pymco.ddl.model import ActionSpec

__all__ = ["Colour", "text_for_result", "render_results", "render_stats", "ruby_inspect", "render_json",
           "columns"]

_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b")


def clean(text: str) -> str:
    return _ESC.sub("", text)


class Colour:
    """ANSI colours, on only when wanted and writing to a terminal."""

    CODES = {"red": "31", "green": "32", "yellow": "33", "cyan": "36", "bold": "1"}

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, colour: str, text: Any) -> str:
        text = str(text)
        if not self.enabled or colour not in self.CODES:
            return text
        return f"\x1b[{self.CODES[colour]}m{text}\x1b[0m"

    @classmethod
    def for_stream(cls, stream: TextIO, wanted: bool = True) -> "Colour":
        return cls(wanted and hasattr(stream, "isatty") and stream.isatty())


_STATUS_COLOUR = {1: "red", 2: "yellow", 3: "yellow", 4: "yellow", 5: "red"}


def ruby_inspect(value: Any, width: int = 80, indent: int = 0) -> str:
    """Ruby's pretty_inspect, close enough for reading: one line if it fits."""
    flat = _inspect_flat(value)
    if len(flat) + indent <= width or not isinstance(value, (list, dict)) or not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, list):
        parts = [ruby_inspect(v, width, indent + 1) for v in value]
        return "[" + (",\n" + pad).join(parts) + "]"
    parts = []
    for key, item in value.items():
        head = f"{_inspect_key(key)}=>"
        parts.append(head + ruby_inspect(item, width, indent + 1 + len(head)))
    return "{" + (",\n" + pad).join(parts) + "}"


def _inspect_key(key: Any) -> str:
    return _inspect_flat(key)


def _inspect_flat(value: Any) -> str:
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(clean(value), ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inspect_flat(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_inspect_key(k)}=>{_inspect_flat(v)}" for k, v in value.items()) + "}"
    return clean(str(value))


def text_for_result(result: RPCResult, spec: ActionSpec | None, colour: Colour) -> str:
    status = result.statuscode
    label = colour(_STATUS_COLOUR.get(status, "red"), STATUS_TEXT.get(status, "Unknown Request Status")) \
        if status else ""
    out = [f"{clean(result.sender):<40} {label}\n"]
    if result.statusmsg != "OK":
        out.append(f"   {colour('yellow', clean(result.statusmsg))}\n")
    if status == 0:
        data = result.data
        labels = {k: (spec.display_as(k) if spec else k) for k in data}
        longest = max((len(v) for v in labels.values()), default=0)
        for key in sorted(data):
            display = labels[key]
            padding = longest - len(display) + 3
            value = data[key]
            out.append(" " * padding + f"{display}:")
            if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
                lines = clean(str(value)).split("\n")
                if value == "":
                    out.append("\n")
                else:
                    for i, line in enumerate(lines):
                        pad = " " if i == 0 else " " * (padding + len(display) + 2)
                        out.append(f"{pad}{line}\n")
            else:
                hanging = " " * (longest + 5)
                out.append(" " + ruby_inspect(value).replace("\n", "\n" + hanging) + "\n")
    elif status > 1 and result.data:
        out.append("\n\t" + ruby_inspect(result.data).replace("\n", "\n\t") + "\n")
    out.append("\n")
    return "".join(out)


def render_results(results: Iterable[RPCResult], spec: ActionSpec | None, display: str | None,
                   colour: Colour, verbose: bool = False) -> str:
    policy = display or (spec.display if spec else "always")
    if policy == "all":
        policy = "always"
    out = []
    for result in results:
        if verbose:
            out.append(f"{clean(result.sender):<40}: {clean(result.statusmsg)}\n")
            out.append("    " + ruby_inspect(result.data).replace("\n", "\n    ") + "\n\n")
            continue
        if policy == "ok" and result.statuscode != 0:
            continue
        if policy == "failed" and result.statuscode == 0:
            continue
        if policy == "flatten":
            if result.statuscode <= 1:
                out.append(ruby_inspect(result.data) + "\n")
            continue
        out.append(text_for_result(result, spec, colour))
    return "".join(out)


def columns(names: list[str], minimum: int = 30) -> list[str]:
    """MCollective's 'No response from' grid."""
    if not names:
        return []
    size = max(minimum, max(len(n) for n in names))
    per_line = max(1, 90 // size)
    rows = []
    for i in range(0, len(names), per_line):
        rows.append("   " + "".join(f" {n:<{size}}" for n in names[i:i + per_line]))
    return rows


def render_stats(stats: RequestStats, colour: Colour, aggregates: list[tuple[str, str]] | None = None,
                 caption: str = "rpc stats", verbose: bool = False) -> str:
    lines: list[str] = []
    if aggregates:
        for display_as, text in aggregates:
            lines.append(colour("bold", f"Summary of {display_as}:"))
            lines.append("")
            if text:
                lines.extend("   " + line for line in text.split("\n"))
            else:
                lines.append(colour("yellow", "     No aggregate summary could be computed"))
            lines.append("")
    if verbose:
        lines.append(colour("yellow", f"---- {caption} ----"))
        if stats.discovered is not None:
            lines.append(f"           Nodes: {stats.discovered} / {stats.responses}")
        else:
            lines.append(f"           Nodes: {stats.responses}")
        lines.append(f"     Pass / Fail: {stats.okcount} / {stats.failcount}")
        lines.append("      Start Time: " + time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(stats.starttime)))
        lines.append(f"  Discovery Time: {stats.discoverytime * 1000:.2f}ms")
        lines.append(f"      Agent Time: {stats.blocktime * 1000:.2f}ms")
        lines.append(f"      Total Time: {stats.totaltime * 1000:.2f}ms")
    elif stats.discovered is not None:
        tint = "red" if stats.responses < stats.discovered else "green"
        lines.append(f"Finished processing {colour(tint, stats.responses)} / {colour(tint, stats.discovered)} "
                     f"hosts in {stats.blocktime * 1000:.2f} ms")
    else:
        lines.append(f"Finished processing {colour('bold', stats.responses)} hosts in {stats.blocktime * 1000:.2f} ms")
    missing = stats.noresponsefrom
    unexpected = stats.unexpectedresponsefrom
    if missing:
        lines += ["", colour("red", "No response from:"), ""] + columns(missing)
    if unexpected:
        lines += ["", colour("red", "Unexpected response from:"), ""] + columns(unexpected)
    if stats.late:
        lines += ["", colour("yellow", f"{stats.late} late repl{'y' if stats.late == 1 else 'ies'} "
                                       "arrived after the timeout and were not counted")]
    if stats.unverified:
        lines += ["", colour("yellow", f"{stats.unverified} repl{'y' if stats.unverified == 1 else 'ies'} "
                                       "failed verification and were ignored")]
    return "\n".join(lines) + "\n"


def render_json(results: list[RPCResult], stream: TextIO = sys.stdout) -> str:
    data = [r.to_json() for r in results]
    if hasattr(stream, "isatty") and stream.isatty():
        return json.dumps(data, indent=2, default=str) + "\n"
    return json.dumps(data, separators=(",", ":"), default=str) + "\n"
