"""service: start, stop, restart and query services (MCollective's service agent).

MCollective's rules: starting a running service (or stopping a stopped one)
fails with "Could not start '<name>': Service is already running" and still
reports the status; restart always acts.  After acting, the agent waits for
the service to settle (up to `plugin.service.settle_time`, default 2 s,
where MCollective slept 0.5 s) and reports the state it then has.
"""

from __future__ import annotations

import time

from pymco.agent import Agent, action
from pymco.service import RUNNING, STOPPED, ServiceProvider, make_service

_POLL = 0.1


class Service(Agent):
    def provider(self, request) -> ServiceProvider:
        return make_service(request["service"], self.config)

    def settled(self, provider: ServiceProvider, wanted: str) -> str:
        deadline = time.monotonic() + float(self.setting("settle_time", 2))
        while True:
            state = provider.status()
            if state == wanted or time.monotonic() >= deadline:
                return state
            time.sleep(_POLL)

    def change(self, request, reply, verb: str, wanted: str) -> None:
        provider = self.provider(request)
        if not provider.checks_state:
            reply["status"] = getattr(provider, verb)()
            return
        if verb != "restart" and provider.status() == wanted:
            reply["status"] = wanted
            reply.abort(f"Could not {verb} '{request['service']}': Service is already {wanted}")
        getattr(provider, verb)()
        reply["status"] = self.settled(provider, wanted)

    @action
    def start(self, request, reply):
        self.change(request, reply, "start", RUNNING)

    @action
    def stop(self, request, reply):
        self.change(request, reply, "stop", STOPPED)

    @action
    def restart(self, request, reply):
        self.change(request, reply, "restart", RUNNING)

    @action
    def status(self, request, reply):
        reply["status"] = self.provider(request).status()
