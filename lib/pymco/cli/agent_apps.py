"""What the agent applications (`mco package`, `mco service`, `mco puppet`) share.

They print one line per node, `"%<w>s: %s"` with the width of the longest
sender name plus 3, and ask before changing nodes when no filter narrows the
request, as MCollective's applications do.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterable

from pymco.cli.application import Application
from pymco.cli.output import clean
from pymco.client.results import RPCResult

__all__ = ["sender_lines", "confirm_unfiltered", "action_word"]


def sender_lines(results: Iterable[RPCResult], text: Callable[[RPCResult], str | None]) -> str:
    """One line per result whose `text` is not None; failures show their status message."""
    results = list(results)
    if not results:
        return ""
    width = max(len(r.sender) for r in results) + 3
    lines = []
    for result in results:
        line = text(result) if result.ok else result.statusmsg
        if line is not None:
            lines.append(f"{clean(result.sender):>{width}}: {clean(str(line))}\n")
    return "".join(lines)


def confirm_unfiltered(app: Application, things: str) -> None:
    """Ask "Do you really want to operate on <things> unfiltered?" unless a filter or --yes says so."""
    if getattr(app.args, "yes", False) or not app.build_filter().empty:
        return
    app.stdout.write(f"Do you really want to operate on {things} unfiltered? (y/n): ")
    app.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise SystemExit(1)


def action_word(words: list[str], actions: Iterable[str]) -> tuple[str | None, str | None]:
    """(action, other word) from two words in either order; (None, None) if neither is an action."""
    known = set(actions)
    if words and words[0] in known:
        return words[0], (words[1] if len(words) > 1 else None)
    if len(words) > 1 and words[1] in known:
        return words[1], words[0]
    return None, None
