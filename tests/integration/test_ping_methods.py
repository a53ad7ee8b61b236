"""`mco ping` with a discovery method other than mc: the nodes it finds are pinged directly.

Ruby's ping always broadcasts and ignores --dm/--nodes; pymco pings what the
chosen method discovered (PuppetDB, a node list, the inventory), ends as soon
as all of them answered, and names the ones that did not.  The broadcast ping
is covered by test_collective.py.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet(cluster):
    for name in ("node01", "node02", "node03"):
        cluster.add_node(name)
    cluster.wait()
    return cluster


def test_ping_with_a_node_list_pings_only_those(fleet, tmp_path):
    nodes = tmp_path / "nodes"
    nodes.write_text("node01\nnode03\n")
    result = fleet.mco("ping", "--nodes", str(nodes), "-t", "20")
    assert result.rc == 0, result
    assert sorted(line.split()[0] for line in result.out.splitlines() if "time=" in line) == ["node01", "node03"]
    assert "2 replies max:" in result.out
    assert result.elapsed < 10, "the wait ends once every listed node answered"
    assert "No response" not in result.err


def test_ping_names_listed_nodes_that_do_not_answer(fleet, tmp_path):
    nodes = tmp_path / "nodes"
    nodes.write_text("node02\nghost.example.test\n")
    result = fleet.mco("ping", "--dm", "flatfile", "--do", str(nodes), "-t", "2", "--json")
    assert result.rc == 0, result
    assert [reply["sender"] for reply in json.loads(result.out)] == ["node02"]
    result = fleet.mco("ping", "--dm", "flatfile", "--do", str(nodes), "-t", "2")
    assert "No response from 1 of the 2 discovered node(s): ghost.example.test" in result.err


def test_ping_with_a_method_that_finds_nobody(fleet, tmp_path):
    nodes = tmp_path / "nodes"
    nodes.write_text("node01\n")
    result = fleet.mco("ping", "--nodes", str(nodes), "-I", "node02")
    assert "No responses received" in result.out
    assert result.rc == 1, result
