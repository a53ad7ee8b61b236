"""Issue 3 interop: filters travel in MCollective's wire structure both ways.

Debian's Ruby `mco` selects pymcod nodes with fact, class and compound
filters; pymco's `mco` selects Ruby mcollectived nodes (flat facts) the same way.
"""

from __future__ import annotations

import pytest

from tests.support.ruby import ruby_fleet, ruby_mco

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def mixed(cluster, tmp_path_factory):
    cluster.add_node("pyweb", facts={"role": "web", "tier": "2"}, classes=["base", "role::web"])
    cluster.add_node("pydb", facts={"role": "db", "tier": "10"}, classes=["base", "role::db"])
    cluster.wait()
    with ruby_fleet(tmp_path_factory.mktemp("ruby"), cluster.collectives,
                    {"rbweb": {"facts": {"role": "web", "tier": "3"}, "classes": ["base", "role::web"]},
                     "rbdb": {"facts": {"role": "db", "tier": "9"}, "classes": ["base", "role::db"]}}) as config:
        yield cluster, config

def lines(result) -> list[str]:
    assert result.rc in (0, 1), result
    return sorted(result.out.split())


@pytest.mark.parametrize("args,expected", [
    (["-F", "role=web"], ["pyweb", "rbweb"]),
    (["-F", "tier>5"], ["pydb", "rbdb"]),             # numeric comparison on both sides
    (["-F", "role=/^d/"], ["pydb", "rbdb"]),
    (["-C", "role::db"], ["pydb", "rbdb"]),
    (["-C", "/web$/"], ["pyweb", "rbweb"]),
    (["-W", "base role=web"], ["pyweb", "rbweb"]),
    (["-S", "role=db and not tier=9"], ["pydb"]),
    (["-S", "(role::web or tier=10) and base"], ["pydb", "pyweb", "rbweb"]),
    (["-S", "fstat('/etc/hosts').size > 0 and role=web"], ["pyweb", "rbweb"]),
    (["-S", "fstat('/etc/hosts').type = /^fi/ and role=db"], ["pydb", "rbdb"]),
])
def test_ruby_and_pymco_clients_select_the_same_nodes(mixed, args, expected):
    cluster, config = mixed
    assert lines(ruby_mco("find", *args, "--dt", "3", config=config)) == expected
    assert lines(cluster.mco("find", *args, "--dt", "3")) == expected


def test_ruby_fact_filter_drives_rpc_on_pymcod(mixed):
    cluster, config = mixed
    result = ruby_mco("rpc", "rpcutil", "get_fact", "fact=tier", "-F", "role=db", "--json", config=config)
    assert result.rc == 0, result
    assert '"pydb"' in result.out and '"rbdb"' in result.out and "pyweb" not in result.out
