"""actionpolicy decisions on policy files written in the test (the plugin's pure logic).

The same rules are exercised end to end through pymcod and mco in
tests/integration/test_authorization_audit.py; here every branch of the
file format is checked quickly against a node stand-in.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pymco.agent import RPCRequest
from pymco.authorization.actionpolicy import ActionPolicy, parse_policy, policy_flag
from pymco.authorization.base import DENIED_MESSAGE
from pymco.config import Config
from pymco.errors import AuthorizationDenied, ConfigError
from tests.support.nodeview import FakeNode


NODE = FakeNode({"country": "uk", "customer": "acme", "cores": 8, "os": {"family": "Debian"}},
                ["apache", "role::web"])


def request(caller: str = "uid=500", action: str = "status", agent: str = "package") -> RPCRequest:
    return RPCRequest(agent=agent, action=action, data={}, caller=caller, sender="client1", uniqid="r1",
                      time=0, ttl=60, collective="mcollective")


def make(tmp_path: Path, files: dict[str, str], **plugin: str) -> ActionPolicy:
    (tmp_path / "policies").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / "policies" / name).write_text(text)
    config = Config(path=str(tmp_path / "server.cfg"))
    for key, value in plugin.items():
        config.set(f"plugin.actionpolicy.{key}", value)
    return ActionPolicy(config)


def decide(policy: ActionPolicy, node: FakeNode = NODE, **kw: str) -> tuple[bool, str]:
    return policy.decide(request(**kw), node)


def test_explicit_allow_and_default_deny(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default deny\nallow\tuid=500\tstatus count\t*\t*\n"})
    assert decide(p)[0]
    assert decide(p, action="count")[0]
    allowed, why = decide(p, action="install")
    assert not allowed and why == "Denying based on default policy in package.policy"
    assert not decide(p, caller="uid=501")[0]


def test_explicit_deny_first_match_wins(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default allow\n"
                                          "deny\tuid=500\tinstall\t*\t*\n"
                                          "allow\tuid=500\t*\t*\t*\n"})
    allowed, why = decide(p, action="install")
    assert not allowed
    assert why.startswith("Denying based on explicit 'deny' policy rule in policyfile: package.policy")
    assert decide(p, action="status")[0]
    assert decide(p, caller="uid=7", action="install")[0]  # falls to policy default allow


def test_authorize_raises_mcollectives_message(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default deny\n"})
    with pytest.raises(AuthorizationDenied) as info:
        p.authorize(request(), None, NODE)  # type: ignore[arg-type]
    assert str(info.value) == DENIED_MESSAGE == "You are not authorized to call this agent or action."
    assert info.value.status == 1
    assert "default policy" in info.value.reason


def test_no_policy_file_and_allow_unconfigured(tmp_path):
    assert not decide(make(tmp_path, {}))[0]
    allowed, why = decide(make(tmp_path, {}))
    assert why == "Could not load any valid policy files. Denying based on allow_unconfigured: false"
    assert decide(make(tmp_path, {}, allow_unconfigured="1"))[0]
    assert decide(make(tmp_path, {}, allow_unconfigured="y"))[0]
    # the plugin's /^1|y/i: "true" is off
    assert not decide(make(tmp_path, {}, allow_unconfigured="true"))[0]


def test_policy_without_default_line_uses_allow_unconfigured(tmp_path):
    files = {"package.policy": "allow\tuid=1\t*\t*\t*\n"}
    assert not decide(make(tmp_path, files))[0]
    assert decide(make(tmp_path, files, allow_unconfigured="1"))[0]


def test_default_policy_file(tmp_path):
    files = {"default.policy": "policy default deny\nallow\tuid=500\tstatus\t*\t*\n"}
    assert not decide(make(tmp_path, files))[0]  # enable_default off: the default file is not used
    p = make(tmp_path, files, enable_default="1")
    assert decide(p)[0]
    allowed, why = decide(p, action="install")
    assert not allowed and "default.policy" in why
    p = make(tmp_path, {"site.policy": "policy default allow\n"}, enable_default="1", default_name="site")
    assert decide(p, action="install")[0]
    # the agent's own file wins over the default one
    (tmp_path / "policies" / "package.policy").write_text("policy default deny\n")
    assert not decide(p, action="install")[0]


def test_default_name_must_be_a_file_name(tmp_path):
    with pytest.raises(ConfigError):
        make(tmp_path, {}, default_name="../../etc/passwd")


def test_caller_regex_list_and_groups(tmp_path):
    p = make(tmp_path, {
        "package.policy": "policy default deny\n"
                          "allow\t/^cert=.+_admin$/\t*\t*\t*\n"
                          "allow\tuid=1 uid=2\tstatus\t*\t*\n"
                          "allow\tops\tinstall\t*\t*\n",
        "groups": "# comment\nops cert=alice cert=bob\nbad/name cert=eve\nempty\n"})
    assert decide(p, caller="cert=joe_admin", action="install")[0]
    assert not decide(p, caller="cert=joe_admin_not", action="install")[0]
    assert decide(p, caller="uid=2")[0]
    assert not decide(p, caller="uid=2", action="install")[0]
    assert decide(p, caller="cert=bob", action="install")[0]
    assert not decide(p, caller="cert=eve", action="install")[0]
    assert not decide(p, caller="ops", action="install")[0]  # a group name is not a caller
    # 3.x compares exactly: no substring match
    assert not decide(p, caller="uid=22")[0]


def test_fact_conditions(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default deny\n"
                                          "allow\t*\tstatus\tcountry=uk cores>=4\t*\n"
                                          "allow\t*\tinstall\tcountry=de\t*\n"
                                          "allow\t*\tcount\tos.family=Debian\t*\n"})
    assert decide(p)[0]
    assert not decide(p, node=FakeNode({"country": "uk", "cores": 2}))[0]
    assert not decide(p, node=FakeNode({"cores": 8}))[0]  # a missing fact never matches
    assert not decide(p, action="install")[0]
    assert decide(p, action="count")[0]


def test_class_conditions(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default deny\n"
                                          "allow\t*\tstatus\t*\tapache role::web\n"
                                          "allow\t*\tinstall\t*\t/^role::db/\n"})
    assert decide(p)[0]
    assert not decide(p, node=FakeNode(classes=["apache"]))[0]
    assert not decide(p, action="install")[0]
    assert decide(p, action="install", node=FakeNode(classes=["role::dbserver"]))[0]


def test_four_fields_mix_facts_and_classes(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default deny\nallow\tuid=500\t\"status enable\"\tcountry=uk apache\n"})
    assert decide(p)[0]
    assert decide(p, action="enable")[0]
    assert not decide(p, node=FakeNode({"country": "uk"}, []))[0]


def test_compound_conditions(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default deny\n"
                                          "allow\t*\tstatus\t(country=uk and cores>4) or customer=none\n"
                                          "allow\t*\tinstall\tcountry=uk\tapache and not role::db\n"
                                          "allow\t*\tcount\tnot country=uk\n"})
    assert decide(p)[0]
    assert not decide(p, node=FakeNode({"country": "uk", "cores": 2}))[0]
    assert decide(p, node=FakeNode({"customer": "none"}))[0]
    assert decide(p, action="install")[0]
    assert not decide(p, action="install", node=FakeNode({"country": "uk"}, ["apache", "role::db"]))[0]
    assert not decide(p, action="count")[0]
    assert decide(p, action="count", node=FakeNode({"country": "fr"}))[0]


def test_unparseable_compound_rule_denies(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        p = make(tmp_path, {"package.policy": "policy default allow\ndeny\t*\tinstall\t(country=uk and\t*\n"})
        allowed, why = decide(p, action="install")
    assert not allowed and "line 2" in why and "cannot be parsed" in why
    assert decide(p, action="status")[0]  # the broken rule does not concern status
    assert "does not parse" in caplog.text


def test_lines_with_spaces_are_skipped_with_a_hint(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        p = make(tmp_path, {"package.policy": "policy default deny\nallow uid=500 * * *\n"})
        assert not decide(p)[0]
    assert "Cannot parse policy line 2" in caplog.text and "TABs" in caplog.text


def test_policy_edits_apply_without_restart(tmp_path):
    p = make(tmp_path, {"package.policy": "policy default deny\n"})
    assert not decide(p)[0]
    (tmp_path / "policies" / "package.policy").write_text("policy default allow\n# now longer\n")
    assert decide(p)[0]


def test_unreadable_policy_file_denies(tmp_path):
    p = make(tmp_path, {})
    (tmp_path / "policies" / "package.policy").mkdir()  # exists, cannot be read as a file
    allowed, why = decide(p)
    assert not allowed and "cannot read policy file" in why


@pytest.mark.parametrize("value,expected", [("1", True), ("y", True), ("Yes", True), ("0", False), ("n", False),
                                            ("true", False), (None, False)])
def test_policy_flag(value, expected):
    assert policy_flag(value, False) is expected


def test_parse_policy_keeps_line_numbers():
    policy = parse_policy("# c\n\npolicy default allow\nallow\t*\t*\t*\t*\n", "x.policy")
    assert policy.default is True and [r.line for r in policy.rules] == [4]
