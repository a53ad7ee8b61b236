"""Issue 3: facts from Facter — `pymcod facts refresh` and the daemon's yaml fact source."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.support.cluster import run, tool

pytestmark = pytest.mark.integration


def refresh(output: Path, *args: str):
    return run([tool("pymcod"), "facts", "refresh", "--output", str(output), *args])


def stand_in_facter(directory: Path, body: str) -> Path:
    script = directory / "facter"
    script.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/args\"\n" + body)
    script.chmod(0o755)
    return script


def test_refresh_from_real_facter(tmp_path):
    output = tmp_path / "facts.yaml"
    proc = refresh(output)
    assert proc.returncode == 0, proc.stderr
    facts = yaml.safe_load(output.read_text())
    assert facts["os"]["family"] == "Debian"
    assert isinstance(facts["processors"]["count"], int)   # types kept
    assert "ERROR" not in output.read_text()


def test_refresh_accepts_nonzero_exit_with_complete_yaml(tmp_path):
    facter = stand_in_facter(tmp_path, "echo 'ERROR: cannot read /proc/xyz' >&2\n"
                                       "printf 'os:\\n  family: Debian\\nrole: web\\n'\nexit 1\n")
    output = tmp_path / "facts.yaml"
    proc = refresh(output, "--facter", str(facter), "-p")
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(output.read_text()) == {"os": {"family": "Debian"}, "role": "web"}
    assert (tmp_path / "args").read_text().split() == ["--yaml", "-p"]


@pytest.mark.parametrize("body,message", [
    ("printf 'os:\\n  family: [Debian\\n'\nexit 1\n", "invalid YAML"),
    ("echo 'facter: broken' >&2\nexit 3\n", "printed no facts"),
    ("printf 'role: web\\n'\n", "lacks the os facts"),
])
def test_refresh_keeps_the_old_file_on_bad_output(tmp_path, body, message):
    output = tmp_path / "facts.yaml"
    output.write_text("os:\n  family: Debian\n")
    proc = refresh(output, "--facter", str(stand_in_facter(tmp_path, body)))
    assert proc.returncode == 1
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert output.read_text() == "os:\n  family: Debian\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".facts-")] == []


def get_fact(cluster, node: str, fact: str):
    result = cluster.mco("rpc", "rpcutil", "get_fact", f"fact={fact}", "-I", node, "--json")
    [reply] = json.loads(result.out)
    return reply["data"]["value"]


def test_daemon_reloads_changed_facts_and_keeps_last_good(cluster):
    node = cluster.add_node("facts01", facts={"role": "web", "app": {"port": 80}})
    cluster.wait([node])
    assert get_fact(cluster, "facts01", "app.port") == 80
    assert get_fact(cluster, "facts01", "os.family") == "Debian"   # merged from Facter's file
    node.facts_path.write_text(yaml.safe_dump({"role": "db", "app": {"port": 5432}}))
    deadline = time.monotonic() + 10
    while get_fact(cluster, "facts01", "role") != "db" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert get_fact(cluster, "facts01", "app.port") == 5432
    node.facts_path.write_text("role: [unterminated\n")
    time.sleep(1.1)
    assert get_fact(cluster, "facts01", "role") == "db"
    assert "keeping its last good facts" in node.log()
    assert cluster.mco("find", "-F", "role=db", "-I", "facts01").rc == 0
