"""Issue 4: `mco puppet` drives real masterless `puppet apply` runs through pymcod.

Each node's Puppet keeps all its state (vardir, publicdir, statedir, ...) in
a temporary folder through its own puppet.conf (`plugin.puppet.config`), and
`plugin.puppet.command` is `puppet apply --config <it> <site.pp>`, so the
machine's own Puppet state is never touched.  The manifest manages a file
and sleeps a little, long enough to see a node "applying a catalog".
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.puppet_apply import STATE_DIRS

pytestmark = pytest.mark.integration



def puppet_home(directory: Path, content: str) -> Path:
    directory.mkdir(parents=True)
    lines = ["[main]"] + [f"{key} = {directory / sub}" for key, sub in STATE_DIRS.items()]
    (directory / "puppet.conf").write_text("\n".join(lines) + "\n")
    (directory / "site.pp").write_text(f'file {{ "{directory}/managed.txt": content => "{content}" }}\n'
                                       f'exec {{ "/bin/sleep 2": }}\n')
    return directory


@pytest.fixture(scope="module")
def fleet(cluster, tmp_path_factory):
    homes = {}
    for name in ("pup01", "pup02"):
        home = puppet_home(tmp_path_factory.mktemp("puppet") / name, f"managed by {name}")
        homes[name] = home
        cluster.add_node(name, **{"plugin.puppet.command": f"puppet apply --config {home}/puppet.conf {home}/site.pp",
                                  "plugin.puppet.config": f"{home}/puppet.conf",
                                  "plugin.puppet.resource_type_whitelist": "file"})
    cluster.wait()
    return cluster, homes


def rpc(cluster, node, action, *args):
    result = cluster.mco("rpc", "puppet", action, *args, "-I", node, "--json")
    assert result.rc in (0, 2), result
    [reply] = json.loads(result.out)
    return reply


def wait_for_run(cluster, node, initiated_at, timeout=60.0):
    """Poll status until the node finished a run that completed after `initiated_at`."""
    end = time.monotonic() + timeout
    seen_applying = False
    while time.monotonic() < end:
        data = rpc(cluster, node, "status")["data"]
        seen_applying = seen_applying or data["applying"]
        if not data["applying"] and data["lastrun"] >= initiated_at:
            return data, seen_applying
        time.sleep(0.3)
    raise AssertionError(f"{node} did not complete a Puppet run within {timeout}s")


def test_status_before_any_run(fleet):
    cluster, homes = fleet
    data = rpc(cluster, "pup01", "status")["data"]
    assert data["enabled"] is True and data["applying"] is False and data["daemon_present"] is False
    assert data["lastrun"] == 0 and data["status"] == "stopped"
    assert data["message"].startswith("Currently stopped; last completed run ")


def test_runonce_runs_puppet_apply(fleet):
    cluster, homes = fleet
    reply = rpc(cluster, "pup01", "runonce", "force=true")
    assert reply["statuscode"] == 0, reply
    home = homes["pup01"]
    assert reply["data"]["summary"] == (f"Started a Puppet run using the 'puppet apply --config {home}/puppet.conf "
                                        f"{home}/site.pp --color=false --show_diff --verbose "
                                        f"--write-catalog-summary' command")
    data, seen_applying = wait_for_run(cluster, "pup01", reply["data"]["initiated_at"])
    assert seen_applying, "the node never reported 'applying a catalog' during a 2 s run"
    assert (home / "managed.txt").read_text() == "managed by pup01"
    assert not (homes["pup02"] / "managed.txt").exists()
    assert (home / "var" / "public" / "last_run_summary.yaml").exists()


def test_runonce_while_applying_is_refused(fleet):
    cluster, homes = fleet
    (homes["pup01"] / "managed.txt").unlink()
    first = rpc(cluster, "pup01", "runonce", "force=true")
    end = time.monotonic() + 30
    while not rpc(cluster, "pup01", "status")["data"]["applying"]:
        assert time.monotonic() < end, "the run never started applying"
        time.sleep(0.1)
    second = rpc(cluster, "pup01", "runonce", "force=true")
    assert second["statuscode"] == 1
    assert second["statusmsg"] == "Puppet is currently applying a catalog, cannot run now"
    wait_for_run(cluster, "pup01", first["data"]["initiated_at"])
    assert (homes["pup01"] / "managed.txt").exists()


def test_status_and_summary_report_the_run(fleet):
    cluster, homes = fleet
    result = cluster.mco("puppet", "status", "-I", "pup01")
    assert result.rc == 0, result
    assert "pup01: Currently stopped; last completed run " in result.out
    assert "Summary of Enabled:" in result.out and "enabled = 1" in result.out
    summary = rpc(cluster, "pup01", "last_run_summary", "logs=true")["data"]
    assert summary["total_resources"] >= 2
    assert summary["changed_resources"] >= 1 and summary["failed_resources"] == 0
    assert summary["since_lastrun"] < 120 and summary["lastrun"] > 0
    assert summary["type_distribution"] == {"File": 1, "Exec": 1}
    assert summary["summary"]["version"]["puppet"].startswith("7.")
    assert any("managed.txt" in (entry["source"] or "") for entry in summary["logs"])
    result = cluster.mco("puppet", "summary", "-I", "pup01")
    assert result.rc == 0, result
    assert "Summary statistics for 1 nodes:" in result.out
    assert "Total resources: ▁" in result.out and "max: " in result.out


def test_puppet_and_resource_data_plugins(fleet):
    cluster, homes = fleet
    result = cluster.mco("rpc", "rpcutil", "get_data", "source=puppet", "-I", "pup01", "--json")
    assert result.rc == 0, result
    data = json.loads(result.out)[0]["data"]
    assert data["enabled"] is True and data["status"] == "stopped" and data["lastrun"] > 0
    managed = homes["pup01"] / "managed.txt"
    result = cluster.mco("rpc", "rpcutil", "get_data", "source=resource", f"query=File[{managed}]", "-I", "pup01",
                         "--json")
    data = json.loads(result.out)[0]["data"]
    assert data["managed"] is True and data["total_resources"] >= 2 and data["config_version"] != "unknown"


def test_count(fleet):
    cluster, homes = fleet
    result = cluster.mco("puppet", "count")
    assert result.rc == 0, result
    assert "Total Puppet nodes: 2" in result.out
    assert "Nodes currently enabled: 2" in result.out


def test_disable_blocks_runonce_with_its_message(fleet):
    cluster, homes = fleet
    result = cluster.mco("puppet", "disable", "database migration in progress", "-I", "pup02")
    assert result.rc == 0, result
    assert "disabled = 1" in result.out
    lock = homes["pup02"] / "var" / "state" / "agent_disabled.lock"
    assert json.loads(lock.read_text()) == {"disabled_message": "database migration in progress"}
    result = cluster.mco("puppet", "runonce", "--force", "-I", "pup02")
    assert result.rc == 2
    assert "Puppet is disabled: 'database migration in progress'" in result.out
    assert not (homes["pup02"] / "managed.txt").exists()
    again = rpc(cluster, "pup02", "disable")
    assert again["statuscode"] == 1 and again["statusmsg"] == "Could not disable Puppet: Already disabled"
    status = rpc(cluster, "pup02", "status")["data"]
    assert status["status"] == "disabled" and status["disable_message"] == "database migration in progress"


def test_enable(fleet):
    cluster, homes = fleet
    result = cluster.mco("puppet", "enable", "-I", "pup02")
    assert result.rc == 0, result
    assert "enabled = 1" in result.out
    assert not (homes["pup02"] / "var" / "state" / "agent_disabled.lock").exists()
    again = rpc(cluster, "pup02", "enable")
    assert again["statusmsg"] == "Could not enable Puppet: Already enabled"


def test_runall_runs_every_enabled_node(fleet):
    cluster, homes = fleet
    for home in homes.values():
        (home / "managed.txt").unlink(missing_ok=True)
    result = cluster.mco("puppet", "runall", "1", timeout=180)
    assert result.rc == 0, result
    assert "Running all nodes with a concurrency of 1" in result.out
    assert "Found 2 enabled nodes" in result.out
    assert "pup01 schedule status: Started a Puppet run" in result.out
    assert "pup02 schedule status: Started a Puppet run" in result.out
    assert "Iteration complete. Initiated a Puppet run on 2 nodes." in result.out
    deadline = time.monotonic() + 60
    while not all((home / "managed.txt").exists() for home in homes.values()):
        assert time.monotonic() < deadline, "runall did not run every node"
        time.sleep(0.3)
    # concurrency 1: pup02's run began (writing its file) only after pup01's run had completed
    first_done = rpc(cluster, "pup01", "status")["data"]["lastrun"]
    assert (homes["pup02"] / "managed.txt").stat().st_mtime >= first_done - 1


def test_resource_applies_an_allowed_resource(fleet):
    cluster, homes = fleet
    target = homes["pup01"] / "resource.txt"
    result = cluster.mco("puppet", "resource", "file", str(target), "ensure=file", "content=from mco",
                         "-I", "pup01")
    assert result.rc == 0, result
    assert target.read_text() == "from mco"
    assert "Changed = 1" in result.out
    again = rpc(cluster, "pup01", "resource", "type=file", f"name={target}", "ensure=file", "content=from mco")
    assert again["statuscode"] == 0 and again["data"]["changed"] is False


def test_resource_policy(fleet):
    cluster, homes = fleet
    refused = rpc(cluster, "pup01", "resource", "type=exec", "name=/bin/true")
    assert refused["statuscode"] == 1
    assert refused["statusmsg"] == "The exec type is not listed in the type whitelist"
    managed = homes["pup01"] / "managed.txt"
    refused = rpc(cluster, "pup01", "resource", "type=file", f"name={managed}", "ensure=absent")
    assert refused["statusmsg"] == (f"Puppet is managing the resource 'File[{managed}]', refusing to create "
                                    f"conflicting states")
    assert managed.exists()


def test_runonce_input_validation(fleet):
    cluster, homes = fleet
    result = cluster.mco("puppet", "runonce", "--tags", "a;b", "-I", "pup01")
    assert result.rc == 1
    assert "Cannot validate input tags: value should not have ; in it" in result.err
    result = cluster.mco("puppet", "runonce", "--force", "--splay")
    assert result.rc == 1 and "Cannot set splay when forcing runs" in result.err
    server = rpc(cluster, "pup01", "runonce", "server=puppet.example.com:8140")
    assert server["statusmsg"] == "Passing 'server' option is not allowed in module configuration"


def test_an_idling_daemon_is_signalled_instead(fleet):
    cluster, homes = fleet
    pidfile = homes["pup02"] / "run" / "user.pid"  # Puppet's pidfile setting for this run mode
    pidfile.parent.mkdir(exist_ok=True)
    daemon = subprocess.Popen(["sleep", "300"])
    try:
        pidfile.write_text(str(daemon.pid))
        status = rpc(cluster, "pup02", "status")["data"]
        assert status["daemon_present"] is True and status["status"] == "idling"
        refused = rpc(cluster, "pup02", "runonce", "noop=true")
        assert refused["statusmsg"] == "Cannot specify any custom puppet options when the daemon is running"
        assert daemon.poll() is None
        reply = rpc(cluster, "pup02", "runonce")
        assert reply["statuscode"] == 0, reply
        assert reply["data"]["summary"] == "Signalled the running Puppet Daemon"
        assert daemon.wait(10) == -signal.SIGUSR1
    finally:
        daemon.kill()
        daemon.wait()
        pidfile.unlink()
