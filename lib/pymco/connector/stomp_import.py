"""Import stomp.py without its websocket and multicast adapters, and without `ssl`.

`import stomp` pulls in the websocket-client package through
`stomp.adapter`, about half of `mco`'s start-up time, for transports pymco
never uses.  We register an empty `stomp.adapter` before importing the package
so only the TCP connection classes load.

`stomp.transport` also imports `ssl` at the top, which maps OpenSSL's libssl
and libcrypto into every process: about 2 MiB of RSS per daemon and several
milliseconds of every `mco` run, for the few brokers reached over TLS.  So the
module is imported with `ssl` hidden, and `stomp.transport` gets a stand-in
whose exception classes are never raised (plain sockets cannot raise SSL
errors); `enable_tls()` puts the real module back before the first TLS
connection is configured.

Use `from pymco.connector.stomp_import import stomp` everywhere instead of
`import stomp`.
"""

from __future__ import annotations

import sys
import types

__all__ = ["stomp", "enable_tls"]


class _NeverRaised(Exception):
    """Stands for ssl's exception classes while no TLS socket can exist."""


_NO_TLS = types.SimpleNamespace(SSLWantReadError=_NeverRaised, SSLWantWriteError=_NeverRaised,
                                SSLError=_NeverRaised)

if "stomp" not in sys.modules:
    _adapter = types.ModuleType("stomp.adapter")
    _adapter.__path__ = []  # type: ignore[attr-defined]
    _adapter.ws = types.SimpleNamespace(WSStompConnection=None)  # type: ignore[attr-defined]
    sys.modules["stomp.adapter"] = _adapter
    _hide_ssl = "ssl" not in sys.modules
    if _hide_ssl:
        sys.modules["ssl"] = None  # type: ignore[assignment]  # `import ssl` raises ImportError
    try:
        import stomp  # noqa: E402
        import stomp.exception  # noqa: E402,F401
        import stomp.transport  # noqa: E402,F401
    finally:
        if _hide_ssl and sys.modules.get("ssl", 0) is None:
            del sys.modules["ssl"]
    if stomp.transport.ssl is None:
        stomp.transport.ssl = _NO_TLS
        stomp.transport.SSLError = _NeverRaised
else:
    import stomp  # noqa: E402
    import stomp.exception  # noqa: E402,F401
    import stomp.transport  # noqa: E402,F401


def enable_tls() -> None:
    """Give stomp.py the real `ssl` module (before configuring a TLS connection)."""
    transport = stomp.transport
    if transport.ssl is _NO_TLS:
        import ssl

        transport.ssl = ssl
        transport.SSLError = ssl.SSLError
        transport.DEFAULT_SSL_VERSION = ssl.PROTOCOL_TLS_CLIENT
