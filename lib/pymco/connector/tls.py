"""TLS to the broker: MCollective's `pool.N.ssl*` settings applied to stomp.py.

Verification is on by default (the broker's certificate must chain to
`pool.N.ssl.ca`, or to the system CAs when none is given, and match the host
name); `pool.N.ssl.fallback = 1` is MCollective's explicit opt-out.  stomp.py
only logs why a handshake failed, so `diagnose()` repeats the handshake to
give the operator the reason.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from typing import TYPE_CHECKING, Any

from pymco.errors import ConfigError

if TYPE_CHECKING:
    from pymco.connector.stomp import PoolMember

__all__ = ["configure_ssl", "diagnose", "context_for"]


def _ca_file(member: "PoolMember") -> str | None:
    if not member.ssl_ca:
        return None
    paths = [p.strip() for p in member.ssl_ca.split(",") if p.strip()]
    for path in paths:
        if not os.path.isfile(path):
            raise ConfigError(f"pool.{member.index}.ssl.ca: {path} does not exist")
    if len(paths) == 1:
        return paths[0]
    bundle = tempfile.NamedTemporaryFile("w", prefix="pymco-ca-", suffix=".pem", delete=False)
    with bundle:
        for path in paths:
            with open(path, encoding="ascii") as handle:
                bundle.write(handle.read().rstrip() + "\n")
    return bundle.name


def _check_files(member: "PoolMember") -> None:
    for label, path in (("ssl.cert", member.ssl_cert), ("ssl.key", member.ssl_key)):
        if path and not os.path.isfile(path):
            raise ConfigError(f"pool.{member.index}.{label}: {path} does not exist")


def configure_ssl(conn: Any, member: "PoolMember") -> None:
    _check_files(member)
    conn.set_ssl(
        for_hosts=[(member.host, member.port)],
        key_file=member.ssl_key,
        cert_file=member.ssl_cert,
        ca_certs=_ca_file(member),
        ssl_version=ssl.PROTOCOL_TLS_CLIENT,
        verify=not member.ssl_fallback,
    )


def context_for(member: "PoolMember") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca = _ca_file(member)
    if ca:
        context.load_verify_locations(ca)
    else:
        context.load_default_certs()
    if member.ssl_cert:
        context.load_cert_chain(member.ssl_cert, member.ssl_key or member.ssl_cert)
    if member.ssl_fallback:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def diagnose(member: "PoolMember", timeout: float) -> str | None:
    """Why a TLS connection to `member` fails, or None if the handshake works."""
    try:
        context = context_for(member)
        with socket.create_connection((member.host, member.port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=member.host):
                return None
    except ssl.SSLCertVerificationError as exc:
        return f"TLS certificate verification failed: {exc.verify_message}"
    except ssl.SSLError as exc:
        return f"TLS handshake failed: {exc.reason or exc}"
    except OSError as exc:
        return str(exc)
