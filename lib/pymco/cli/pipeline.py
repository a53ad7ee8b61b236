"""Output for pipelines: `--jsonl`, `--senders` and `--filter-replies EXPR`.

    mco rpc service status service=nginx --filter-replies 'status=stopped' --senders \\
        | mco rpc service start service=nginx

`--filter-replies` keeps the replies an expression selects.  The expression
is `-S` syntax, parsed and evaluated by the same code as `-S`
(`pymco.matcher.compound`, never `eval`), over one reply instead of one
node: `key=value` (any -S operator, numbers compare as numbers, dotted names
reach into nested data) reads the reply's data, falling back to the reply's
own `sender`, `statuscode` and `statusmsg`; a bare `key` is true when that
data value is truthy.  Stats and the exit code still count every reply.

`--jsonl` prints each kept reply as one JSON object per line as it arrives
and `--senders` each kept sender's identity; both feed `mco rpc`'s stdin
discovery.  Their stats go to stderr, so a node that did not answer is never
silently missing from a pipeline.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # imported by `mco rpc` before anything else: it must cost nothing
    from pymco.client.results import RPCResult

__all__ = ["add_arguments", "ReplyFilter", "ReplyOutput", "from_args"]

_RESULT_FIELDS = ("sender", "statuscode", "statusmsg")


def add_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--jsonl", action="store_true", help="Print one JSON object per reply as it arrives")
    group.add_argument("--senders", action="store_true", help="Print only the identities of the nodes that replied")
    group.add_argument("--filter-replies", dest="filter_replies", metavar="EXPR",
                       help="Keep only replies EXPR selects (-S syntax over the reply data, "
                            "e.g. 'status=stopped and statuscode=0')")


class _ReplyView:
    """One reply seen as a node by the -S evaluator: data keys are its facts."""

    def __init__(self, result: RPCResult) -> None:
        self.result = result
        self.identity = result.sender

    def agents(self) -> list[str]:
        return []

    def classes(self) -> list[str]:
        return [key for key, value in self.result.data.items() if value]

    def fact(self, name: str) -> Any:
        from pymco.facts.base import MISSING, lookup

        value = lookup(self.result.data, name)
        if value is MISSING and name in _RESULT_FIELDS:
            return getattr(self.result, name)
        return value

    def data(self, plugin: str, query: str | None) -> dict[str, Any] | None:
        return None


class ReplyFilter:
    """A --filter-replies expression, refused at start-up when malformed."""

    def __init__(self, expression: str) -> None:
        from pymco.errors import FilterSyntaxError
        from pymco.matcher.compound import functions, parse_compound

        try:
            self.callstack = parse_compound(expression)
        except FilterSyntaxError as exc:
            raise FilterSyntaxError(str(exc).replace("-S filter", "--filter-replies")) from None
        if functions(self.callstack):
            raise FilterSyntaxError(f"--filter-replies {expression!r}: data functions only work in -S")

    def __call__(self, result: RPCResult) -> bool:
        from pymco.matcher.compound import evaluate

        return evaluate(self.callstack, _ReplyView(result))


class ReplyOutput:
    """Which replies an application keeps, streaming the kept ones for --jsonl/--senders."""

    def __init__(self, stream: TextIO, keep: ReplyFilter | None, jsonl: bool, senders: bool) -> None:
        self.stream = stream
        self.keep = keep
        self.jsonl = jsonl
        self.senders = senders

    @property
    def streaming(self) -> bool:
        """True when replies are printed as they arrive and nothing else goes to stdout."""
        return self.jsonl or self.senders

    def accept(self, result: RPCResult) -> bool:
        """Whether `result` is kept; kept results are printed now when streaming."""
        if self.keep is not None and not self.keep(result):
            return False
        if self.senders:
            self.stream.write(result.sender + "\n")
        elif self.jsonl:
            self.stream.write(json.dumps(result.to_json(), separators=(",", ":"), default=str) + "\n")
        if self.streaming:
            self.stream.flush()
        return True


def from_args(args: argparse.Namespace, stream: TextIO) -> ReplyOutput | None:
    """The pipeline output the options ask for, or None (the application prints as usual)."""
    from pymco.cli.application import UsageError

    expression = getattr(args, "filter_replies", None)
    jsonl = bool(getattr(args, "jsonl", False))
    senders = bool(getattr(args, "senders", False))
    if jsonl and senders:
        raise UsageError("--jsonl and --senders cannot be combined")
    if (jsonl or senders) and getattr(args, "json", False):
        raise UsageError("--json cannot be combined with --jsonl or --senders")
    if expression is None and not (jsonl or senders):
        return None
    return ReplyOutput(stream, ReplyFilter(expression) if expression is not None else None, jsonl, senders)
