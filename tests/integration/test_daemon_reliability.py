"""Issue 7: agent faults and the daemon's lifecycle, on real pymcod processes.

* an exception in an action is status 5 with its message; a module that does
  not load is logged and skipped while the other agents serve;
* a hung action is killed and answered at its DDL timeout while the daemon
  keeps answering other requests;
* under overload the bounded queue refuses with an answer, counted in
  daemon_stats; nothing goes unanswered;
* SIGTERM with soft_shutdown lets a running action finish and reply;
  soft_shutdown_timeout bounds the wait; SIGUSR1 reloads agents without
  losing the request in flight; SIGHUP reopens the log after logrotate moved it.
"""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.support.cluster import tool, wait_for
from tests.support.slow_agents import HANG_COMMAND, write_broken_agent, write_slow_agents

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def rel(cluster):
    libdir = write_slow_agents(cluster.directory / "rel-lib")
    write_broken_agent(libdir)
    cluster.client_config = cluster.write_client("rel-client.cfg", libdir=str(libdir))
    return cluster, libdir


def start_node(cluster, libdir, name, **settings):
    node = cluster.add_node(name, base_facts=False, libdir=str(libdir), **settings)
    node.wait_started()
    return node


def mco_async(cluster, *args):
    return subprocess.Popen([tool("mco"), *args, "-c", str(cluster.client_config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def finish(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def daemon_stats(cluster, name):
    result = cluster.mco("rpc", "rpcutil", "daemon_stats", "-I", name, "--json")
    assert result.rc == 0, result
    return json.loads(result.out)[0]["data"]


def test_exception_is_status_5_with_its_message(rel):
    cluster, libdir = rel
    start_node(cluster, libdir, "rel01")
    result = cluster.mco("rpc", "slow", "explode", "-I", "rel01", "--json")
    [reply] = json.loads(result.out)
    assert reply["statuscode"] == 5
    assert reply["statusmsg"] == "the flux capacitor is broken"
    assert reply["data"]["before"] == "filled in"


def test_agent_that_fails_to_load_is_skipped(rel):
    cluster, libdir = rel
    node = cluster.nodes["rel01"]
    assert "broken" in node.log() and "SyntaxError" in node.log()
    inventory = cluster.mco("rpc", "rpcutil", "inventory", "-I", "rel01", "--json")
    agents = json.loads(inventory.out)[0]["data"]["agents"]
    assert "slow" in agents and "hung" in agents and "broken" not in agents
    assert node.proc.poll() is None


def test_hung_action_is_answered_at_its_timeout_while_others_are_served(rel):
    cluster, libdir = rel
    node = cluster.nodes["rel01"]
    before = daemon_stats(cluster, "rel01")["timeouts"]
    mark = len(node.log())
    hung = mco_async(cluster, "rpc", "hung", "forever", "-I", "rel01", "--json")
    wait_for(lambda: "hanging for" in node.log()[mark:])
    # while the action hangs, the daemon answers others
    served = cluster.mco("rpc", "slow", "nap", "seconds=0", "-I", "rel01", "--json")
    assert served.rc == 0, served
    assert hung.poll() is None, "the hung request was answered before the ping"
    rc, out, err = finish(hung)
    [reply] = json.loads(out)
    assert reply["statuscode"] == 5
    assert "timed out after 2 seconds" in reply["statusmsg"]
    assert daemon_stats(cluster, "rel01")["timeouts"] == before + 1
    # its process was killed with it
    assert subprocess.run(["pgrep", "-f", f"^{HANG_COMMAND}$"], capture_output=True).returncode == 1


def test_overload_is_refused_with_an_answer_and_counted(rel):
    cluster, libdir = rel
    start_node(cluster, libdir, "rel02", max_workers=1, max_queued_requests=1)
    procs = [mco_async(cluster, "rpc", "slow", "nap", "seconds=2", "-I", "rel02", "--json") for _ in range(5)]
    replies = []
    for proc in procs:
        rc, out, err = finish(proc)
        assert "Traceback" not in err
        replies.extend(json.loads(out))
    assert len(replies) == 5  # every request was answered, one way or the other
    refused = [r for r in replies if r["statuscode"] == 5]
    done = [r for r in replies if r["statuscode"] == 0]
    assert refused and done and len(refused) + len(done) == 5
    assert all("overloaded" in r["statusmsg"] for r in refused)
    assert daemon_stats(cluster, "rel02")["overloaded"] == len(refused)


def test_ping_is_answered_while_every_worker_is_busy(rel):
    # Pings run on the receiving thread (Agent.inline_actions): a saturated pool cannot hide a live node.
    cluster, libdir = rel
    node = start_node(cluster, libdir, "rel05", max_workers=1, max_queued_requests=1)
    # naps long enough to outlast the pings below (mco ping waits its whole 3 s for a filter it has not seen)
    naps = [mco_async(cluster, "rpc", "slow", "nap", "seconds=15", "-I", "rel05", "--json") for _ in range(2)]
    wait_for(lambda: "napping" in node.log())
    # and the second nap is in the queue (a loaded machine can start its mco late): now the pool is full
    wait_for(lambda: node.log().count("for agent slow from") >= 2)
    ping = cluster.mco("rpc", "rpcutil", "ping", "-I", "rel05", "--json")
    [reply] = json.loads(ping.out)
    assert reply["statuscode"] == 0 and isinstance(reply["data"]["pong"], int), ping
    assert "rel05" in cluster.mco("ping", "-I", "rel05", "-t", "3").out
    refused = cluster.mco("rpc", "slow", "nap", "seconds=1", "-I", "rel05", "--json")
    assert "overloaded" in json.loads(refused.out)[0]["statusmsg"], refused  # the pool was full all along
    for proc in naps:
        finish(proc)


def test_sigterm_with_soft_shutdown_delivers_the_reply(rel):
    cluster, libdir = rel
    node = start_node(cluster, libdir, "rel03", soft_shutdown=1)
    call = mco_async(cluster, "rpc", "slow", "nap", "seconds=6", "-I", "rel03", "--json")
    wait_for(lambda: "napping" in node.log())
    node.signal(signal.SIGTERM)
    wait_for(lambda: "soft shutdown: waiting" in node.log())
    # a request arriving meanwhile is refused with an answer, not dropped silently
    late = cluster.mco("rpc", "rpcutil", "ping", "-I", "rel03", "--json")
    [refusal] = json.loads(late.out)
    assert refusal["statuscode"] == 5 and "is shutting down" in refusal["statusmsg"], late
    rc, out, err = finish(call)
    [reply] = json.loads(out)
    assert reply["statuscode"] == 0 and reply["data"]["slept"] == 6, out + err
    assert node.proc.wait(20) == 0
    assert "pymcod stopped" in node.log()


def test_soft_shutdown_timeout_bounds_the_wait(rel):
    cluster, libdir = rel
    node = start_node(cluster, libdir, "rel04", soft_shutdown=1, soft_shutdown_timeout=1)
    call = mco_async(cluster, "rpc", "slow", "nap", "seconds=30", "-I", "rel04", "-t", "40")
    try:
        wait_for(lambda: "napping" in node.log())
        node.signal(signal.SIGTERM)
        assert node.proc.wait(20) == 0  # long before the action's 30 s
        assert "soft shutdown timeout reached" in node.log()
    finally:
        call.kill()
        call.communicate()


def test_sigusr1_reload_keeps_the_request_in_flight(rel):
    cluster, libdir = rel
    node = start_node(cluster, libdir, "rel10")
    mark = len(node.log())
    call = mco_async(cluster, "rpc", "slow", "nap", "seconds=3", "-I", "rel10", "--json")
    wait_for(lambda: "napping" in node.log()[mark:])
    node.signal(signal.SIGUSR1)
    wait_for(lambda: "reloading agents" in node.log()[mark:])
    rc, out, err = finish(call)
    [reply] = json.loads(out)
    assert reply["statuscode"] == 0 and reply["data"]["slept"] == 3, out + err
    assert cluster.mco("rpc", "slow", "nap", "seconds=0", "-I", "rel10").rc == 0


def test_sighup_reopens_the_log_after_logrotate(rel):
    cluster, libdir = rel
    node = start_node(cluster, libdir, "rel06", max_log_size=0)
    rotated = node.log_path.with_suffix(".log.1")
    node.log_path.rename(rotated)  # what logrotate does (without copytruncate)
    node.signal(signal.SIGHUP)
    wait_for(lambda: node.log_path.exists() and "reopened log file" in node.log_path.read_text())
    assert cluster.mco("rpc", "rpcutil", "ping", "-I", "rel06").rc == 0
    assert "started as rel06" in rotated.read_text()
    assert "started as rel06" not in node.log_path.read_text()


def test_late_replies_are_counted_not_printed(rel):
    cluster, libdir = rel
    names = ["rel07", "rel08", "rel09"]
    for name in names:
        cluster.add_node(name, base_facts=False, libdir=str(libdir))
    cluster.wait([cluster.nodes[n] for n in names])
    args = [a for n in names for a in ("-I", n)]
    # batches of one share a request id: each node answers (after 3 s) while the next batch waits
    result = cluster.mco("rpc", "slow", "nap", "seconds=3", "--batch", "1", "--batch-sleep", "0", "-t", "2",
                         *args)
    assert "Slept" not in result.out, result  # no late reply is printed as an answer
    assert "Finished processing 0 / 3 hosts" in result.out, result
    grid, _, tail = result.out.split("No response from:")[1].partition("late repl")
    *missing, late = grid.split()
    assert sorted(missing) == names, result
    assert 1 <= int(late) <= 2 and "arrived after the timeout and were not counted" in tail, result
