"""`puppetdb` discovery (`--dm puppetdb`): ask PuppetDB which nodes a filter selects.

Puppet shops already keep every node's facts, classes and resources in
PuppetDB, so discovery there costs no broadcast and no discovery wait: one
HTTPS query (~0.1 s), then requests go to each node directly, and nodes that
do not answer are listed as usual.  The filter becomes PQL (pymco.discovery.pql),
restricted to the request's collective as the nodes' catalogs give it.

The server is `plugin.puppetdb.server` (`host[:port]` or an `https://` URL,
default `puppet:8081`), always HTTPS with the Puppet certificate the x509
security provider uses (`plugin.x509.*`, resolved by
pymco.security.x509_paths), whatever `securityprovider` is: PuppetDB trusts
certificates of its own CA, and its certificate is checked against that CA
and the host name.

The HTTP wait is `--dt`/`discovery_timeout` when one is given, else
DEFAULT_TIMEOUT: PuppetDB usually answers in a tenth of a second and the wait
ends with the answer, so the bound only matters for a PuppetDB that is busy
or gone.  Every failure (connection, TLS, certificates, an HTTP error with
PuppetDB's message, an answer that is not a node list) is one DiscoveryError.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from pymco.discovery import pql
from pymco.discovery.base import DiscoveryMethod, DiscoveryRequest
from pymco.errors import DiscoveryError
from pymco.matcher.filter import FactTerm
from pymco.paths import builtin_dir
from pymco.security.x509_paths import X509Paths, x509_paths

log = logging.getLogger(__name__)

__all__ = ["PuppetdbDiscovery", "Server", "parse_server", "DEFAULT_SERVER", "DEFAULT_TIMEOUT", "QUERY_PATH"]

DEFAULT_SERVER = "puppet:8081"
DEFAULT_PORT = 8081
DEFAULT_TIMEOUT = 10.0
QUERY_PATH = "/pdb/query/v4"
_MAX_ANSWER = 256 << 20
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    prefix: str  # a path before /pdb/query/v4 (PuppetDB behind a proxy), '' usually

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{self.prefix}"


def parse_server(value: str) -> Server:
    """`host`, `host:port` or `https://host[:port][/prefix]`; anything else is a DiscoveryError."""
    value = value.strip()
    text = value if "://" in value else "https://" + value
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise DiscoveryError(f"plugin.puppetdb.server {value!r} is not host[:port] or https://host[:port]: "
                             f"{exc}") from None
    if parts.scheme != "https":
        raise DiscoveryError(f"plugin.puppetdb.server {value!r}: PuppetDB is queried over https only")
    if not parts.hostname or parts.query or parts.fragment or parts.username:
        raise DiscoveryError(f"plugin.puppetdb.server {value!r} is not host[:port] or https://host[:port]")
    return Server(parts.hostname, port, parts.path.rstrip("/"))


def tls_context(paths: X509Paths) -> ssl.SSLContext:
    """Verify PuppetDB against the Puppet CA, its CRL when there is one, and the host name; present our certificate."""
    for setting, path in (("plugin.x509.ca", paths.ca), ("plugin.x509.cert", paths.cert),
                          ("plugin.x509.private_key", paths.private_key)):
        if not os.access(path, os.R_OK):
            reason = "does not exist" if not os.path.exists(path) else "is not readable"
            raise DiscoveryError(f"PuppetDB discovery needs the Puppet certificate files: {setting} {path} {reason}")
    try:
        context = ssl.create_default_context(cafile=paths.ca)
        context.load_cert_chain(paths.cert, paths.private_key)
    except (ssl.SSLError, OSError) as exc:
        raise DiscoveryError(f"cannot use the Puppet certificate {paths.cert} with key {paths.private_key} "
                             f"and CA {paths.ca}: {exc}") from None
    if paths.crl_required or os.path.exists(paths.crl):  # as the x509 provider's CRL
        try:
            context.load_verify_locations(cafile=paths.crl)
        except (ssl.SSLError, OSError) as exc:
            raise DiscoveryError(f"cannot read the CRL {paths.crl}: {exc}") from None
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return context


def _message(body: bytes) -> str:
    """PuppetDB's error text (plain text, sometimes JSON) on one short line."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            text = data["error"]
    except ValueError:
        pass
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def _connection_error(server: Server, exc: BaseException) -> DiscoveryError:
    where = f"PuppetDB at {server.url}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DiscoveryError(f"{where}: its certificate is not trusted: {exc.verify_message or exc}")
    if isinstance(exc, ssl.SSLError):
        return DiscoveryError(f"{where}: TLS failed ({exc.reason or exc}); does PuppetDB trust our certificate?")
    if isinstance(exc, socket.gaierror):
        return DiscoveryError(f"{where}: unknown host {server.host} ({exc.strerror})")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return DiscoveryError(f"{where} did not answer in time")
    if isinstance(exc, ConnectionRefusedError):
        return DiscoveryError(f"{where} refused the connection")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return DiscoveryError(f"{where}: {reason}")


def run_query(server: Server, context: ssl.SSLContext, pql_query: str, timeout: float) -> list[dict[str, Any]]:
    """POST the PQL as a JSON body (PuppetDB refuses form-encoded POSTs) and return its rows."""
    if timeout <= 0:
        raise DiscoveryError(f"PuppetDB at {server.url} did not answer in time")
    body = json.dumps({"query": pql_query}).encode("utf-8")
    log.debug("PQL to %s: %s", server.url, pql_query)
    connection = http.client.HTTPSConnection(server.host, server.port, context=context, timeout=timeout)
    try:
        connection.request("POST", server.prefix + QUERY_PATH, body=body,
                           headers={"Content-Type": "application/json", "Accept": "application/json"})
        response = connection.getresponse()
        answer = response.read(_MAX_ANSWER + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise _connection_error(server, exc) from None
    finally:
        connection.close()
    if response.status != 200:
        raise DiscoveryError(f"PuppetDB at {server.url} answered {response.status} {response.reason}: "
                             f"{_message(answer)}")
    if len(answer) > _MAX_ANSWER:
        raise DiscoveryError(f"PuppetDB at {server.url} answered more than {_MAX_ANSWER} bytes")
    try:
        rows = json.loads(answer)
    except ValueError as exc:
        raise DiscoveryError(f"PuppetDB at {server.url} answered with invalid JSON: {exc}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DiscoveryError(f"PuppetDB at {server.url} answered {type(rows).__name__}, not a list of nodes")
    return rows


def builtin_agents() -> list[str]:
    """The agents every pymcod has without configuration (the package's own)."""
    return sorted(n[:-3] for n in os.listdir(builtin_dir("_agents")) if n.endswith(".py") and not n.startswith("_"))


class PuppetdbDiscovery(DiscoveryMethod):
    name = "puppetdb"
    capabilities = frozenset({"identity", "facts", "classes", "agents", "compound"})

    def discover(self, request: DiscoveryRequest) -> list[str]:
        config = self.session.config
        server = parse_server(config.plugin("puppetdb.server") or DEFAULT_SERVER)
        timeout = request.timeout if request.explicit_timeout else DEFAULT_TIMEOUT
        deadline = time.monotonic() + timeout
        flt = request.filter
        terms = pql.inequalities(flt)
        agents = builtin_agents() if flt.agent else []
        # translated before connecting, so a filter PuppetDB cannot answer is refused first; with inequalities
        # this is a trial (their node lists are known only after asking for the facts' values)
        query = pql.query(flt, agents, {t: pql.Resolved(frozenset(), frozenset()) for t in terms},
                          request.collective)
        context = tls_context(x509_paths(config))
        resolved: dict[FactTerm, pql.Resolved] = {}
        for term in terms:
            rows = run_query(server, context, pql.values_query(term), deadline - time.monotonic())
            resolved[term] = pql.resolve(term, rows)
        if terms:
            query = pql.query(flt, agents, resolved, request.collective)
        rows = run_query(server, context, query, deadline - time.monotonic())
        selected = {row["certname"] for row in rows if isinstance(row.get("certname"), str)}
        for term in flt.fact:
            if term.operator in pql.INEQUALITIES:
                selected &= resolved[term].matched
        found = sorted(selected)
        if request.limit is not None:
            found = found[:request.limit]
        return found
