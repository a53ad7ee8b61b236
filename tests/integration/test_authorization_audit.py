"""Issue 6: actionpolicy authorization and the audit log, on real pymcod nodes and the real broker.

Two nodes with different facts and classes share one set of policy files;
callers are told apart with psk's `callertype = identity` (callerid
`identity=<client identity>`), so each client config is a different caller.
Every call's outcome is checked in the reply (status 1 and MCollective's
message on denial) and in each node's audit log: MCollective's line format on
one node, JSON lines on the other, sensitive inputs masked on both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cluster import BROKER, PSK

pytestmark = pytest.mark.integration

DENIED = "You are not authorized to call this agent or action."

VAULT_AGENT = '''
from pymco.agent import Agent, action


class Vault(Agent):
    @action
    def get(self, request, reply):
        reply["value"] = "v-" + request["name"]

    @action
    def store(self, request, reply):
        reply["stored"] = len(request["secret"])
'''

VAULT_DDL = """
metadata: {name: vault, description: Keeps secrets, author: tests, license: Apache-2.0, version: "1", url: "-",
           timeout: 10}
actions:
  - action: get
    description: Read a value
    display: always
    input:
      name: {prompt: Name, description: Key, type: string, validation: '^\\w+$', maxlength: 20, optional: false}
    output:
      value: {description: Value, display_as: Value}
  - action: store
    description: Store a secret
    display: always
    input:
      name: {prompt: Name, description: Key, type: string, validation: '^\\w+$', maxlength: 20, optional: false}
      secret: {prompt: Secret, description: The secret, type: string, validation: '.*', maxlength: 100,
               optional: false, sensitive: true}
    output:
      stored: {description: Length stored, display_as: Stored}
"""

VAULT_POLICY = "\n".join([
    "# vault: admins do anything, others what the rules say",
    "policy default deny",
    "deny\tidentity=mallory_admin\t*\t*\t*",
    "allow\t/^identity=.+_admin$/\t*\t*\t*",
    "allow\tops\tget\t*\t*",
    "allow\tidentity=alice\tget\tcountry=uk\tapache",
    "allow\tidentity=bob\tget\t(country=uk and cores>=4) or country=fr",
    "allow\tidentity=carol\tget\t*\trole::web and not role::db",
    "",
])

DEFAULT_POLICY = "policy default allow\ndeny\tidentity=guest\t*\t*\trole::db\n"
GROUPS = "ops identity=dave identity=erin\n"


@pytest.fixture(scope="module")
def fleet(cluster_factory, tmp_path_factory):
    cluster = cluster_factory(name="authz")
    libdir = tmp_path_factory.mktemp("authz-libdir")
    (libdir / "agents").mkdir()
    (libdir / "ddl").mkdir()
    (libdir / "agents" / "vault.py").write_text(VAULT_AGENT)
    (libdir / "ddl" / "vault.yaml").write_text(VAULT_DDL)
    nodes = {"az01": ({"country": "uk", "cores": 8}, ["apache", "role::web"], "mcollective"),
             "az02": ({"country": "de", "cores": 2}, ["apache", "role::db"], "json")}
    for identity, (facts, classes, fmt) in nodes.items():
        policies = cluster.directory / identity / "policies"
        policies.mkdir(parents=True)
        (policies / "vault.policy").write_text(VAULT_POLICY)
        (policies / "default.policy").write_text(DEFAULT_POLICY)
        (policies / "groups").write_text(GROUPS)
        cluster.add_node(identity, facts=facts, classes=classes, libdir=str(libdir), rpcauthorization="1",
                         rpcauthprovider="action_policy", rpcaudit="1",
                         **{"plugin.rpcaudit.logfile": str(cluster.directory / identity / "audit.log"),
                            "plugin.rpcaudit.format": fmt, "plugin.actionpolicy.enable_default": "1",
                            "plugin.psk.callertype": "identity"})
    cluster.wait()
    return cluster, libdir


def client(fleet, caller: str) -> Path:
    cluster, libdir = fleet
    return cluster.write_client(f"client-{caller}.cfg", identity=caller, libdir=str(libdir),
                                **{"plugin.psk.callertype": "identity"})


def call(fleet, caller: str, *argv: str) -> dict[str, dict]:
    cluster, _ = fleet
    result = cluster.mco("rpc", *argv, "--json", "-t", "10", config=client(fleet, caller))
    assert "Traceback" not in result.err, result
    assert result.out.strip(), result
    replies = {r["sender"]: r for r in json.loads(result.out)}
    assert set(replies) == {"az01", "az02"}, result
    return replies


def audit_text(fleet, identity: str) -> str:
    cluster, _ = fleet
    return (cluster.directory / identity / "audit.log").read_text()


def line_records(fleet) -> list[str]:
    return audit_text(fleet, "az01").splitlines()


def json_records(fleet) -> list[dict]:
    return [json.loads(line) for line in audit_text(fleet, "az02").splitlines()]


def outcome(replies: dict[str, dict]) -> dict[str, int]:
    for reply in replies.values():
        if reply["statuscode"] == 1:
            assert reply["statusmsg"] == DENIED
            assert all(v is None for v in reply["data"].values())  # only the DDL's defaults: nothing ran
    return {sender: reply["statuscode"] for sender, reply in replies.items()}


def test_caller_regex_allows_every_action_and_the_secret_is_masked(fleet):
    replies = call(fleet, "ops_admin", "vault", "store", "name=db", "secret=hunter2")
    assert outcome(replies) == {"az01": 0, "az02": 0}
    assert replies["az01"]["data"] == {"stored": 7}
    line = [x for x in line_records(fleet) if "caller=identity=ops_admin@" in x and "action=store" in x][-1]
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\] reqid=[0-9a-f]{32}: reqtime=\d+ "
                        r"caller=identity=ops_admin@ops_admin agent=vault action=store "
                        r'data=\{:name=>"db", :secret=>"\[masked\]"\}', line), line
    record = [r for r in json_records(fleet) if r["caller"] == "identity=ops_admin" and r["action"] == "store"][-1]
    assert record["data"] == {"name": "db", "secret": "[masked]"} and record["authorized"] is True
    assert record["sender"] == "ops_admin" and record["agent"] == "vault"
    assert "hunter2" not in audit_text(fleet, "az01") + audit_text(fleet, "az02")
    cluster, _ = fleet
    logs = cluster.nodes["az01"].log() + cluster.nodes["az02"].log()  # written at loglevel debug
    for secret in ("hunter2", PSK, BROKER["password"]):
        assert secret not in logs, secret


def test_daemon_warns_about_a_world_readable_config_holding_secrets(fleet):
    cluster, _ = fleet
    node = cluster.nodes["az01"]
    assert node.config_path.stat().st_mode & 0o004  # the harness writes it 0644, with plugin.psk in it
    warnings = [line for line in node.log().splitlines() if "is readable by every user" in line]
    assert warnings and "WARN" in warnings[0] and "plugin.psk" in warnings[0] and PSK not in warnings[0]


def test_explicit_deny_wins_over_a_later_allow(fleet):
    replies = call(fleet, "mallory_admin", "vault", "get", "name=db")
    assert outcome(replies) == {"az01": 1, "az02": 1}
    denied = [x for x in line_records(fleet) if "denied caller=identity=mallory_admin@" in x]
    assert denied and "explicit 'deny' policy rule in policyfile: vault.policy (line 3)" in denied[-1]
    # the request line itself is there too, as MCollective would write it
    assert any("caller=identity=mallory_admin@" in x and "data={:name=>\"db\"}" in x for x in line_records(fleet))
    record = [r for r in json_records(fleet) if r["caller"] == "identity=mallory_admin"][-1]
    assert record["authorized"] is False and "explicit 'deny'" in record["reason"]


def test_default_policy_denies_unknown_callers(fleet):
    replies = call(fleet, "guest", "vault", "get", "name=db")
    assert outcome(replies) == {"az01": 1, "az02": 1}
    record = [r for r in json_records(fleet) if r["caller"] == "identity=guest" and r["agent"] == "vault"][-1]
    assert record["reason"] == "Denying based on default policy in vault.policy"


def test_fact_and_class_condition(fleet):
    assert outcome(call(fleet, "alice", "vault", "get", "name=db")) == {"az01": 0, "az02": 1}
    assert outcome(call(fleet, "alice", "vault", "store", "name=db", "secret=x")) == {"az01": 1, "az02": 1}


def test_compound_fact_condition(fleet):
    assert outcome(call(fleet, "bob", "vault", "get", "name=db")) == {"az01": 0, "az02": 1}


def test_compound_class_condition(fleet):
    assert outcome(call(fleet, "carol", "vault", "get", "name=db")) == {"az01": 0, "az02": 1}


def test_group_members_are_callers(fleet):
    assert outcome(call(fleet, "erin", "vault", "get", "name=db")) == {"az01": 0, "az02": 0}
    assert outcome(call(fleet, "erin", "vault", "store", "name=db", "secret=x")) == {"az01": 1, "az02": 1}
    assert outcome(call(fleet, "ops", "vault", "get", "name=db")) == {"az01": 1, "az02": 1}


def test_default_policy_file_covers_agents_without_their_own(fleet):
    replies = call(fleet, "guest", "rpcutil", "ping")
    assert outcome(replies) == {"az01": 0, "az02": 1}
    assert replies["az01"]["data"]["pong"] > 0
    record = [r for r in json_records(fleet) if r["caller"] == "identity=guest" and r["agent"] == "rpcutil"][-1]
    assert record["authorized"] is False and "default.policy" in record["reason"]


def test_every_call_is_audited_and_denials_are_counted(fleet):
    before = call(fleet, "ops_admin", "rpcutil", "daemon_stats")
    call(fleet, "guest", "vault", "get", "name=counted")
    after = call(fleet, "ops_admin", "rpcutil", "daemon_stats")
    for node in ("az01", "az02"):
        assert after[node]["data"]["unauthorized"] == before[node]["data"]["unauthorized"] + 1
    cluster, _ = fleet
    # each request that reached the agent left exactly one request line (plus one line per denial)
    lines = line_records(fleet)
    request_lines = [x for x in lines if " reqtime=" in x]
    denied_lines = [x for x in lines if ": denied caller=" in x]
    assert len(request_lines) == len(json_records(fleet))
    assert len({re.search(r"reqid=(\w+)", x).group(1) for x in request_lines}) == len(request_lines)
    assert {re.search(r"reqid=(\w+)", x).group(1) for x in denied_lines} <= \
        {re.search(r"reqid=(\w+)", x).group(1) for x in request_lines}
    assert any("name=>\"counted\"" in x for x in request_lines)
    assert "Traceback" not in cluster.nodes["az01"].log() + cluster.nodes["az02"].log()


def test_get_config_item_does_not_hand_out_secrets(fleet):
    replies = call(fleet, "ops_admin", "rpcutil", "get_config_item", "item=plugin.psk")
    assert {r["data"]["value"] for r in replies.values()} == {"[masked]"}
    replies = call(fleet, "ops_admin", "rpcutil", "get_config_item", "item=plugin.rabbitmq.pool.1.password")
    assert {r["data"]["value"] for r in replies.values()} == {"[masked]"}
    replies = call(fleet, "ops_admin", "rpcutil", "get_config_item", "item=plugin.rabbitmq.pool.1.host")
    assert {r["data"]["value"] for r in replies.values()} == {"127.0.0.1"}
