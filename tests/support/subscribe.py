"""A raw stomp.py SUBSCRIBE that returns only once the broker has bound it.

The broker handles each connection's frames in order but races frames of
different connections, so a request published right after another
connection's SUBSCRIBE can be routed before that binding exists.  Taps,
fake responders and the benchmarks' repliers wait for the SUBSCRIBE's
receipt instead of sleeping.
"""

from __future__ import annotations

import threading
from typing import Any


class _ReceiptWaiter:
    def __init__(self, receipt: str) -> None:
        self.receipt = receipt
        self.arrived = threading.Event()

    def on_receipt(self, frame: Any) -> None:
        if frame.headers.get("receipt-id") == self.receipt:
            self.arrived.set()


def subscribe_confirmed(conn: Any, destination: str, sub_id: str, headers: dict[str, str] | None = None,
                        timeout: float = 30) -> None:
    """Subscribe `conn` to `destination` (ack auto) and wait for the broker's receipt."""
    receipt = f"confirm-{sub_id}"
    waiter = _ReceiptWaiter(receipt)
    conn.set_listener(receipt, waiter)
    try:
        conn.subscribe(destination, id=sub_id, ack="auto", headers={**(headers or {}), "receipt": receipt})
        if not waiter.arrived.wait(timeout):
            raise RuntimeError(f"the broker did not confirm the subscription to {destination} in {timeout:g}s")
    finally:
        conn.remove_listener(receipt)
