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

stomp.py parses every header of every frame with `re.sub` (STOMP's header
escapes), a fifth of a daemon's CPU per request in a profile; the
replacement below gives the same dict, and only unescapes lines that hold a
backslash.

Use `from pymco.connector.stomp_import import stomp` everywhere instead of
`import stomp`.
"""

from __future__ import annotations

import re
import sys
import types

__all__ = ["stomp", "enable_tls", "parse_headers"]


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


_unescape_header = stomp.utils._unescape_header
_ESCAPED = re.compile(r"\\.")


def parse_headers(lines: list[str], offset: int = 0) -> dict[str, str]:
    """stomp.utils.parse_headers, without a regex call per line that has nothing to unescape."""
    headers: dict[str, str] = {}
    for line in lines[offset:]:
        key, colon, value = line.partition(":")
        if not colon or not key:  # HEADER_LINE_RE ("[^:]+:.*") does not match
            continue
        if "\\" in key:
            key = _ESCAPED.sub(_unescape_header, key)
        if key not in headers:
            headers[key] = _ESCAPED.sub(_unescape_header, value) if "\\" in value else value
    return headers


stomp.utils.parse_headers = parse_headers


def enable_tls() -> None:
    """Give stomp.py the real `ssl` module (before configuring a TLS connection)."""
    transport = stomp.transport
    if transport.ssl is _NO_TLS:
        import ssl

        transport.ssl = ssl
        transport.SSLError = ssl.SSLError
        transport.DEFAULT_SSL_VERSION = ssl.PROTOCOL_TLS_CLIENT
