"""Issue 16 end to end: pymco.api, generated clients, custom applications and pipelines on real nodes."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
import threading

import pytest

from pymco.api import Client
from pymco.errors import ClientError, DDLValidationError, FilterSyntaxError, PymcoError
from tests.support.cluster import BIN, wait_for

pytestmark = pytest.mark.integration

APP = '''
import argparse
from pymco.cli.custom import CustomApplication


class Roles(CustomApplication):
    description = "Count nodes per role"

    def add_arguments(self, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--at-least", dest="at_least", type=int, default=1, help="Only roles with this many nodes")

    def main(self) -> int:
        call = self.client("rpcutil").call("get_fact", fact="role")
        counts = {}
        for result in call:
            counts[result.data["value"]] = counts.get(result.data["value"], 0) + 1
        for role, count in sorted(counts.items()):
            if count >= self.args.at_least:
                self.out(f"{role}: {count}")
        return self.halt(call.stats)
'''


@pytest.fixture(scope="module")
def nodes(cluster, tmp_path_factory):
    cluster.add_node("web1", facts={"role": "web", "load": 3, "disk": {"free": 10}}, classes=["webserver"])
    cluster.add_node("web2", facts={"role": "web", "load": 7, "disk": {"free": 90}}, classes=["webserver"])
    cluster.add_node("db1", facts={"role": "db", "load": 1, "disk": {"free": 50}}, classes=["database"])
    cluster.wait()
    lib = tmp_path_factory.mktemp("lib")
    (lib / "applications").mkdir()
    (lib / "applications" / "roles.py").write_text(APP)
    (lib / "applications" / "broken.py").write_text("import no_such_module_here\n")
    config = cluster.write_client("libdir.cfg", libdir=str(lib))
    return cluster, config, lib


def names(results):
    return sorted(r.sender for r in results)


# ---------------------------------------------------------------- pymco.api

def test_api_streams_results_and_counts_the_silent(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config, timeout=2) as mc:
        mc.identity_filter("web1").identity_filter("ghost")  # exact identities: no discovery
        seen = []
        call = mc.call("ping")
        for result in call:
            seen.append((result.sender, call.stats))  # stats only once the iteration ended
        assert seen == [("web1", None)]
        assert call.stats.noresponsefrom == ["ghost"] and call.stats.okcount == 1
        assert mc.stats is call.stats


def test_api_filters_limits_batches_and_reuse(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config, discovery_quiet=0.3) as mc:
        mc.fact_filter("load", "2", ">")
        assert names(mc.call("ping").wait().results) == ["web1", "web2"]
        mc.compound_filter("disk.free>=50")
        assert sorted(mc.discover()) == ["web2"]
        mc.reset_filter().agent_filter("rpcutil")
        mc.limit, mc.limit_seed = 2, 7
        first = names(mc.call("ping").wait().results)
        assert len(first) == 2
        assert names(mc.call("ping").wait().results) == first  # discovery reused, same pick
        mc.limit, mc.batch_size, mc.batch_sleep = None, 1, 0
        call = mc.call("ping").wait()
        assert names(call.results) == ["db1", "web1", "web2"] and call.stats.responses == 3
        mc.discover(nodes=["db1"])
        assert names(mc.call("ping").wait().results) == ["db1"]


def test_api_errors_are_pymco_errors_raised_before_sending(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config) as mc:
        with pytest.raises(DDLValidationError, match="needs a fact argument"):
            mc.call("get_fact")
        with pytest.raises(FilterSyntaxError):
            mc.compound_filter("role=web and")
        mc.collective = "nosuchcollective"
        with pytest.raises(ClientError, match="Unknown collective"):
            mc.call("ping")


def test_api_leaving_the_loop_early_and_coming_back(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config, timeout=3) as mc:
        mc.identity_filter("web1").identity_filter("db1").identity_filter("ghost")
        call = mc.call("ping")
        first = next(iter(call))
        rest = list(call)  # goes on with the next reply, then ends with the stats
        assert sorted([first.sender] + [r.sender for r in rest]) == ["db1", "web1"]
        assert call.stats.noresponsefrom == ["ghost"] and list(call) == []
        mc.reset_filter()
        for _ in mc.call("ping"):
            break
        assert names(mc.call("ping").wait().results) == ["db1", "web1", "web2"]


def test_api_a_failed_call_raises_again_instead_of_hanging(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config) as mc:
        mc.discovery_method, mc.discovery_options = "flatfile", ["/nonexistent/nodes.txt"]
        call = mc.call("ping")
        for _ in range(2):
            with pytest.raises(PymcoError):
                call.wait()


def test_api_clients_in_threads(nodes):
    cluster, config, _ = nodes
    found = {}

    def work(identity):
        with Client("rpcutil", config) as mc:
            found[identity] = names(mc.identity_filter(identity).call("get_fact", fact="role").wait().results)

    threads = [threading.Thread(target=work, args=(i,)) for i in ("web1", "web2", "db1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert found == {"web1": ["web1"], "web2": ["web2"], "db1": ["db1"]}


def test_api_print_is_mco_rpc_output(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config) as mc:
        text = mc.call("get_fact", fact="role").format(sort=True)
    cli = cluster.mco("rpc", "rpcutil", "get_fact", "fact=role", "--sort", config=config)
    assert cli.rc == 0, cli
    strip = lambda s: s.rsplit(" hosts in ", 1)[0]  # noqa: E731 - the times differ
    assert strip(text) == strip(cli.out) and "web = 2" in text


def test_api_fire_and_forget_reaches_the_nodes(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config) as mc:
        requestid = mc.identity_filter("db1").send("ping")
    log = cluster.nodes["db1"].log_path
    wait_for(lambda: requestid in log.read_text(errors="replace"), timeout=20)


# ---------------------------------------------------------------- generated client

def test_generated_client_typed_methods_and_validation(nodes, tmp_path):
    cluster, config, _ = nodes
    result = cluster.mco("plugin", "generate", "client", "service", "--output", str(tmp_path), config=config)
    assert result.rc == 0, result
    path = tmp_path / "service_client.py"
    spec = importlib.util.spec_from_file_location("service_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    signature = inspect.signature(module.ServiceClient.status)
    assert str(signature) == "(self, *, service: 'str') -> 'Call'"
    assert "The service to get the status for" in module.ServiceClient.status.__doc__
    with module.ServiceClient(str(config)) as client:
        client.identity_filter("web1")
        with pytest.raises(DDLValidationError):
            client.status(service="bad;name")
        with pytest.raises(TypeError):
            client.status("positional")
        [reply] = list(client.status(service="pymco-no-such-service"))
        assert reply.sender == "web1" and reply.action == "status"
    assert cluster.mco("plugin", "generate", "client", "service", "--output", str(tmp_path),
                       config=config).rc == 1  # never overwrites


def test_generated_clients_for_every_shipped_agent_compile(nodes, tmp_path):
    cluster, config, _ = nodes
    for agent in ("rpcutil", "package", "service", "puppet", "discovery"):
        result = cluster.mco("plugin", "generate", "client", agent, "--output", str(tmp_path), config=config)
        assert result.rc == 0, result
        proc = subprocess.run([sys.executable, "-c", f"import {agent}_client as m; print(m.__all__)"],
                              cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- custom applications

def test_libdir_application_runs_with_its_options_and_the_filters(nodes):
    cluster, config, _ = nodes
    result = cluster.mco("roles", config=config)
    assert result.rc == 0, result
    assert result.out == "db: 1\nweb: 2\n"
    assert cluster.mco("roles", "--at-least", "2", config=config).out == "web: 2\n"
    assert cluster.mco("roles", "-C", "database", config=config).out == "db: 1\n"
    help_text = cluster.mco("roles", "--help", config=config).out
    assert "--at-least" in help_text and "--with-fact" in help_text and "--filter-replies" in help_text
    assert "Count nodes per role" in cluster.mco("help", config=config).out


def test_broken_libdir_application_is_one_line(nodes):
    cluster, config, _ = nodes
    result = cluster.mco("broken", config=config)
    assert result.rc == 1
    assert "broken.py" in result.err and "no_such_module_here" in result.err and "Traceback" not in result.err
    listing = cluster.mco("help", config=config)
    assert listing.rc == 0 and "roles" in listing.out


def test_generated_application_honours_output_options(nodes, tmp_path):
    cluster, config, lib = nodes
    result = cluster.mco("plugin", "generate", "application", "showfact", "--output", str(lib), config=config)
    assert result.rc == 0, result
    result = cluster.mco("showfact", "role", "-F", "role=web", "--json", config=config)
    assert result.rc == 0, result
    assert sorted(r["sender"] for r in json.loads(result.out)) == ["web1", "web2"]
    result = cluster.mco("showfact", "role", "--filter-replies", "value=db", "--jsonl", config=config)
    assert [json.loads(line)["sender"] for line in result.out.splitlines()] == ["db1"]


# ---------------------------------------------------------------- pipelines

def mco_pipe(config, first, second):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    script = f"mco {first} -c {config} | mco {second} -c {config}"
    return subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, text=True, env=env,
                          timeout=120)


def test_filter_replies_chains_on_reply_content(nodes):
    cluster, config, _ = nodes
    proc = mco_pipe(config, "rpc rpcutil get_fact fact=load --filter-replies 'value>2' --senders",
                    "rpc rpcutil get_fact fact=role --json")
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["sender"] for r in json.loads(proc.stdout)) == ["web1", "web2"]
    proc = mco_pipe(config, "rpc rpcutil get_fact fact=disk --filter-replies 'value.free<60 and not sender=db1' "
                            "--jsonl", "rpc rpcutil ping --senders")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["web1"]


def test_jsonl_is_one_reply_per_line_and_text_output_filters(nodes):
    cluster, config, _ = nodes
    result = cluster.mco("rpc", "rpcutil", "get_fact", "fact=role", "--jsonl", config=config)
    assert result.rc == 0, result
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert sorted(r["sender"] for r in lines) == ["db1", "web1", "web2"]
    assert "Finished processing 3 / 3 hosts" in result.err  # stdout is the pipeline's: stats on stderr
    result = cluster.mco("rpc", "rpcutil", "ping", "-I", "web1", "-I", "gone1", "--senders", config=config)
    assert result.rc == 0 and result.out.split() == ["web1"], result  # Ruby's halt code: some replies is 0
    assert "Finished processing 1 / 2 hosts" in result.err and "No response from:" in result.err, result
    assert result.err.split("No response from:")[1].split() == ["gone1"], result
    result = cluster.mco("rpc", "rpcutil", "get_fact", "fact=role", "--filter-replies", "value=db", config=config)
    assert "db1" in result.out and "web1" not in result.out
    assert "Finished processing 3 / 3 hosts" in result.out  # stats count every reply


def test_bad_pipeline_options_are_one_line(nodes):
    cluster, config, _ = nodes
    result = cluster.mco("rpc", "rpcutil", "ping", "--filter-replies", "value=(", config=config)
    assert result.rc == 1 and "--filter-replies" in result.err and "Traceback" not in result.err
    result = cluster.mco("rpc", "rpcutil", "ping", "--jsonl", "--json", config=config)
    assert result.rc == 1 and "cannot be combined" in result.err


def test_api_calls_inside_a_loop_over_another_call(nodes):
    cluster, config, _ = nodes
    with Client("rpcutil", config) as mc:
        roles = {}
        for result in mc.call("ping"):
            with_role = mc.call("get_fact", fact="role").wait()
            roles[result.sender] = len(with_role.results)
        assert roles == {"db1": 3, "web1": 3, "web2": 3}


def test_entry_point_application(nodes, tmp_path):
    cluster, config, _ = nodes
    (tmp_path / "pingcount.py").write_text(
        "from pymco.cli.custom import CustomApplication\n\n\n"
        "class PingCount(CustomApplication):\n"
        "    name = 'pingcount'\n    description = 'Count the nodes that answer'\n\n"
        "    def main(self) -> int:\n"
        "        call = self.client('rpcutil').call('ping').wait()\n"
        "        self.out(str(call.stats.okcount))\n        return self.halt(call.stats)\n")
    info = tmp_path / "pingcount-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pingcount\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pymco.application]\npingcount = pingcount:PingCount\n")
    env = {"PYTHONPATH": str(tmp_path)}
    result = cluster.mco("pingcount", "-F", "role=web", config=config, env=env)
    assert result.rc == 0 and result.out == "2\n", result
    assert "pingcount" in cluster.mco("help", config=config, env=env).out


def test_custom_application_reads_nodes_from_a_pipe(nodes):
    cluster, config, _ = nodes
    proc = mco_pipe(config, "rpc rpcutil get_fact fact=role --filter-replies 'value=web' --jsonl", "roles")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "web: 2\n"
