"""Issue 14: x509 with a Puppet CA made by `puppetserver ca setup` (root + intermediate, Puppet 6+'s layout).

A second private server for the run (tests/support/puppetserver.py), whose
ca.pem holds the intermediate and the root and whose crl.pem holds one CRL
per CA: a node and an operator issued by the intermediate talk over x509,
and a revocation in the intermediate's CRL reaches the node through
pymcod's own CRL refresh.
"""

from __future__ import annotations

import time

import pytest

from tests.support import puppetserver
from tests.support.cluster import unique_name, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab(cluster, tmp_path_factory):
    server = puppetserver.shared_server("puppetserver-intermediate", setup_ca=True)
    tag = unique_name("ic")
    node, alice = f"n1.{tag}.test", f"alice-{tag}.mcollective"
    root = tmp_path_factory.mktemp("intermediate-ids")
    ids = server.identities({node: root / "n1", alice: root / "alice"})
    cluster.add_node(node, securityprovider="x509", **{
        "plugin.x509.ssldir": str(ids[node].ssldir), "plugin.x509.ca_server": f"localhost:{server.port}",
        "plugin.x509.crl_refresh_interval": "2"})
    cluster.wait()
    config = cluster.write_client("alice.cfg", securityprovider="x509", **{
        "plugin.x509.ssldir": str(ids[alice].ssldir), "plugin.x509.certname": alice})
    return cluster, server, ids[node], ids[alice], config


def test_the_ca_is_root_and_intermediate(lab):
    cluster, server, node, alice, config = lab
    bundle = (node.ssldir / "certs" / "ca.pem").read_text()
    assert bundle.count("BEGIN CERTIFICATE") == 2 and "BEGIN X509 CRL" not in bundle
    assert (node.ssldir / "crl.pem").read_text().count("BEGIN X509 CRL") == 2


def test_ping_and_revocation_through_the_intermediate(lab):
    cluster, server, node, alice, config = lab
    result = cluster.mco("ping", config=config)
    assert node.certname in result.out, result
    server.ca("revoke", "--certname", alice.certname)
    started = time.monotonic()
    wait_for(lambda: node.certname not in cluster.mco("ping", config=config).out, timeout=60, interval=0.5)
    log = cluster.nodes[node.certname].log()
    assert f"certificate '{alice.certname}'" in log and "is revoked by" in log, log[-2000:]
    print(f"revocation through the intermediate enforced after {time.monotonic() - started:.1f}s")
