"""Issue 14: `--dm puppetdb` against a real PuppetDB holding the nodes' real facts and classes.

The run's private PuppetDB (tests/support/puppetdb.py) holds what Puppet
Server's terminus would have stored for each node: its facts (Facter's real
output plus the node's overrides, exactly the facts its pymcod serves) and a
catalog whose Class resources are the node's classes (the classes file its
pymcod reads).  Nodes and the operator use x509 with certificates from the
run's Puppet Server CA, and the operator's certificate is also what PuppetDB
checks.  One more node is stored by a real `puppet apply` through Puppet's
puppetdb terminus, and its pymcod reads the classes file that run wrote.

Every filter is asked of both discovery methods: PuppetDB must find what
the broadcast finds, except the node PuppetDB knows whose daemon is down
(only PuppetDB lists it) and the deactivated node whose daemon still runs
(only the broadcast finds it).  An expired node (last stored beyond
PuppetDB's node-ttl) is never found.  The collective (`-T`, else the main
one) is the one each catalog's Class[Pymco] gives, and a node without that
class is in every collective, for PuppetDB as for the broadcast on daemons
set up that way (`fleet`).
"""

from __future__ import annotations

import datetime
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from pymco.facts.yaml_facts import deep_merge, load_yaml_mapping
from tests.support import puppetdb as pdb
from tests.support.cluster import facter_facts, unique_name
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

# node -> (classes, rack) ; every node running pymcod has the pymco module's classes in its catalog
NODES = {
    "web1": (["role::web", "apache", "apache::mod::ssl"], {"row": "a", "slot": 1}),
    "web2": (["role::web", "apache"], {"row": "a", "slot": 2}),
    "db1": (["role::db", "postgresql::server"], {"row": "b", "slot": 3}),
    "down": (["role::db", "postgresql::server"], {"row": "b", "slot": 4}),  # in PuppetDB, daemon never started
    "retired": (["role::web", "apache"], {"row": "c", "slot": 5}),  # deactivated in PuppetDB, daemon running
}
MODULE_CLASSES = ["pymco", "pymco::server"]
RUNNING = ["web1", "web2", "db1", "retired"]
# `applied` is stored by a real `puppet apply` through Puppet's puppetdb terminus (Puppet's own facts).
# Class[Pymco]'s collectives are its default, the daemons' collective: Puppet stores defaults in the catalog.
APPLIED_MANIFEST = """\
class pymco(Array[String, 1] $collectives = ['{collective}']) {{}}
class pymco::server {{ include pymco }}
class role::app {{}}
include pymco::server, role::app
"""


@pytest.fixture(scope="module")
def lab(cluster, puppet_server, tmp_path_factory):
    tag = unique_name("pdb")
    names = {key: f"{key}.{tag}.test" for key in [*NODES, "applied", "expired"]}
    admin = f"admin-{tag}.mcollective"
    root = tmp_path_factory.mktemp("puppetdb-ids")
    with ThreadPoolExecutor(2) as pool:  # PuppetDB starts (once per run) while the CA signs our identities
        started = pool.submit(pdb.shared_puppetdb, puppet_server)
        issued = puppet_server.identities({name: root / name for name in
                                           [*(names[k] for k in [*RUNNING, "applied"]), admin]})
        db = started.result()
    base = load_yaml_mapping(str(facter_facts(cluster.directory.parent)))
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=pdb.NODE_TTL_DAYS + 3)
    module = {"pymco": {"collectives": [cluster.collective]}}  # what the module's catalog says of the daemons
    with ThreadPoolExecutor(len(NODES) + 2) as pool:
        stored = [pool.submit(db.store_node, names[key], deep_merge(base, {"site": {"rack": rack}}),
                              MODULE_CLASSES + classes, parameters=module) for key, (classes, rack) in NODES.items()]
        # a node whose last run is older than PuppetDB's node-ttl
        stale = deep_merge(base, {"site": {"rack": {"row": "a", "slot": 9}}})
        stored.append(pool.submit(db.store_node, names["expired"], stale, MODULE_CLASSES + ["role::web"], old,
                                  module))
        applied = pool.submit(db.apply, issued[names["applied"]],
                              APPLIED_MANIFEST.format(collective=cluster.collective))
        for future in stored:
            future.result()
        classes_file = applied.result()
    db.deactivate(names["retired"])
    db.expire_stale_nodes(names["expired"])
    for key in RUNNING:
        classes, rack = NODES[key]
        cluster.add_node(names[key], facts={"site": {"rack": rack}}, classes=MODULE_CLASSES + classes,
                         securityprovider="x509", **{"plugin.x509.ssldir": str(issued[names[key]].ssldir)})
    # its classes are those Puppet's run wrote, as on a real node
    cluster.add_node(names["applied"], securityprovider="x509", classesfile=str(classes_file),
                     **{"plugin.x509.ssldir": str(issued[names["applied"]].ssldir)})
    cluster.wait()
    operator = issued[admin]
    x509 = {"securityprovider": "x509", "plugin.x509.ssldir": str(operator.ssldir),
            "plugin.x509.certname": operator.certname}
    config = cluster.write_client("admin.cfg", **x509, **{"plugin.puppetdb.server": f"localhost:{db.port}"})
    cache = tmp_path_factory.mktemp("client-cache")
    return cluster, db, names, config, x509, cache


def mco(lab, *args, config=None):
    cluster, _, _, admin, _, cache = lab
    return cluster.mco(*args, config=config or admin, env={"PYMCO_CACHE_DIR": str(cache)})


def find(lab, method, *filters):
    """The nodes of this module found (the run's PuppetDB may hold other modules' nodes too)."""
    result = mco(lab, "find", "--dm", method, *filters)
    assert result.rc == (0 if result.out else 1) and not result.err.strip(), result  # 1: none found
    ours = set(lab[2].values())
    return set(result.out.split()) & ours


def keys(lab, *keys_):
    names = lab[2]
    return {names[key] for key in keys_}


def both(lab, *filters):
    """(puppetdb's answer, mc's answer) for the same filter."""
    return find(lab, "puppetdb", *filters), find(lab, "mc", *filters)


def check(lab, filters, expected):
    """PuppetDB finds `expected`; mc finds the same nodes, with `retired` (daemon running) and
    without `down` (no daemon)."""
    found, broadcast = both(lab, *filters)
    assert found == keys(lab, *expected), (filters, found)
    names = lab[2]
    assert broadcast - {names["retired"]} == found - {names["down"]}, (filters, found, broadcast)
    return found, broadcast


def test_every_active_node_and_not_the_deactivated_or_expired(lab):
    cluster, db, names, *_ = lab
    found, broadcast = check(lab, ["-I", f"/{names['web1'].split('.', 1)[1]}$/"],
                             ["web1", "web2", "db1", "down", "applied"])
    assert names["retired"] in broadcast  # its daemon still answers the broadcast
    # PuppetDB does know both: only their state leaves them out
    rows = db.query(f'nodes[certname, deactivated, expired] {{ node_state = "inactive" and '
                    f'certname ~ "{names["web1"].split(".", 1)[1]}" }}')
    assert {row["certname"] for row in rows} == {names["retired"], names["expired"]}


def test_identity_exact_and_regex(lab):
    names = lab[2]
    check(lab, ["-I", f"/^(web|db)[12]\\.{names['web1'].split('.')[1]}\\./"], ["web1", "web2", "db1"])
    # mc takes an exact identity as it is, without discovery (as MCollective does); PuppetDB looks it up
    for key, expected in (("web1", ["web1"]), ("down", ["down"]), ("retired", []), ("expired", [])):
        assert find(lab, "puppetdb", "-I", names[key]) == keys(lab, *expected), key
    assert find(lab, "puppetdb", "-I", names["web1"], "-I", names["db1"]) == keys(lab, "web1", "db1")
    assert find(lab, "puppetdb", "-I", f"nosuch.{names['web1'].split('.', 1)[1]}") == set()


def test_structured_and_real_facts(lab):
    check(lab, ["-F", "site.rack.row=a"], ["web1", "web2"])
    check(lab, ["-F", "site.rack.row=~/^[bc]$/"], ["db1", "down"])
    check(lab, ["-F", "site.rack.slot=2"], ["web2"])
    check(lab, ["-F", "site.rack.slot!=2", "-C", "role::web"], ["web1"])
    # Facter's own structured facts, as the daemons serve them
    check(lab, ["-F", "os.family=Debian", "-F", "kernel=Linux"], ["web1", "web2", "db1", "down", "applied"])
    check(lab, ["-F", "os.family=RedHat"], [])


def test_numeric_operators(lab):
    check(lab, ["-F", "site.rack.slot>=2"], ["web2", "db1", "down"])
    check(lab, ["-F", "site.rack.slot<2"], ["web1"])
    check(lab, ["-F", "site.rack.slot>1", "-F", "site.rack.slot<=3"], ["web2", "db1"])
    # Facter's os.release.major is the string "12": compared as a number, as the nodes do
    found, _ = both(lab, "-F", "os.release.major>=1")
    assert found == keys(lab, "web1", "web2", "db1", "down", "applied"), found


def test_classes(lab):
    check(lab, ["-C", "role::web"], ["web1", "web2"])
    check(lab, ["-C", "apache::mod::ssl"], ["web1"])
    check(lab, ["-C", "/postgresql/"], ["db1", "down"])
    check(lab, ["-C", "role::web", "-C", "apache::mod::ssl"], ["web1"])
    check(lab, ["-C", "nosuch::class"], [])
    # from the real catalog and the classes file of the `puppet apply` run
    check(lab, ["-C", "role::app"], ["applied"])
    check(lab, ["-C", "pymco::server"], ["web1", "web2", "db1", "down", "applied"])


def test_compound_filters_are_translated(lab):
    check(lab, ["-S", "role::db or site.rack.slot=1"], ["web1", "db1", "down"])
    check(lab, ["-S", "role::web and not apache::mod::ssl"], ["web2"])
    check(lab, ["-S", "(site.rack.row=a or site.rack.row=b) and site.rack.slot>=2 and not /postgresql/"],
          ["web2"])
    check(lab, ["-S", "os.family=Debian and (apache::mod::ssl or site.rack.slot>3)"], ["web1", "down"])
    check(lab, ["-S", "role::app or (role::db and not site.rack.slot=4)"], ["applied", "db1"])


def test_a_compound_that_cannot_be_translated_is_refused(lab):
    result = mco(lab, "find", "--dm", "puppetdb", "-S", 'fstat("/etc/hosts").size>0 and role::web')
    assert result.rc != 0 and result.out == "", result
    assert len(result.err.strip().splitlines()) == 1 and "fstat" in result.err, result
    assert "Traceback" not in result.err


def ours(lab):
    """A filter term selecting this module's nodes among whatever else the run's PuppetDB holds."""
    return ["-I", f"/\\.{lab[2]['web1'].split('.')[1]}\\.test$/"]


def test_rpc_targets_exactly_the_discovered_nodes(lab):
    """`retired` matches -C role::web and its daemon runs, but PuppetDB deactivated it: never asked."""
    result = mco(lab, "rpc", "--dm", "puppetdb", "rpcutil", "ping", "-C", "role::web", *ours(lab), "--json")
    assert result.rc == 0, result
    assert {reply["sender"] for reply in json.loads(result.out)} == keys(lab, "web1", "web2"), result
    result = mco(lab, "rpc", "--dm", "mc", "rpcutil", "ping", "-C", "role::web", *ours(lab), "--json")
    assert {reply["sender"] for reply in json.loads(result.out)} == keys(lab, "web1", "web2", "retired"), result
    result = mco(lab, "rpc", "--dm", "puppetdb", "rpcutil", "ping", "-C", "role::app", *ours(lab), "--json")
    assert result.rc == 0, result
    assert {reply["sender"] for reply in json.loads(result.out)} == keys(lab, "applied"), result


def test_rpc_names_the_node_whose_daemon_is_down(lab):
    names = lab[2]
    # -t 3: the down node is waited for that long, not the agent's default
    result = mco(lab, "rpc", "--dm", "puppetdb", "rpcutil", "ping", "-t", "3", "-C", "role::db", *ours(lab))
    assert result.rc == 0, result  # some answered: MCollective's halt code is 0
    assert "Finished processing 1 / 2 hosts" in result.out, result
    assert "No response from:" in result.out, result
    after = result.out.split("No response from:", 1)[1]
    assert names["down"] in after and names["db1"] not in after, result
    # only the node that is down: nobody answered
    result = mco(lab, "rpc", "--dm", "puppetdb", "rpcutil", "ping", "-t", "3", "-F", "site.rack.slot=4", *ours(lab))
    assert result.rc == 3, result
    assert names["down"] in result.out.split("No response from:", 1)[1], result


def test_unreachable_puppetdb_is_one_line_and_fails(lab):
    cluster, db, names, _, x509, _ = lab
    config = cluster.write_client("gone.cfg", **x509, **{"plugin.puppetdb.server": f"localhost:{free_port()}"})
    result = mco(lab, "find", "--dm", "puppetdb", "-C", "role::web", config=config)
    assert result.rc != 0 and result.out == "", result
    assert len(result.err.strip().splitlines()) == 1 and "refused" in result.err, result


@pytest.fixture(scope="module")
def fleet(lab):
    """Daemons in the main collective, a sub-collective or both, each stored with the catalog saying so
    (Class[Pymco]'s collectives), and `unmanaged`: in both, with no Class[Pymco] in its catalog.  They use psk:
    no certificates to issue, the operator's Puppet certificate serves PuppetDB only."""
    cluster, db, _, _, x509, _ = lab
    main, sub = cluster.collective, unique_name("sub")
    cluster.transport.setup([sub])
    tag = unique_name("coll")
    members = {"both": [main, sub], "west": [main], "east": [sub], "unmanaged": [main, sub]}
    names = {key: f"{key}.{tag}.test" for key in members}
    catalogs = {key: (["role::app"], None) if key == "unmanaged" else
                (MODULE_CLASSES + ["role::app"], {"pymco": {"collectives": collectives}})
                for key, collectives in members.items()}
    nodes = [cluster.add_node(names[key], collectives=collectives, classes=catalogs[key][0])
             for key, collectives in members.items()]  # the daemons start while PuppetDB stores
    base = load_yaml_mapping(str(facter_facts(cluster.directory.parent)))
    with ThreadPoolExecutor(len(members)) as pool:
        for future in [pool.submit(db.store_node, names[key], base, classes, parameters=parameters)
                       for key, (classes, parameters) in catalogs.items()]:
            future.result()
    cluster.wait(nodes)
    config = cluster.write_client("fleet.cfg", collectives=f"{main},{sub}", **{
        "plugin.puppetdb.server": f"localhost:{db.port}", "plugin.x509.ssldir": x509["plugin.x509.ssldir"],
        "plugin.x509.certname": x509["plugin.x509.certname"]})
    return names, main, sub, config


def test_the_collective_is_the_one_the_catalog_gives(lab, fleet):
    names, _, sub, config = fleet

    def found(method, *args):
        result = mco(lab, "find", "--dm", method, "-I", f"/^[a-z]+\\.{names['both'].split('.')[1]}\\./", *args,
                     config=config)
        assert result.rc == (0 if result.out else 1) and not result.err.strip(), result
        return {name.split(".")[0] for name in result.out.split()}

    for target, expected in (([], {"both", "west", "unmanaged"}), (["-T", sub], {"both", "east", "unmanaged"})):
        assert found("puppetdb", *target) == expected, target
        assert found("mc", *target) == expected, target


def test_a_real_catalog_holds_the_default_collectives(lab, fleet):
    """`applied` sets no collectives: the class's default, which the terminus stored, puts it in main only."""
    _, db, names, *_ = lab
    _, main, sub, config = fleet
    [row] = db.query(f'resources[parameters] {{ certname = "{names["applied"]}" and type = "Class" and '
                     'title = "Pymco" }')
    assert row["parameters"] == {"collectives": [main]}, row
    for target, expected in (([], names["applied"] + "\n"), (["-T", sub], "")):
        result = mco(lab, "find", "--dm", "puppetdb", "-I", names["applied"], *target, config=config)
        assert result.out == expected, (target, result)


def test_ping_pings_the_nodes_puppetdb_names(lab):
    names = lab[2]
    result = mco(lab, "ping", "--dm", "puppetdb", "-t", "3", "-S", "role::web or role::db", *ours(lab))
    assert result.rc == 0, result
    assert {line.split()[0] for line in result.out.splitlines() if "time=" in line} == keys(lab, "web1", "web2", "db1")
    assert f"No response from 1 of the 4 discovered node(s): {names['down']}" in result.err, result
