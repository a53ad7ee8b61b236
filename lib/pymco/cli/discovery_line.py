"""The line that says what discovery did, on stderr, as MCollective prints it on a terminal.

MCollective: "Discovering hosts using the mc method for 2 second(s) .... 40".
pymco adds, after the count, why discovery ended before its timeout, and
names the known nodes that stayed silent, so a missing node is never a
silent one.  Shown with -v, or when stderr is a terminal; never with --json
or -q.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymco.discovery.mc import Outcome

if TYPE_CHECKING:
    from pymco.cli.application import Application
    from pymco.client.rpc import RPCClient

__all__ = ["wanted", "discover_with_line", "summary", "silent_line"]

_NAMES_SHOWN = 10


def wanted(app: "Application", json_out: bool = False) -> bool:
    if json_out or getattr(app.args, "quiet", False):
        return False
    if getattr(app.args, "verbose", False):
        return True
    isatty = getattr(app.stderr, "isatty", None)
    return bool(isatty and isatty())


def _nodes(count: int) -> str:
    return f"{count} known node{'' if count == 1 else 's'}"


def summary(outcome: Outcome | None) -> str:
    """What to add after the count: why discovery ended before its timeout, or that nothing was known."""
    if outcome is None:
        return ""
    new = f", {len(outcome.new)} new" if outcome.expected and outcome.new else ""
    if outcome.ended_early:
        if outcome.rule == "quiet":
            reason = "replies stopped (--dq)"
        elif outcome.rule == "known" and outcome.expected and not outcome.silent:
            reason = f"all {_nodes(len(outcome.expected))} answered{new}"
        else:
            reason = "enough nodes for --limit"
        return f" (ended after {outcome.elapsed:.2f} s: {reason})"
    if outcome.rule == "known" and not outcome.expected:
        return " (no known nodes for this filter yet: waited the full time)"
    return ""


def silent_line(outcome: Outcome | None) -> str | None:
    """The known nodes that did not answer, or None when every one did."""
    if outcome is None or not outcome.silent:
        return None
    silent = outcome.silent
    names = ", ".join(silent[:_NAMES_SHOWN])
    if len(silent) > _NAMES_SHOWN:
        names += f" and {len(silent) - _NAMES_SHOWN} more"
    return f"{_nodes(len(silent)).capitalize()} did not answer discovery: {names}"


def discover_with_line(app: "Application", client: "RPCClient", show: bool) -> list[str]:
    """Run the client's discovery, framed by MCollective's line when `show`."""
    if not show or client.skips_discovery:
        return client.discover()
    timeout = client.discovery_timeout if client.method_name == "mc" else 0
    if timeout > 0:
        app.stderr.write(f"Discovering hosts using the {client.method_name} method for {int(timeout)} second(s) .... ")
    else:
        app.stderr.write(f"Discovering hosts using the {client.method_name} method .... ")
    app.stderr.flush()
    nodes = client.discover()
    app.stderr.write(f"{len(nodes)}{summary(client.discovery_outcome)}\n")
    silent = silent_line(client.discovery_outcome)
    if silent:
        app.stderr.write(silent + "\n")
    app.stderr.flush()
    return nodes
