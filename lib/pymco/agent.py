"""The agent authoring API: a short class, one method per action.

    from pymco.agent import Agent, action

    class Hello(Agent):
        @action
        def greet(self, request, reply):
            reply["message"] = f"hello {request['name']}"

The daemon validates the request against the agent's DDL, authorizes and
audits it, then calls the action with an `RPCRequest` and an `RPCReply` whose
outputs start at their DDL defaults.  `reply.fail(msg)` marks the reply failed
(status 1) and lets the action continue; `reply.abort(msg)` is MCollective's
`fail!`: it stops the action at once.  Any other exception becomes status 5
with its message.  `self.run()` runs commands with a timeout, `LC_ALL=C` and
in their own process group, which the daemon kills if the action outlives the
DDL timeout.  `activate_when` decides whether the agent loads on this node;
`self.setting(key)` reads `plugin.<agent>.<key>`; `self.implemented_by()`
hands an action to an external program (pymco.external).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from pymco.agent_messages import RPCReply, RPCRequest
from pymco.config import str_to_bool
from pymco.errors import RPCError
from pymco.protocol.message import text
from pymco.shell import CommandResult, run_command
from pymco.status import STATUS_TEXT

if TYPE_CHECKING:
    from pymco.config import Config
    from pymco.ddl.model import AgentDDL
    from pymco.protocol.message import Request
    from pymco.server.node import NodeContext

__all__ = ["Agent", "action", "RPCRequest", "RPCReply", "STATUS_TEXT"]


ActionFunc = Callable[["Agent", RPCRequest, RPCReply], None]


def action(func: ActionFunc | None = None, *, name: str | None = None) -> Any:
    """Mark a method as the implementation of an action (default: its name)."""
    def mark(f: ActionFunc) -> ActionFunc:
        f.__pymco_action__ = name or f.__name__  # type: ignore[attr-defined]
        return f

    if func is None:
        return mark
    return mark(func)


class Agent:
    """Base class of every RPC agent."""

    #: set by subclasses that must not load everywhere: (config, node) -> bool
    activate_when: ClassVar[Callable[["Config", "NodeContext"], bool] | None] = None
    #: the agent's actions, collected from @action methods
    actions: ClassVar[dict[str, str]] = {}
    #: False for MCollective's non-RPC agents (discovery), which answer handle_message()
    simplerpc: ClassVar[bool] = True
    #: actions that return at once (no commands, no waiting on anything): the daemon runs them on
    #: the thread that received the request, sparing the worker pool's hand-off (the dearest step of
    #: a ping); the watchdog does not time them, so nothing that can block belongs here
    inline_actions: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                name = getattr(value, "__pymco_action__", None)
                if name:
                    found[name] = attr
        cls.actions = found

    def __init__(self, name: str, ddl: "AgentDDL", node: "NodeContext") -> None:
        self.name = name
        self.ddl = ddl
        self.node = node
        self.config = node.config
        self.startup_hook()

    # ---- hooks and helpers for subclasses
    def startup_hook(self) -> None:
        """Called once when the agent is loaded."""

    @classmethod
    def activate(cls, name: str, config: "Config", node: "NodeContext") -> bool:
        """MCollective's activation: plugin.<agent>.activate_agent, then activate_when."""
        setting = config.plugin(f"{name}.activate_agent")
        enabled = str_to_bool(setting) if setting is not None else config.activate_agents
        if not enabled:
            return False
        if cls.activate_when is not None:
            return bool(cls.activate_when(config, node))
        return True

    def setting(self, key: str, default: Any = None) -> Any:
        """`plugin.<agent>.<key>` from the daemon's configuration."""
        return self.config.plugin(f"{self.name}.{key}", default)

    def run(self, command: list[str] | str, *, timeout: float | None = None, stdin: str | None = None,
            cwd: str | None = None, environment: dict[str, str] | None = None, chomp: bool = False,
            shell: bool = False) -> CommandResult:
        """Run a command; it is killed (whole process group) at `timeout` or the action's deadline."""
        return run_command(command, timeout=timeout, stdin=stdin, cwd=cwd, environment=environment,
                           chomp=chomp, shell=shell)

    def implemented_by(self, command: str, request: RPCRequest, reply: RPCReply) -> None:
        """Let an external program answer this action (MCollective's implemented_by).

        A relative `command` is looked up in `<libdir>/agents/<agent>/`.
        """
        from pymco.external import run_external
        from pymco.paths import agent_dirs

        if not os.path.isabs(command):
            for directory in reversed(agent_dirs(self.config)):
                candidate = os.path.join(directory, self.name, command)
                if os.path.exists(candidate):
                    command = candidate
                    break
        run_external(command, request, reply)

    def runs_inline(self, request: "Request") -> bool:
        """Whether `request` is for one of the inline_actions."""
        body = request.body
        return isinstance(body, dict) and bool(self.inline_actions) and text(body.get("action")) in self.inline_actions

    def handle_message(self, request: "Request") -> Any:
        """Non-RPC agents only: answer a raw request body (None for no reply)."""
        raise NotImplementedError

    def call(self, action_name: str, request: RPCRequest, reply: RPCReply) -> None:
        attr = self.actions.get(action_name)
        if attr is None:
            raise _unknown_action(self.name, action_name)
        getattr(self, attr)(request, reply)


def _unknown_action(agent: str, action_name: str) -> RPCError:
    from pymco.errors import UnknownRPCAction

    return UnknownRPCAction(f"Unknown action '{action_name}' for agent '{agent}'")
