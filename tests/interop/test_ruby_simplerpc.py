"""Issue 16 interop: Ruby SimpleRPC scripts (Debian's ruby + mcollective-client) against pymco nodes.

The script of docs/scripting.md is taken from the page itself; the Ruby
client knows pymco's `package` agent only through `mco plugin export-ddl`.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.support.cluster import REPO, Result, run, which_or_fail
from tests.support.docs import examples
from tests.support.ruby import RUBY_PLUGINS, ruby_client_config, ruby_libdir

pytestmark = pytest.mark.interop

MORE = """\
require "mcollective"

include MCollective::RPC

mc = rpcclient("rpcutil")
mc.progress = false
mc.compound_filter "role=web and not role=db"
puts "discovered: #{mc.discover.sort.join(",")}"
printrpc mc.get_fact(:fact => "role")
mc.reset_filter
mc.identity_filter "db1"
mc.identity_filter "ghost"
mc.discover :nodes => ["db1", "ghost"]
mc.timeout = 2
replies = mc.ping
puts "replies: #{replies.map { |r| r[:sender] }.join(",")}"
puts "no response from: #{mc.stats.noresponsefrom.join(",")}"
begin
  mc.get_fact(:fact => "no spaces")
rescue MCollective::DDLValidationError => e
  puts "refused: #{e}"
end
mc.disconnect
"""


@pytest.fixture(scope="module")
def ruby_client(cluster, tmp_path_factory):
    cluster.add_node("web1", facts={"role": "web"})
    cluster.add_node("web2", facts={"role": "web"})
    cluster.add_node("db1", facts={"role": "db"})
    cluster.wait()
    directory = tmp_path_factory.mktemp("rubysimplerpc")
    exported = directory / "ruby-plugins"
    result = cluster.mco("plugin", "export-ddl", "package", "rpcutil", "--output", str(exported))
    assert result.rc == 0, result
    return ruby_client_config(directory / "client.cfg", cluster.collectives, {
        "libdir": ":".join([RUBY_PLUGINS, str(ruby_libdir(directory)), str(exported)])})


def ruby_script(text: str, config) -> Result:
    script = config.parent / f"script{time.monotonic_ns()}.rb"
    script.write_text(text)
    start = time.monotonic()
    proc = subprocess.run([which_or_fail("ruby"), str(script), "--config", str(config)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, env=dict(os.environ, HOME=str(config.parent)))
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def test_the_documented_ruby_script_runs_against_pymco_nodes(ruby_client):
    [example] = [e for e in examples(REPO / "docs" / "scripting.md") if e.language == "ruby"]
    result = ruby_script(example.code, ruby_client)
    assert result.rc == 0, result
    version = run(["dpkg-query", "-W", "-f", "${Version}", "bash"]).stdout
    assert sorted(result.out.splitlines()[:2]) == [f"web1: bash {version}", f"web2: bash {version}"], result
    assert "Finished processing 2 / 2 hosts" in result.out


def test_simplerpc_filters_discovery_stats_and_validation(ruby_client):
    result = ruby_script(MORE, ruby_client)
    assert result.rc == 0, result
    assert "discovered: web1,web2" in result.out
    assert "Value: web" in result.out and "db1" not in result.out.split("replies:")[0]
    assert "replies: db1\n" in result.out
    assert "no response from: ghost\n" in result.out
    assert "refused: Cannot validate input fact: value should match" in result.out
