"""TLS to the broker: MCollective's `pool.N.ssl*` settings applied to stomp.py.

Verification is on by default (the broker's certificate must chain to
`pool.N.ssl.ca`, or to the system CAs when none is given, and match the host
name); `pool.N.ssl.fallback = 1` is MCollective's explicit opt-out.

stomp.py only logs why a handshake failed, and fails late and obscurely on a
bad key file (or prompts for a passphrase on the terminal), so this module
checks the files before connecting (`configure_ssl` raises ConfigError naming
the setting) and `diagnose()` repeats a failed handshake to tell the operator
the reason in one line.  `speaks_tls()` recognises a TLS port reached without
`ssl = 1`, the other common mistake.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from typing import Any

from pymco.connector.pool import PoolMember
from pymco.errors import ConfigError

__all__ = ["configure_ssl", "diagnose", "context_for", "speaks_tls"]

_bundles: dict[tuple[str, ...], str] = {}


def _where(member: PoolMember, prefix: str | None) -> str:
    return prefix or f"pool.{member.index}"


def _ca_file(member: PoolMember, prefix: str | None = None) -> str | None:
    if not member.ssl_ca:
        return None
    paths = tuple(p.strip() for p in member.ssl_ca.split(",") if p.strip())
    for path in paths:
        if not os.path.isfile(path):
            raise ConfigError(f"{_where(member, prefix)}.ssl.ca: {path} does not exist")
    if len(paths) == 1:
        return paths[0]
    if paths in _bundles and os.path.isfile(_bundles[paths]):
        return _bundles[paths]
    bundle = tempfile.NamedTemporaryFile("w", prefix="pymco-ca-", suffix=".pem", delete=False)
    with bundle:
        for path in paths:
            with open(path, encoding="ascii") as handle:
                bundle.write(handle.read().rstrip() + "\n")
    _bundles[paths] = bundle.name
    return bundle.name


def _no_passphrase() -> str:
    raise ValueError("encrypted")


def context_for(member: PoolMember, prefix: str | None = None) -> ssl.SSLContext:
    """The client context stomp.py will build, built here first so that bad files fail clearly."""
    where = _where(member, prefix)
    for label, path in (("ssl.cert", member.ssl_cert), ("ssl.key", member.ssl_key)):
        if path and not os.path.isfile(path):
            raise ConfigError(f"{where}.{label}: {path} does not exist")
    if member.ssl_key and not member.ssl_cert:
        raise ConfigError(f"{where}.ssl.key is set without {where}.ssl.cert")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca = _ca_file(member, prefix)
    try:
        if ca:
            context.load_verify_locations(ca)
        else:
            context.load_default_certs()
    except ssl.SSLError as exc:
        raise ConfigError(f"{where}.ssl.ca: {member.ssl_ca} holds no usable PEM certificate ({exc.reason})") from None
    if member.ssl_cert:
        try:
            context.load_cert_chain(member.ssl_cert, member.ssl_key or member.ssl_cert, password=_no_passphrase)
        except ValueError:
            raise ConfigError(f"{where}.ssl.key: {member.ssl_key} is encrypted; pymco needs an unencrypted key "
                              f"(readable by its user only)") from None
        except (ssl.SSLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"{where}.ssl.cert/.ssl.key: cannot use {member.ssl_cert} with "
                              f"{member.ssl_key or member.ssl_cert}: {reason}") from None
    if member.ssl_fallback:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def configure_ssl(conn: Any, member: PoolMember, prefix: str | None = None) -> None:
    """Check the member's TLS files (ConfigError naming the setting) and hand them to stomp.py."""
    context_for(member, prefix)
    conn.set_ssl(
        for_hosts=[(member.host, member.port)],
        key_file=member.ssl_key,
        cert_file=member.ssl_cert,
        ca_certs=_ca_file(member, prefix),
        ssl_version=ssl.PROTOCOL_TLS_CLIENT,
        verify=not member.ssl_fallback,
    )


def diagnose(member: PoolMember, timeout: float, prefix: str | None = None) -> str | None:
    """Why a TLS connection to `member` fails, or None if the handshake works."""
    where = _where(member, prefix)
    try:
        context = context_for(member, prefix)
        with socket.create_connection((member.host, member.port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=member.host):
                return None
    except ConfigError as exc:
        return str(exc)
    except ssl.SSLCertVerificationError as exc:
        message = exc.verify_message or str(exc)
        if exc.verify_code in (2, 18, 19, 20, 21):  # unknown issuer / self-signed: the wrong CA
            trusted = f"{where}.ssl.ca = {member.ssl_ca}" if member.ssl_ca else \
                f"the system's CAs ({where}.ssl.ca is not set)"
            message += f" (the broker's certificate is not signed by a CA in {trusted})"
        return f"TLS certificate verification failed: {message}"
    except ssl.SSLError as exc:
        return f"TLS handshake failed: {exc.reason or exc}"
    except OSError as exc:
        return exc.strerror or str(exc)


def speaks_tls(host: str, port: int, timeout: float) -> bool:
    """Whether `host:port` completes a TLS handshake (certificate not checked: only a hint)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host):
                return True
    except (OSError, ssl.SSLError):
        return False
