"""`flatfile` discovery (`--nodes FILE` or `--dm flatfile --do FILE`).

One identity per line; blank lines and `#` comments are skipped; identity
filters (exact or /regex/) still apply.
"""

from __future__ import annotations

from pymco.discovery.base import DiscoveryMethod, DiscoveryRequest
from pymco.errors import DiscoveryError
from pymco.matcher.view import name_matches

__all__ = ["FlatfileDiscovery", "read_identities", "apply_identity_filter"]


def read_identities(lines: list[str]) -> list[str]:
    nodes = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            nodes.append(line)
    return list(dict.fromkeys(nodes))


def apply_identity_filter(nodes: list[str], identities: list[str]) -> list[str]:
    if not identities:
        return nodes
    return [n for n in nodes if any(name_matches(i, n) for i in identities)]


class FlatfileDiscovery(DiscoveryMethod):
    name = "flatfile"
    capabilities = frozenset({"identity"})

    def discover(self, request: DiscoveryRequest) -> list[str]:
        if not request.options:
            raise DiscoveryError("The flatfile discovery method needs a file name (--do FILE or --nodes FILE)")
        path = request.options[0]
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.readlines()
        except OSError as exc:
            raise DiscoveryError(f"Cannot read the node list {path}: {exc.strerror}") from None
        return apply_identity_filter(read_identities(lines), request.filter.identity)
