"""Issue 4 interop: Debian's Ruby `mco` drives pymco's package and service agents.

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
        cluster.add_node("py01")
        cluster.wait()
        directory = tmp_path_factory.mktemp("rubyclient")
        exported = directory / "exported"
        result = cluster.mco("plugin", "export-ddl", "package", "service", "--output", str(exported))
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
