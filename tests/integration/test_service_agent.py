"""Issue 4: `mco service` against pymcod starts, stops, restarts and queries a real service.

The service is a tiny Python daemon behind an LSB init script installed in
/etc/init.d under a unique name (this machine has no systemd, so the agent
uses init scripts) and removed afterwards.  The daemon's PID is checked
directly, not through the agent.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.support.system import InitService

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node(cluster, tmp_path_factory):
    service = InitService(tmp_path_factory.mktemp("service"))
    try:
        service.install()
        cluster.add_node("svc01")
        cluster.wait()
        yield cluster, service
    finally:
        service.remove()


def rpc(cluster, action, service):
    result = cluster.mco("rpc", "service", action, f"service={service}", "-I", "svc01", "--json")
    assert result.rc in (0, 2), result
    [reply] = json.loads(result.out)
    return reply


def test_status_of_a_stopped_service(node):
    cluster, service = node
    result = cluster.mco("service", service.name, "status", "-I", "svc01")
    assert result.rc == 0, result
    assert "svc01: stopped" in result.out
    assert "Summary of Service Status:" in result.out and "stopped = 1" in result.out


def test_start(node):
    cluster, service = node
    result = cluster.mco("service", "start", service.name, "-I", "svc01")
    assert result.rc == 0, result
    assert service.wait_pid(running=True) is not None
    assert "svc01:" not in result.out  # non-verbose start only lists nodes that did not end up running
    assert "running = 1" in result.out
    assert rpc(cluster, "status", service.name)["data"]["status"] == "running"


def test_pipeline_options(node):
    """--filter-replies/--senders/--jsonl work on mco service as on mco rpc, stats on stderr."""
    cluster, service = node
    result = cluster.mco("service", service.name, "status", "-I", "svc01", "--filter-replies", "status=running",
                         "--senders")
    assert result.rc == 0 and result.out.split() == ["svc01"], result
    assert "Finished processing 1 / 1 hosts" in result.err, result
    result = cluster.mco("service", service.name, "status", "-I", "svc01", "--filter-replies", "status=stopped",
                         "--jsonl")
    assert result.rc == 0 and result.out == "", result


def test_service_data_plugin(node):
    cluster, service = node
    result = cluster.mco("rpc", "rpcutil", "get_data", "source=service", f"query={service.name}", "-I", "svc01",
                         "--json")
    assert result.rc == 0, result
    assert json.loads(result.out)[0]["data"] == {"status": "running"}


def test_start_when_running_is_refused_with_the_status(node):
    cluster, service = node
    pid = service.pid()
    reply = rpc(cluster, "start", service.name)
    assert reply["statuscode"] == 1
    assert reply["statusmsg"] == f"Could not start '{service.name}': Service is already running"
    assert reply["data"]["status"] == "running"
    assert service.pid() == pid
    result = cluster.mco("service", service.name, "start", "-I", "svc01")
    assert result.rc == 2
    assert f"svc01: Could not start '{service.name}': Service is already running" in result.out


def test_restart_starts_a_new_process(node):
    cluster, service = node
    before = service.pid()
    result = cluster.mco("service", service.name, "restart", "-I", "svc01", "-v")
    assert result.rc == 0, result
    assert "svc01: running" in result.out
    after = service.wait_pid(running=True)
    assert after is not None and after != before
    assert service.starts.read_text().count("started") == 2


def test_stop(node):
    cluster, service = node
    pid = service.pid()
    result = cluster.mco("service", service.name, "stop", "-I", "svc01")
    assert result.rc == 0, result
    assert service.wait_pid(running=False) is None
    assert not os.path.exists(f"/proc/{pid}/exe")
    assert "stopped = 1" in result.out


def test_stop_when_stopped_is_refused(node):
    cluster, service = node
    reply = rpc(cluster, "stop", service.name)
    assert reply["statuscode"] == 1
    assert reply["statusmsg"] == f"Could not stop '{service.name}': Service is already stopped"
    assert reply["data"]["status"] == "stopped"


def test_unknown_service_is_an_error(node):
    cluster, service = node
    reply = rpc(cluster, "status", "pymco-no-such-service")
    assert reply["statuscode"] == 5
    assert reply["statusmsg"] == "Could not find init script for 'pymco-no-such-service'"


def test_invalid_service_name_is_refused_before_sending(node):
    cluster, service = node
    result = cluster.mco("service", "bad;name", "status", "-I", "svc01")
    assert result.rc == 1
    assert "Cannot validate input service: bad;name is not a valid service name" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_application_usage_errors(node):
    cluster, service = node
    result = cluster.mco("service", "foo")
    assert result.rc == 1 and "Please specify service name and action" in result.err
    result = cluster.mco("service", "foo", "bar")
    assert result.rc == 1 and "Action has to be one of start, stop, restart or status" in result.err
