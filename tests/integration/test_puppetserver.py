"""Issue 14: pymco against a real Puppet Server, its CA and agent runs, over x509 on the real broker.

Two nodes and two operators get certificates from the run's private Puppet
Server (tests/support/puppetserver.py) the way an admin issues them.  The
nodes' pymcod use x509 with those certificates, and `mco puppet` starts real
`puppet agent` runs that fetch their catalog from that server.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.cluster import unique_name, wait_for

pytestmark = pytest.mark.integration
# A first agent run on a loaded 2-core machine can take minutes (the server's first compile).
RUN_WAIT = 300


@pytest.fixture(scope="module")
def lab(cluster, puppet_server, tmp_path_factory):
    """Nodes n1/n2 and operators alice/bob (certnames unique to this run), all issued by the server's CA."""
    tag = unique_name("ps")
    root = tmp_path_factory.mktemp("puppetserver-ids")
    names = {"n1": f"n1.{tag}.test", "n2": f"n2.{tag}.test", "alice": f"alice-{tag}.mcollective",
             "bob": f"bob-{tag}.mcollective"}
    issued = puppet_server.identities({names[key]: root / key for key in names})
    ids = {key: issued[names[key]] for key in names}
    for key in ("n1", "n2"):
        ident = ids[key]
        # no plugin.puppet.config: status and summaries follow the command's --config
        cluster.add_node(ident.certname, securityprovider="x509", **{
            "plugin.x509.ssldir": str(ident.ssldir),
            "plugin.puppet.command": f"puppet agent --config {ident.conf} --http_keepalive_timeout=0",
            "plugin.puppet.splay": "false",
            "plugin.x509.ca_server": f"localhost:{puppet_server.port}", "plugin.x509.crl_refresh_interval": "2"})
    cluster.wait()
    configs = {key: cluster.write_client(f"{key}.cfg", securityprovider="x509", **{
        "plugin.x509.ssldir": str(ids[key].ssldir), "plugin.x509.certname": ids[key].certname})
        for key in ("alice", "bob")}
    return cluster, puppet_server, ids, configs


def rpc(lab, action, node, *args, config="alice"):
    cluster, _, ids, configs = lab
    result = cluster.mco("rpc", "puppet", action, *args, "-I", ids[node].certname, "--json",
                         config=configs[config])
    assert result.rc in (0, 2), result
    [reply] = json.loads(result.out)
    return reply["data"]


def test_ping_with_certificates_from_the_server_ca(lab):
    cluster, server, ids, configs = lab
    result = cluster.mco("ping", config=configs["alice"])
    assert result.rc == 0, result
    assert ids["n1"].certname in result.out and ids["n2"].certname in result.out
    assert "2 replies" in result.out, result
    assert (ids["n1"].ssldir / "certs" / "ca.pem").read_bytes() == server.ca_pem.read_bytes()


def test_runonce_runs_an_agent_against_the_server(lab):
    cluster, server, ids, configs = lab
    node = ids["n1"]
    result = cluster.mco("puppet", "runonce", "-I", node.certname, config=configs["alice"])
    assert result.rc == 0, result
    assert "Finished processing 1 / 1 hosts" in result.out, result
    # the catalog takes 3 s to apply: status sees the run, then its end
    wait_for(lambda: "Currently applying a catalog" in cluster.mco(
        "puppet", "status", "-I", node.certname, config=configs["alice"]).out, timeout=RUN_WAIT, interval=0.2)
    wait_for(lambda: (lambda data: data["lastrun"] > 0 and not data["applying"])(rpc(lab, "status", "n1")),
             timeout=RUN_WAIT, interval=0.5)
    summary = rpc(lab, "last_run_summary", "n1", "logs=true")
    assert summary["type_distribution"] == {"Notify": 1, "Exec": 1}, summary
    assert any(f"pymco catalog for {node.certname}" in entry["msg"] for entry in summary["logs"]), summary["logs"]
    # the server compiled it and stored the agent's report
    reports = server.home / "puppet" / "var" / "reports" / node.certname
    assert list(reports.glob("*.yaml")), f"no report from {node.certname} on the server"
    result = cluster.mco("puppet", "summary", "-I", node.certname, config=configs["alice"])
    assert result.rc == 0 and "Summary statistics for 1 nodes:" in result.out, result


def test_disable_refuses_runonce(lab):
    cluster, server, ids, configs = lab
    node = ids["n2"].certname
    result = cluster.mco("puppet", "disable", "server maintenance", "-I", node, config=configs["alice"])
    assert result.rc == 0 and "disabled = 1" in result.out, result
    result = cluster.mco("puppet", "runonce", "-I", node, config=configs["alice"])
    assert result.rc == 2 and "Puppet is disabled: 'server maintenance'" in result.out, result
    result = cluster.mco("puppet", "enable", "-I", node, config=configs["alice"])
    assert result.rc == 0 and "enabled = 1" in result.out, result


def test_runall_runs_every_node_through_the_server(lab):
    cluster, server, ids, configs = lab
    started = int(time.time())
    result = cluster.mco("puppet", "runall", "1", config=configs["alice"], timeout=240)
    assert result.rc == 0, result
    assert "Iteration complete. Initiated a Puppet run on 2 nodes." in result.out, result
    for key in ("n1", "n2"):
        wait_for(lambda: rpc(lab, "status", key)["lastrun"] >= started, timeout=RUN_WAIT, interval=0.5)


def test_revoked_operator_is_refused_once_nodes_refresh_the_crl(lab):
    """pymcod fetches the CA's CRL every plugin.x509.crl_refresh_interval (2 s here; Puppet never does)."""
    cluster, server, ids, configs = lab
    bob = ids["bob"].certname
    assert cluster.mco("ping", config=configs["bob"]).out.count(".test") == 2
    server.ca("revoke", "--certname", bob)
    revoked_at = time.monotonic()
    wait_for(lambda: ".test" not in cluster.mco("ping", config=configs["bob"]).out, timeout=60, interval=0.5)
    refused_after = time.monotonic() - revoked_at
    for key in ("n1", "n2"):
        log = cluster.nodes[ids[key].certname].log()
        assert f"refreshed {ids[key].ssldir / 'crl.pem'} from https://localhost:{server.port}" in log
        assert f"certificate '{bob}'" in log, log[-2000:]
    assert cluster.mco("ping", config=configs["alice"]).out.count(".test") == 2
    print(f"revoked operator refused by every node {refused_after:.1f}s after `puppetserver ca revoke`")


def test_enroll_an_operator_through_the_ca(lab, tmp_path):
    """`mco enroll`: local key (0600), CSR to the CA, refused until signed, then usable for x509 at once."""
    cluster, server, ids, configs = lab
    certname = f"carol-{unique_name()}.mcollective"
    config = cluster.write_client("carol.cfg", identity=certname, securityprovider="x509", **{
        "plugin.x509.ssldir": str(tmp_path / "ssl"), "plugin.x509.ca_server": f"localhost:{server.port}"})
    result = cluster.mco("enroll", "--wait", "0", "--keylength", "2048", config=config)
    assert result.rc == 1, result
    assert f"the certificate for {certname} is not signed yet: on the CA run `puppetserver ca sign" in result.err
    assert "SHA-256 fingerprint" in result.out and "Submitted a certificate request" in result.out
    key = tmp_path / "ssl" / "private_keys" / f"{certname}.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "ssl" / "certs" / "ca.pem").read_bytes() == server.ca_pem.read_bytes()
    server.ca("sign", "--certname", certname)
    result = cluster.mco("enroll", "--wait", "30", config=config)
    assert result.rc == 0 and f"Enrolled {certname}: certificate {tmp_path}/ssl/certs/{certname}.pem" in result.out
    assert (tmp_path / "ssl" / "crl.pem").exists()
    result = cluster.mco("ping", config=config)
    assert result.out.count(".test") == 2, result


def test_enroll_refuses_clearly_when_the_ca_says_no(lab, tmp_path):
    cluster, server, ids, configs = lab
    ca = f"localhost:{server.port}"
    # a name the CA already signed for another key
    result = cluster.mco("enroll", "--certname", ids["alice"].certname, "--ssldir", str(tmp_path / "a"),
                         "--ca-server", ca, "--keylength", "2048", config=configs["alice"])
    assert result.rc == 1 and "with another key" in result.err and "Traceback" not in result.err, result
    # a name the CA will not take
    result = cluster.mco("enroll", "--certname", "wild*card.mcollective", "--ssldir", str(tmp_path / "b"),
                         "--ca-server", ca, "--keylength", "2048", "--wait", "0", config=configs["alice"])
    assert result.rc == 1 and "the Puppet CA refused the request for wild*card.mcollective" in result.err, result
    assert len(result.err.strip().splitlines()) == 1, result
