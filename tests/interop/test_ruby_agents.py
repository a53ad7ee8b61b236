"""Issue 4 interop: Debian's Ruby `mco` drives pymco's package, service and puppet agents.

The Ruby client gets the agents' DDLs from `mco plugin export-ddl` (Ruby DDL
files in its libdir) and must validate, send and render the requests it
makes to pymcod exactly as for Ruby agents.
"""

from __future__ import annotations

import json

import pytest

from tests.support.cluster import run
from tests.support.ruby import RUBY_PLUGINS, ruby_client_config, ruby_libdir, ruby_mco
from tests.support.system import InitService

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def ruby(cluster, tmp_path_factory):
    service = InitService(tmp_path_factory.mktemp("service"))
    try:
        service.install()
        puppet = tmp_path_factory.mktemp("puppet")
        (puppet / "puppet.conf").write_text(f"[main]\nvardir = {puppet}/var\npublicdir = {puppet}/public\n"
                                            f"rundir = {puppet}/run\n")
        cluster.add_node("py01", **{"plugin.puppet.config": str(puppet / "puppet.conf")})
        cluster.wait()
        directory = tmp_path_factory.mktemp("rubyclient")
        exported = directory / "exported"
        result = cluster.mco("plugin", "export-ddl", "package", "service", "puppet", "--output", str(exported))
        assert result.rc == 0, result
        config = ruby_client_config(directory / "client.cfg", cluster.collectives, {
            "libdir": ":".join([RUBY_PLUGINS, str(ruby_libdir(directory)), str(exported)])})
        yield cluster, config, service
    finally:
        service.remove()


def test_ruby_mco_package_status(ruby):
    cluster, config, service = ruby
    version = run(["dpkg-query", "-W", "-f", "${Version}", "bash"]).stdout
    result = ruby_mco("rpc", "package", "status", "package=bash", "-I", "py01", "--json", config=config)
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert reply["sender"] == "py01" and reply["statuscode"] == 0
    assert reply["data"]["ensure"] == version
    assert reply["data"]["name"] == "bash" and reply["data"]["provider"] == "apt"


def test_ruby_mco_package_status_text_uses_the_ddl(ruby):
    cluster, config, service = ruby
    result = ruby_mco("rpc", "package", "status", "package=pymco-no-such-package", "-I", "py01", config=config)
    assert result.rc == 0, result
    assert "Ensure: purged" in result.out
    assert "Summary of Ensure:" in result.out and "purged = 1" in result.out


def test_ruby_mco_service_status_and_start(ruby):
    cluster, config, service = ruby
    result = ruby_mco("rpc", "service", "status", f"service={service.name}", "-I", "py01", "--json", config=config)
    assert result.rc == 0, result
    assert json.loads(result.out)[0]["data"]["status"] == "stopped"
    result = ruby_mco("rpc", "service", "start", f"service={service.name}", "-I", "py01", "--json", config=config)
    assert result.rc == 0, result
    assert json.loads(result.out)[0]["data"]["status"] == "running"
    assert service.wait_pid(running=True) is not None
    result = ruby_mco("rpc", "service", "status", f"service={service.name}", "-I", "py01", config=config)
    assert "Service Status: running" in result.out


def test_ruby_client_validates_with_the_exported_ddl(ruby):
    cluster, config, service = ruby
    result = ruby_mco("rpc", "service", "status", "service=bad;name", "-I", "py01", config=config)
    assert result.rc != 0
    assert "Cannot validate input service" in result.out + result.err


def test_ruby_mco_puppet_status_with_the_boolean_summary_plugin(ruby):
    """Ruby has no boolean_summary aggregate; export-ddl writes one beside the DDLs."""
    cluster, config, service = ruby
    result = ruby_mco("rpc", "puppet", "status", "-I", "py01", config=config)
    assert result.rc == 0, result
    assert "Summary of Enabled:\n\n   enabled = 1" in result.out
    assert "Summary of Daemon Running:\n\n   stopped = 1" in result.out
    assert "Could not compute summary" not in result.out and "boolean_summary" not in result.err
