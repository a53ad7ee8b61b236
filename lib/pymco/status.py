"""SimpleRPC status codes and MCollective's words for them.

A module of its own so the client can print results without importing the
agent framework (`pymco.agent` re-exports it).
"""

from __future__ import annotations

__all__ = ["STATUS_TEXT"]

STATUS_TEXT = {
    0: "OK",
    1: "Request Aborted",
    2: "Unknown Action",
    3: "Missing Request Data",
    4: "Invalid Request Data",
    5: "Unknown Request Status",
}
