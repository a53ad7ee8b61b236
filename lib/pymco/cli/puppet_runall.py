"""`mco puppet runall N`: run Puppet on every enabled node, at most N at a time.

MCollective's Puppetrunner loop: find the enabled nodes (a status call over
the command's filters), then keep starting forced runs on idle nodes while
fewer than N are applying, checking every second with one status call to
all of them.  A node is done once it is not applying and its last run is
not older than the run we started; one that never starts applying (5
checks) or stops answering (5 misses) is skipped, so one bad node cannot
hold up the rest.  `--rerun S` repeats the whole pass forever, at most once
every S seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from pymco.client.results import RPCResult
from pymco.matcher.filter import Filter

if TYPE_CHECKING:
    from pymco.cli.application import Application

__all__ = ["PuppetRunner"]

_MAX_CHECKS = 5


@dataclass
class HostRun:
    name: str
    initiated_at: int = 0
    checks: int = 0
    no_response: int = 0


class PuppetRunner:
    def __init__(self, app: "Application", concurrency: int, arguments: dict[str, Any],
                 log: Callable[[str], None], pause: float = 1.0) -> None:
        self.app = app
        self.concurrency = concurrency
        self.arguments = dict(arguments, force=True)
        self.log = log
        self.pause = pause

    def call(self, action: str, arguments: dict[str, Any], hosts: list[str] | None = None) -> list[RPCResult]:
        flt = Filter(identity=list(hosts)) if hosts is not None else None
        results: list[RPCResult] = []
        self.app.rpc_client("puppet", flt=flt).call(action, arguments, on_result=results.append)
        return results

    def runall_forever(self, min_time: int) -> None:
        self.log(f"Performing ongoing Puppet run management with a minimum runtime of {min_time} seconds "
                 f"between loops")
        while True:
            start = time.monotonic()
            try:
                self.runall_once()
            except Exception as exc:  # noqa: BLE001 - a failed pass must not end the loop
                self.log(f"Running nodes failed: {type(exc).__name__}: {exc}")
            took = time.monotonic() - start
            if took <= min_time:
                self.log(f"Running all hosts took {int(took)} seconds; sleeping for {int(min_time - took)} seconds "
                         f"due to minimum run time configuration of {min_time} seconds")
                time.sleep(min_time - took)
            else:
                self.log(f"Running all hosts took {int(took)} seconds; starting a new loop immediately due to "
                         f"minimum run time configuration of {min_time} seconds")

    def runall_once(self) -> None:
        self.log(f"Running all nodes with a concurrency of {self.concurrency}")
        self.log("Discovering enabled Puppet nodes to manage")
        hosts = sorted(r.sender for r in self.call("status", {}) if r.ok and r.data.get("enabled"))
        self.log(f"Found {len(hosts)} enabled {'node' if len(hosts) == 1 else 'nodes'}")
        self.runhosts(hosts)

    def runhosts(self, hosts: list[str]) -> None:
        waiting = list(hosts)
        running = self.applying(hosts, []) if hosts else []
        while waiting:
            for host in list(waiting):
                if len(running) >= self.concurrency:
                    break
                if any(run.name == host for run in running):
                    continue
                running.append(HostRun(host, self.runhost(host)))
                waiting.remove(host)
            time.sleep(self.pause)
            running = self.applying(hosts, running)
        self.log(f"Iteration complete. Initiated a Puppet run on {len(hosts)} nodes.")

    def runhost(self, host: str) -> int:
        results = self.call("runonce", self.arguments, [host])
        if not results:
            self.log(f"{host} did not return a result")
            return 0
        result = results[0]
        self.log(f"{host} schedule status: {result.data.get('summary') if result.ok else result.statusmsg}")
        try:
            return int(result.data.get("initiated_at") or 0)
        except (TypeError, ValueError):
            return 0

    def applying(self, hosts: list[str], runs: list[HostRun]) -> list[HostRun]:
        """Update `runs` from one status call: drop finished and hopeless hosts."""
        replies = {r.sender: r for r in self.call("status", {}, hosts)}
        for host in hosts:
            run = next((r for r in runs if r.name == host), None)
            if run is None:
                run = HostRun(host)
                runs.append(run)
            reply = replies.get(host)
            if reply is None:
                self.log(f"Host {host} did not respond to the status action.")
                run.no_response += 1
            elif reply.data.get("applying") is True:
                pass
            elif int(reply.data.get("lastrun") or 0) >= run.initiated_at:
                runs.remove(run)
                continue
            else:
                run.checks += 1
            if run.no_response >= _MAX_CHECKS:
                self.log(f"Host {host} failed to respond multiple times. Skipping.")
                runs.remove(run)
            elif run.checks >= _MAX_CHECKS:
                self.log(f"Host {host} did not move into an applying state. Skipping.")
                runs.remove(run)
        return runs
