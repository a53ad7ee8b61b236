"""`rpcauthprovider = action_policy`: MCollective's actionpolicy plugin, same files.

Operators moving from Ruby MCollective keep their policy files, so the file
names, format, config keys and messages are the plugin's (3.x behaviour):

    <configdir>/policies/<agent>.policy     the agent's policy
    <configdir>/policies/<default_name>.policy
                                            used when the agent has none and
                                            plugin.actionpolicy.enable_default is on
    <configdir>/policies/groups             `group callerid callerid ...` lines

A policy file holds `policy default allow|deny` and TAB-separated rules

    allow|deny <TAB> callers <TAB> actions <TAB> facts [<TAB> classes]

callers: `*`, caller ids, `/regex/` or group names; actions: `*` or names;
facts: `*`, `fact=value` items (`= < > <= >=`, all must hold) or a compound
filter; classes: `*`, class names (all present) or a compound filter.  With
only four fields the fourth may mix facts and classes, as the plugin allows.
The first rule whose four conditions hold decides; when none does, the
file's `policy default` (else allow_unconfigured) does.

Two deliberate differences, both towards refusing: a rule whose compound
condition cannot be parsed denies the requests that reach it (the plugin
fails the request with an exception), and a policy file that exists but
cannot be read denies (rather than status 5).  Files are re-read when they
change, so a policy edit needs no restart.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from pymco.authorization.base import DENIED_MESSAGE, Authorizer
from pymco.config import Config
from pymco.errors import AuthorizationDenied, ConfigError, FilterSyntaxError
from pymco.matcher.facts import fact_matches

if TYPE_CHECKING:
    from pymco.agent import RPCRequest
    from pymco.ddl.model import AgentDDL
    from pymco.matcher.view import NodeView

log = logging.getLogger(__name__)

__all__ = ["ActionPolicy", "Policy", "Rule", "parse_policy", "parse_groups", "policy_flag"]

_NAME = re.compile(r"^[\w.\-]+$")
_POLICY_DEFAULT = re.compile(r"^policy\s+default\s+(\w+)")
_FACT = re.compile(r"^([^<>=\s]+)(<=|>=|<|>|=)(.*)$")
# The plugin's is_compound? test, token by token.
_COMPOUND_TOKEN = re.compile(r"^!|^not$|^or$|^and$|\(.+\)")
_MAX_POLICY_BYTES = 1024 * 1024

Condition = Callable[["NodeView"], bool]


def policy_flag(value: str | None, default: bool) -> bool:
    """The plugin reads its flags with Ruby's `/^1|y/i`: "1...", or any "y" anywhere."""
    if value is None:
        return default
    return bool(re.search(r"^1|y", value, re.IGNORECASE))


def is_compound(text: str) -> bool:
    return any(_COMPOUND_TOKEN.search(token) for token in text.split())


@dataclass
class Rule:
    """One allow/deny line with its conditions compiled."""

    effect: str
    callers: list[str]
    actions: list[str]
    condition: Condition
    line: int
    broken: str | None = None  # why a condition could not be compiled (the rule then denies)

    def matches_caller(self, caller: str, groups: dict[str, set[str]]) -> bool:
        if self.callers == ["*"]:
            return True
        for item in self.callers:
            if len(item) > 2 and item.startswith("/") and item.endswith("/"):
                try:
                    if re.search(item[1:-1], caller):
                        return True
                except re.error:
                    log.warning("invalid caller regex %s in policy line %d", item, self.line)
            elif item in groups:
                if caller in groups[item]:
                    return True
            elif item == caller:
                return True
        return False

    def matches_action(self, action: str) -> bool:
        return self.actions == ["*"] or action in self.actions


@dataclass
class Policy:
    path: str
    default: bool | None = None  # None: the file says nothing, allow_unconfigured decides
    rules: list[Rule] = field(default_factory=list)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


# ---------------------------------------------------------------- conditions

def _always(node: "NodeView") -> bool:
    return True


def _compound(text: str) -> Condition:
    """A compound filter condition; FilterSyntaxError if it does not parse."""
    from pymco.matcher.compound import evaluate, parse_compound

    callstack = parse_compound(text)

    def check(node: "NodeView") -> bool:
        return evaluate(callstack, node)

    return check


def _fact_term(token: str) -> tuple[str, str, str] | None:
    match = _FACT.match(token)
    if not match:
        return None
    name, operator, value = match.groups()
    return name, "==" if operator == "=" else operator, value


def _facts(text: str, classes_allowed: bool) -> Condition:
    """`fact=value ...` (all must hold); bare words are classes when `classes_allowed`."""
    if text == "*":
        return _always
    if is_compound(text):
        return _compound(text)
    facts: list[tuple[str, str, str]] = []
    classes: list[str] = []
    for token in text.split():
        term = _fact_term(token)
        if term is not None:
            facts.append(term)
        elif classes_allowed:
            classes.append(token)
        else:
            raise FilterSyntaxError(f"class {token!r} found where a fact was expected")

    def check(node: "NodeView") -> bool:
        if not all(fact_matches(node.fact(name), operator, value) for name, operator, value in facts):
            return False
        return _has_classes(node, classes)

    return check


def _has_classes(node: "NodeView", wanted: list[str]) -> bool:
    if not wanted:
        return True
    from pymco.matcher.view import name_matches

    present = node.classes()
    return all(any(name_matches(w, c) for c in present) for w in wanted)


def _classes(text: str | None) -> Condition:
    if text is None or text == "*":
        return _always
    if is_compound(text):
        return _compound(text)
    wanted = text.split()
    return lambda node: _has_classes(node, wanted)


def _both(first: Condition, second: Condition) -> Condition:
    if second is _always:
        return first
    if first is _always:
        return second
    return lambda node: first(node) and second(node)


# ---------------------------------------------------------------- parsing

def _split_list(text: str) -> list[str]:
    """Space-separated items; a list quoted as a whole ("status enable") is unquoted."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return text.split()


def parse_policy(text: str, path: str) -> Policy:
    """Parse a policy file; lines that do not parse are logged and skipped, as the plugin does."""
    policy = Policy(path)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _POLICY_DEFAULT.match(line)
        if match:
            policy.default = match.group(1) == "allow"
            continue
        parts = [p.strip() for p in re.split(r"\t+", line.strip())]
        if parts[0] not in ("allow", "deny") or len(parts) not in (4, 5) or not all(parts):
            hint = ""
            if re.match(r"^(allow|deny) ", line) and "\t" not in line:
                hint = " (fields must be separated by TABs, not spaces)"
            log.warning("Cannot parse policy line %d of %s%s: %s", lineno, path, hint, line[:200])
            continue
        effect, callers, actions, facts = parts[:4]
        classes = parts[4] if len(parts) == 5 else None
        broken = None
        try:
            if classes is None:
                condition = _facts(facts, classes_allowed=True)
            else:
                condition = _both(_facts(facts, classes_allowed=False), _classes(classes))
        except FilterSyntaxError as exc:
            broken = str(exc)
            condition = _always
            log.warning("policy line %d of %s has a condition that does not parse (%s); requests reaching "
                        "it are denied", lineno, path, exc)
        policy.rules.append(Rule(effect, _split_list(callers), _split_list(actions), condition, lineno, broken))
    return policy


def parse_groups(text: str, path: str) -> dict[str, set[str]]:
    """`groupname callerid callerid ...` lines; bad names are logged and skipped."""
    groups: dict[str, set[str]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, *members = line.split()
        if not _NAME.match(name):
            log.warning("ignoring group %r on line %d of %s: group names are letters, digits, '_', '.', '-'",
                        name, lineno, path)
            continue
        if members:
            groups[name] = set(members)
    return groups


class _FileCache:
    """Parsed files keyed by path, re-parsed when size or mtime change."""

    def __init__(self, parse: Callable[[str, str], Any]) -> None:
        self.parse = parse
        self.entries: dict[str, tuple[tuple[int, int], Any]] = {}
        self.lock = threading.Lock()

    def get(self, path: str) -> Any:
        """The parsed file; None if it does not exist; OSError if it exists but cannot be read."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        with self.lock:
            cached = self.entries.get(path)
            if cached and cached[0] == stamp:
                return cached[1]
        if st.st_size > _MAX_POLICY_BYTES:
            raise OSError(f"{path} is larger than {_MAX_POLICY_BYTES} bytes")
        with open(path, encoding="utf-8", errors="replace") as handle:
            parsed = self.parse(handle.read(), path)
        with self.lock:
            self.entries[path] = (stamp, parsed)
        return parsed


class ActionPolicy(Authorizer):
    """MCollective's actionpolicy, read from `<configdir>/policies/`."""

    name = "action_policy"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.allow_unconfigured = self._flag("allow_unconfigured")
        self.enable_default = self._flag("enable_default")
        self.default_name = config.plugin("actionpolicy.default_name", "default")
        if not _NAME.match(self.default_name):
            raise ConfigError(f"plugin.actionpolicy.default_name {self.default_name!r} must be a file base name")
        self.directory = os.path.join(config.configdir, "policies")
        self._policies = _FileCache(parse_policy)
        self._groups = _FileCache(parse_groups)

    def _flag(self, key: str) -> bool:
        value = self.config.plugin(f"actionpolicy.{key}")
        result = policy_flag(value, False)
        if value is not None and not result and value.strip().lower() not in ("0", "n", "no"):
            log.warning("plugin.actionpolicy.%s = %s reads as off: actionpolicy only takes 1 or y", key, value)
        return result

    def policy_file(self, agent: str) -> str | None:
        """The file that governs `agent`: its own, else the default one when enabled."""
        own = os.path.join(self.directory, f"{agent}.policy")
        if os.path.exists(own):
            return own
        if self.enable_default:
            fallback = os.path.join(self.directory, f"{self.default_name}.policy")
            if os.path.exists(fallback):
                return fallback
        return None

    def groups(self) -> dict[str, set[str]]:
        path = os.path.join(self.directory, "groups")
        try:
            return self._groups.get(path) or {}
        except OSError as exc:
            log.warning("cannot read the policy groups file %s: %s", path, exc)
            return {}

    def decide(self, request: "RPCRequest", node: "NodeView") -> tuple[bool, str]:
        """(allowed, why) for `request` on `node`."""
        path = self.policy_file(request.agent)
        if path is None:
            if self.allow_unconfigured:
                return True, f"no policy file for {request.agent}; allow_unconfigured is on"
            return False, ("Could not load any valid policy files. Denying based on "
                           f"allow_unconfigured: {str(self.allow_unconfigured).lower()}")
        try:
            policy: Policy = self._policies.get(path)
        except OSError as exc:
            return False, f"cannot read policy file {path}: {exc}"
        if policy is None:  # removed between the two looks
            return False, f"policy file {path} disappeared"
        groups = self.groups()
        for rule in policy.rules:
            if not (rule.matches_caller(request.caller, groups) and rule.matches_action(request.action)):
                continue
            if rule.broken is not None:
                return False, f"policy rule on line {rule.line} of {policy.name} cannot be parsed: {rule.broken}"
            if not rule.condition(node):
                continue
            if rule.effect == "allow":
                return True, f"allowed by the rule on line {rule.line} of {policy.name}"
            return False, (f"Denying based on explicit 'deny' policy rule in policyfile: {policy.name} "
                           f"(line {rule.line})")
        default = self.allow_unconfigured if policy.default is None else policy.default
        if default:
            return True, f"allowed by the default policy in {policy.name}"
        return False, f"Denying based on default policy in {policy.name}"

    def authorize(self, request: "RPCRequest", ddl: "AgentDDL", node: "NodeView") -> None:
        allowed, why = self.decide(request, node)
        if allowed:
            log.debug("%s may call %s#%s: %s", request.caller, request.agent, request.action, why)
            return
        log.info("denied %s calling %s#%s (request %s): %s", request.caller, request.agent, request.action,
                 request.uniqid, why)
        raise AuthorizationDenied(DENIED_MESSAGE, why)
