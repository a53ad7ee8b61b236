"""`stdin` discovery (`--dm stdin`, or piped input to `mco rpc` / `mco find`).

The input is one identity per line (`mco rpc --senders`), the JSON array
`mco rpc --json` prints, or the JSON lines `mco rpc --jsonl` prints (each
object's `sender`, or `certname`), so one command's results choose the next
command's nodes:

    mco rpc package status package=nginx --json | jq '[.[] | select(.data.status=="absent")]' \\
        | mco rpc package install package=nginx

`--do text|json|jsonl|auto` forces a format (auto: JSON when the input starts
with `[`, JSON lines when it starts with `{`).  Identity filters still apply
to the list, exact or /regex/.
"""

from __future__ import annotations

import json
import re
import sys
from typing import TextIO

from pymco.discovery.base import DiscoveryMethod, DiscoveryRequest
from pymco.discovery.flatfile import apply_identity_filter, read_identities
from pymco.errors import DiscoveryError

__all__ = ["StdinDiscovery", "parse_node_list", "piped_input"]

_IDENTITY = re.compile(r"^[\w.\-]+$")
_MAX_INPUT = 64 * 1024 * 1024
_cached: str | None = None


def piped_input(stream: TextIO | None = None) -> str:
    """Standard input read once (it can only be read once), '' when it is a terminal or closed."""
    global _cached
    if _cached is None:
        stream = stream if stream is not None else sys.stdin
        if stream is None or stream.closed or stream.isatty():
            _cached = ""
        else:
            _cached = stream.read(_MAX_INPUT + 1)
            if len(_cached) > _MAX_INPUT:
                raise DiscoveryError(f"the node list on standard input is larger than {_MAX_INPUT} bytes")
    return _cached


def _from_json(data: str, lines: bool = False) -> list[str]:
    try:
        hosts = [json.loads(line) for line in data.splitlines() if line.strip()] if lines else json.loads(data)
    except ValueError as exc:
        raise DiscoveryError(f"the JSON node list on standard input is not valid JSON: {exc}") from None
    if not isinstance(hosts, list):
        raise DiscoveryError("JSON hosts list is not an array")
    found = []
    for host in hosts:
        if not isinstance(host, dict):
            raise DiscoveryError("JSON host list is not an array of Hashes")
        name = host.get("sender") or host.get("certname")
        if not isinstance(name, str):
            raise DiscoveryError("JSON host list does not have senders in it")
        found.append(name)
    return list(dict.fromkeys(found))


def parse_node_list(data: str, kind: str = "auto") -> list[str]:
    """Identities from text or JSON input, checked as MCollective checks them."""
    if not data.strip():
        raise DiscoveryError("data piped on STDIN contained only whitespace - could not discover hosts from it.")
    kind = kind.lower()
    if kind == "auto":
        start = data.lstrip()[:1]
        kind = {"[": "json", "{": "jsonl"}.get(start, "text")
    if kind in ("json", "jsonl"):
        hosts = _from_json(data, lines=kind == "jsonl")
    elif kind == "text":
        hosts = read_identities(data.splitlines())
    else:
        raise DiscoveryError(f'stdin discovery plugin only knows the types auto/text/json/jsonl, not "{kind}"')
    for host in hosts:
        if not _IDENTITY.match(host):
            raise DiscoveryError(f"Identities can only match /\\w\\.\\-/: {host!r:.60} does not")
    return hosts


class StdinDiscovery(DiscoveryMethod):
    name = "stdin"
    capabilities = frozenset({"identity"})

    def discover(self, request: DiscoveryRequest) -> list[str]:
        kind = request.options[0] if request.options else "auto"
        hosts = parse_node_list(piped_input(), kind)
        return apply_identity_filter(hosts, request.filter.identity)
