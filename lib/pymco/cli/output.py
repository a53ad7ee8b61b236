"""Rendering results the way MCollective's `printrpc`/`printrpcstats` do.

Per-node blocks follow the action's DDL display policy (or `--display`),
with `display_as` labels right-aligned; non-scalar values print in Ruby's
inspect style so output reads as operators know it; the blank lines around
the summary and the statistics are Ruby's, so scripts that cut the output
keep working.  ESC bytes in node data are stripped so a node cannot paint the
operator's terminal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Iterable, TextIO

from pymco.client.results import RequestStats, RPCResult
from pymco.ddl.model import ActionSpec
from pymco.rubytext import clean, inspect, key_inspect
from pymco.status import STATUS_TEXT

__all__ = ["Colour", "text_for_result", "render_results", "render_stats", "ruby_inspect", "render_json",
           "columns", "clean"]


class Colour:
    """ANSI colours, on only when wanted, writing to a terminal and NO_COLOR (no-color.org) is unset."""

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
        return cls(wanted and not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty())


_STATUS_COLOUR = {1: "red", 2: "yellow", 3: "yellow", 4: "yellow", 5: "red"}


def ruby_inspect(value: Any, width: int = 80, indent: int = 0, symbol_keys: bool = False) -> str:
    """Ruby's pretty_inspect, close enough for reading: one line if it fits."""
    flat = inspect(value, symbol_keys)
    if len(flat) + indent <= width or not isinstance(value, (list, dict)) or not value:
        return flat
    pad = " " * (indent + 1)
    if isinstance(value, list):
        parts = [ruby_inspect(v, width, indent + 1) for v in value]
        return "[" + (",\n" + pad).join(parts) + "]"
    parts = []
    for key, item in value.items():
        head = f"{key_inspect(key, symbol_keys)}=>"
        parts.append(head + ruby_inspect(item, width, indent + 1 + len(head)))
    return "{" + (",\n" + pad).join(parts) + "}"


def text_for_result(result: RPCResult, spec: ActionSpec | None, colour: Colour) -> str:
    """Ruby's Helpers.text_for_result: a failed reply shows its status and message only, never its data."""
    status = result.statuscode
    label = colour(_STATUS_COLOUR.get(status, "red"), STATUS_TEXT.get(status, "Unknown Request Status")) \
        if status else ""
    out = [f"{clean(result.sender):<40} {label}\n"]
    if result.statusmsg != "OK":
        out.append(f"   {colour('yellow', clean(result.statusmsg))}\n")
    if status == 0 and isinstance(result.data, dict):
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
    elif status == 0:
        out.append("\n\t" + ruby_inspect(result.data).replace("\n", "\n\t"))
    out.append("\n")
    return "".join(out)


def _verbose_result(result: RPCResult) -> str:
    """Ruby's old_rpcresults (`-v`): sender and message, then the data as Ruby inspects it (Symbol keys)."""
    text = f"{clean(result.sender):<40}: {clean(result.statusmsg)}\n"
    if result.statuscode <= 1:
        return text + "    " + ruby_inspect(result.data, symbol_keys=True).replace("\n", "\n    ") + "\n\n"
    if result.statuscode <= 4:
        return text
    return text + f"    {clean(result.statusmsg)}\n"


def render_results(results: Iterable[RPCResult], spec: ActionSpec | None, display: str | None,
                   colour: Colour, verbose: bool = False) -> str:
    policy = display or (spec.display if spec else "always")
    if policy == "all":
        policy = "always"
    out = []
    for result in results:
        if verbose:
            out.append(_verbose_result(result))
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
    """MCollective's 'No response from' grid (Util.field_size / field_number), padding kept."""
    if not names:
        return []
    size = max(minimum, max(len(n) for n in names))
    per_line = max(1, 90 // size)
    names = sorted(names)
    rows = []
    for i in range(0, len(names), per_line):
        row = names[i:i + per_line]
        rows.append("   " + "".join(f" {n:<{size}}" for n in row + [""] * (per_line - len(row))))
    return rows


def _aggregate_text(aggregates: list[tuple[str, str]], colour: Colour) -> str:
    """Ruby's Stats#text_for_aggregates: each summary followed by a blank line."""
    lines: list[str] = []
    for display_as, text in aggregates:
        lines += [colour("bold", f"Summary of {display_as}:"), ""]
        if text:
            lines.extend("   " + line for line in text.split("\n"))
        else:
            lines.append(colour("yellow", "     No aggregate summary could be computed"))
        lines.append("")
    return "".join(line + "\n" for line in lines)


def render_stats(stats: RequestStats, colour: Colour, aggregates: list[tuple[str, str]] | None = None,
                 caption: str = "rpc stats", verbose: bool = False) -> str:
    """What Ruby's `printrpcstats` prints (Stats#report through `puts`), blank lines included."""
    lines: list[str] = [_aggregate_text(aggregates, colour) if aggregates else ""]
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
        lines = [f"Finished processing {colour('bold', stats.responses)} hosts in {stats.blocktime * 1000:.2f} ms"]
    lines.append("")
    for title, names in (("No response from:", stats.noresponsefrom),
                         ("Unexpected response from:", stats.unexpectedresponsefrom)):
        if names:
            lines += ["", "\n".join([colour("red", title), ""] + columns(list(names))) + "\n"]
    lines.append("")
    notes = []
    if stats.late:
        notes.append(colour("yellow", f"{stats.late} late repl{'y' if stats.late == 1 else 'ies'} "
                                      "arrived after the timeout and were not counted"))
    if stats.unverified:
        notes.append(colour("yellow", f"{stats.unverified} repl{'y' if stats.unverified == 1 else 'ies'} "
                                      "failed verification and were ignored"))
    text = "\n".join(lines)
    if notes:
        text = text.rstrip("\n") + "\n\n" + "\n".join(notes) + "\n"
    return text if text.endswith("\n") else text + "\n"


def render_json(results: list[Any], stream: TextIO = sys.stdout) -> str:
    """A JSON array (`[]` when nothing matched), pretty on a terminal and compact in a pipe, as Ruby's `--json`."""
    data = [r.to_json() if isinstance(r, RPCResult) else r for r in results]
    if hasattr(stream, "isatty") and stream.isatty():
        return json.dumps(data, indent=2, default=str) + "\n"
    return json.dumps(data, separators=(",", ":"), default=str) + "\n"
