"""Import stomp.py without its websocket and multicast adapters.

`import stomp` pulls in the websocket-client package through
`stomp.adapter`, about half of `mco`'s start-up time, for transports pymco
never uses.  We register an empty `stomp.adapter` before importing the package
so only the TCP connection classes load.  Use `from pymco.connector.stomp_import
import stomp` everywhere instead of `import stomp`.
"""

from __future__ import annotations

import sys
import types

if "stomp" not in sys.modules:
    _adapter = types.ModuleType("stomp.adapter")
    _adapter.__path__ = []  # type: ignore[attr-defined]
    _adapter.ws = types.SimpleNamespace(WSStompConnection=None)  # type: ignore[attr-defined]
    sys.modules["stomp.adapter"] = _adapter

import stomp  # noqa: E402
import stomp.exception  # noqa: E402,F401

__all__ = ["stomp"]
