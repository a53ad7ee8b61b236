"""discovery: MCollective's non-RPC agent that answers "ping" with "pong".

`mco ping` and mc discovery broadcast "ping" to it with the filter; every
node the filter selects answers, which is how the client learns who exists.
"""

from __future__ import annotations

from typing import Any

from pymco.agent import Agent
from pymco.protocol.message import Request


class Discovery(Agent):
    simplerpc = False

    def runs_inline(self, request: Request) -> bool:
        return True  # "pong" or a one-line refusal: nothing that could block

    def handle_message(self, request: Request) -> Any:
        body = request.body
        if body == "ping" or body == b"ping":
            return "pong"
        return f"Unknown Request: {body!r}"
