"""puppet: run Puppet, report and lock it, apply single resources (MCollective's puppet agent).

State comes from Puppet's own files (pymco.puppet.state) at the paths
`puppet config print` gives.  Settings are MCollective's `plugin.puppet.*`:
command, config, splay, splaylimit, signal_daemon, allow_server_override and
the resource_* policy keys.  A `plugin.puppet.command` of `puppet apply ...`
makes the node masterless: runonce runs that instead of `puppet agent`,
and status/last_run_summary read that run's state.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable

from pymco.agent import Agent, action
from pymco.config import str_to_bool
from pymco.errors import ActionFailed
from pymco.puppet import agent_state, puppet_config, run_command
from pymco.puppet.resource import apply_resource, check_policy, reference
from pymco.puppet.runonce import RunCommand, RunOptions, cli_options
from pymco.puppet.state import AgentState


def _truthy(value: Any) -> bool:
    """The undeclared `ignoreschedules` input: a boolean, or a boolean word from `mco rpc`."""
    if isinstance(value, str):
        try:
            return str_to_bool(value)
        except ValueError:
            return False
    return bool(value)


class Puppet(Agent):
    def command(self) -> RunCommand:
        return run_command(self.config)

    def state(self) -> AgentState:
        return agent_state(self.config)

    def flag(self, key: str, default: bool) -> bool:
        return self.config.plugin_bool(f"puppet.{key}", default)

    # ------------------------------------------------------------ lock
    def switch(self, reply, verb: str, change: Callable[[AgentState], str]) -> None:
        """enable/disable: the outcome in `status` (failing softly, as MCollective), then `enabled`."""
        state = self.state()
        try:
            reply["status"] = change(state)
        except ActionFailed as exc:
            reply["status"] = f"Could not {verb} Puppet: {exc}"
            reply.fail(reply["status"])
        reply["enabled"] = not state.disabled()

    @action
    def disable(self, request, reply):
        message = request.get("message") or (f"Disabled via MCollective by {request.caller} at "
                                              f"{time.strftime('%Y-%m-%d %H:%M')}")
        self.switch(reply, "disable", lambda state: f"Succesfully locked the Puppet agent: {state.disable(message)}")

    @action
    def enable(self, request, reply):
        self.switch(reply, "enable", lambda state: state.enable() or "Succesfully enabled the Puppet agent")

    # ------------------------------------------------------------ reporting
    @action
    def status(self, request, reply):
        for key, value in self.state().status().items():
            reply[key] = value

    @action
    def last_run_summary(self, request, reply):
        state = self.state()
        summary = state.load_summary()
        resources, timing = summary["resources"], summary["time"]
        reply["logs"] = state.last_run_logs() if request.get("logs") else {}
        reply["type_distribution"] = state.type_distribution()
        reply["out_of_sync_resources"] = resources.get("out_of_sync", 0)
        reply["failed_resources"] = resources.get("failed", 0)
        reply["corrected_resources"] = resources.get("corrective_change", 0)
        reply["changed_resources"] = resources.get("changed", 0)
        reply["total_resources"] = resources.get("total", 0)
        reply["total_time"] = timing.get("total", 0)
        reply["config_retrieval_time"] = timing.get("config_retrieval", 0)
        reply["lastrun"] = state.lastrun(summary)
        reply["since_lastrun"] = int(time.time()) - reply["lastrun"]
        reply["config_version"] = summary["version"].get("config", "unknown")
        reply["summary"] = summary

    # ------------------------------------------------------------ running
    def run_options(self, request, reply, daemon_signalled: bool) -> RunOptions:
        opts = RunOptions()
        if "noop" in request:
            opts.noop = request["noop"]
        opts.environment = request.get("environment") or None
        if request.get("server"):
            if not self.flag("allow_server_override", False):
                reply["summary"] = "Passing 'server' option is not allowed in module configuration"
                reply.abort(reply["summary"])
            opts.server = request["server"]
        opts.tags = [t.strip() for t in request["tags"].split(",")] if request.get("tags") else []
        opts.skip_tags = [t.strip() for t in request["skip_tags"].split(",")] if request.get("skip_tags") else []
        opts.ignoreschedules = _truthy(request.get("ignoreschedules"))
        if "use_cached_catalog" in request:
            opts.use_cached_catalog = request["use_cached_catalog"]
        if not daemon_signalled:
            if request.get("force") is True:
                opts.splay = False
            else:
                opts.splay = request["splay"] if "splay" in request else self.flag("splay", True)
                if "splaylimit" in request:
                    opts.splaylimit = request["splaylimit"]
                elif opts.splay:
                    opts.splaylimit = int(self.config.plugin_number("puppet.splaylimit", 30, int))
        return opts

    @action
    def runonce(self, request, reply):
        state = self.state()
        if state.disabled():
            message = state.lock_message()
            reply["summary"] = f"Puppet is disabled: '{message}'" if message else "Puppet is disabled"
            reply.abort(reply["summary"])
        signal_daemon = self.flag("signal_daemon", True)
        idling = state.idling()
        opts = self.run_options(request, reply, state.daemon_present() and signal_daemon)
        command = self.command()
        try:
            if state.applying():
                raise ActionFailed("Puppet is currently applying a catalog, cannot run now")
            if state.disabled():
                raise ActionFailed("Puppet is disabled, cannot run now")
            options = cli_options(opts)
            if idling and signal_daemon and options:
                raise ActionFailed("Cannot specify any custom puppet options when the daemon is running")
        except ActionFailed as exc:
            reply["summary"] = str(exc)
            reply.abort(reply["summary"])
        if idling and signal_daemon:
            pid = state.daemon_pid()
            if pid is not None:
                os.kill(pid, signal.SIGUSR1)
                reply["summary"] = "Signalled the running Puppet Daemon"
                reply["initiated_at"] = int(time.time())
                return
        argv = command.full(options)
        text = " ".join(argv)
        result = command.start(argv, opts, state.paths.agent_catalog_run_lockfile)
        if not result.ok:
            reply["summary"] = f"Puppet command '{text}' had exit code {result.exitcode}, expected 0"
            reply.abort(reply["summary"])
        reply["summary"] = f"Started a Puppet run using the '{text}' command"
        reply["initiated_at"] = int(time.time())

    # ------------------------------------------------------------ resources
    @action
    def resource(self, request, reply):
        kind = str(request["type"]).lower()
        name = request["name"]
        check_policy(self.config, kind, name)
        ref = reference(kind, name)
        if not self.flag("resource_allow_managed_resources", False) and self.state().managing(ref):
            reply.abort(f"Puppet is managing the resource '{ref}', refusing to create conflicting states")
        properties = {k: v for k, v in request.data.items() if k not in ("type", "name", "environment")}
        command = self.command()
        outcome = apply_resource(command.puppet, puppet_config(self.config, command), kind, name, properties,
                                 request.get("environment"))
        reply["result"] = outcome.result
        reply["changed"] = outcome.changed
        if outcome.failed:
            reply.abort(f"Failed to apply {ref}: {outcome.result}")
