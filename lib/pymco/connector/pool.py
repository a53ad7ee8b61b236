"""One broker of a connector's pool, as the config describes it.

Its own module so that the TLS helpers and every transport (STOMP, NATS) can
share it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PoolMember"]


@dataclass
class PoolMember:
    index: int
    host: str
    port: int
    user: str | None
    password: str | None
    ssl: bool
    ssl_ca: str | None
    ssl_cert: str | None
    ssl_key: str | None
    ssl_fallback: bool

    def __str__(self) -> str:
        scheme = "stomp+ssl" if self.ssl else "stomp"
        who = f"{self.user}@" if self.user else ""
        return f"{scheme}://{who}{self.host}:{self.port}"
