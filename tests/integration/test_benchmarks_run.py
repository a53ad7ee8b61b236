"""The benchmark scripts run once at tiny sizes so they cannot rot (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_compare_runs(repo):
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "compare.py"), "--sizes", "1", "--reps", "1",
                           "--requests", "5"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:1] == ["figure"]
    assert any(line.startswith("mco rpc rpcutil ping --nodes FILE, 1 daemons") for line in lines)
    assert any(line.startswith("daemon idle RSS") for line in lines)
    assert any(line.startswith("mco find -F os.family=Debian, warm, 1 daemons") for line in lines)


@pytest.mark.parametrize("broker", [[], ["--nats", "2"]], ids=["stomp", "nats"])
@pytest.mark.parametrize("script", ["raw_fanin.py", "fleet.py"])
def test_fanin_scripts_run(repo, script, broker):
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / script), "--nodes", "6", "--rounds", "2",
                           "--processes", "2", *broker], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lost 0" in proc.stdout and "6/6 replies" in proc.stdout


@pytest.mark.parametrize("local", [False, True], ids=["broker", "local"])
def test_client_absorb_runs(repo, local):
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "client_absorb.py"), "--replies", "50",
                           "--rounds", "2", "--blasters", "2"] + (["--local"] if local else []),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lost 0" in proc.stdout and "50/50 replies" in proc.stdout and "1 summary" in proc.stdout


def test_agent_actions_runs(repo):
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "agent_actions.py"), "--reps", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "package status" in proc.stdout and "puppet status, first call" in proc.stdout


def test_soak_runs(repo):
    # three daemons, one broker restart: the script itself fails if a reply is lost outside the outage
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "soak.py"), "--nodes", "3", "--duration", "8",
                           "--restarts", "1", "--timeout", "5"], capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lost outside outages     0 " in proc.stdout
    assert "broker restarted 1 times" in proc.stdout and "every node answering after" in proc.stdout


def test_startup_api_runs(repo):
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "startup_api.py"), "--reps", "1", "--base", ""],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("mco ")]
    assert len(rows) == 3 and not any("pymco.api" in row for row in rows)


def test_x509_startup_runs(repo):
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "x509_startup.py"), "--reps", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "x509 minus psk" in proc.stdout and "x509, full check minus psk" in proc.stdout
    assert "check skipped" in proc.stdout


def test_puppetdb_discovery_benchmark_runs(repo):
    """It reuses the run's Puppet Server and PuppetDB (PYMCO_TEST_RUN_DIR is inherited)."""
    proc = subprocess.run([sys.executable, str(repo / "benchmarks" / "puppetdb_discovery.py"), "--nodes", "2",
                           "--reps", "1"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].split() == ["command", "mc", "cold", "mc", "warm", "puppetdb"], lines
    assert any(line.startswith("mco rpc rpcutil ping -C role::web") for line in lines)
    assert any(line.startswith("PuppetDB RSS") for line in lines)
