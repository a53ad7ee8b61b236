"""Issue 4: `mco package` against pymcod really installs, updates, removes and purges.

A test package is built here with dpkg-deb in two versions and served from a
`file:` apt repository this module creates (and removes, with the package,
afterwards).  Every change is checked with dpkg itself.  The tests run in
file order: they walk one package through its life.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.support.cluster import run
from tests.support.system import AptRepo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def node(cluster, tmp_path_factory):
    repo = AptRepo(tmp_path_factory.mktemp("apt"))
    try:
        repo.build("1.0-1")
        repo.publish()
        cluster.add_node("pkg01")
        cluster.wait()
        yield cluster, repo
    finally:
        repo.remove()


def rpc(cluster, action, *args):
    result = cluster.mco("rpc", "package", action, *args, "-I", "pkg01", "-t", "170", "--json")
    assert result.rc in (0, 2), result
    [reply] = json.loads(result.out)
    return reply


def test_status_of_a_package_dpkg_never_saw_is_purged(node):
    cluster, repo = node
    result = cluster.mco("package", "status", repo.package, "-I", "pkg01")
    assert result.rc == 0, result
    assert "pkg01: purged" in result.out
    assert "Summary of Ensure:" in result.out and "purged = 1" in result.out
    assert "Summary of Arch:" in result.out


def test_package_data_plugin(node):
    cluster, repo = node
    bash = run(["dpkg-query", "-W", "-f", "${Version}", "bash"]).stdout
    result = cluster.mco("rpc", "rpcutil", "get_data", "source=package", "query=bash", "-I", "pkg01", "--json")
    assert result.rc == 0, result
    assert json.loads(result.out)[0]["data"] == {"status": bash, "installed": True}
    result = cluster.mco("rpc", "rpcutil", "get_data", "source=package", f"query={repo.package}", "-I", "pkg01",
                         "--json")
    assert json.loads(result.out)[0]["data"] == {"status": "purged", "installed": False}


def test_install_a_version(node):
    cluster, repo = node
    result = cluster.mco("package", "install", repo.package, "--version", "1.0-1", "-I", "pkg01", "-t", "170")
    assert result.rc == 0, result
    assert repo.installed_version() == "1.0-1"
    assert "1.0-1 = 1" in result.out  # the summary of ensure
    reply = rpc(cluster, "status", f"package={repo.package}")
    assert reply["data"]["ensure"] == "1.0-1"
    assert reply["data"]["version"] == "1.0" and reply["data"]["release"] == "1"
    assert reply["data"]["arch"] == "all" and reply["data"]["provider"] == "apt"
    assert reply["data"]["status"] == "installed"  # dpkg's own field, copied as MCollective does


def test_status_line_names_version_and_arch(node):
    cluster, repo = node
    result = cluster.mco("package", repo.package, "status", "-I", "pkg01")
    assert result.rc == 0, result
    assert f"pkg01: {repo.package}-1.0-1.all" in result.out


def test_installing_an_installed_package_is_refused_with_its_status(node):
    cluster, repo = node
    reply = rpc(cluster, "install", f"package={repo.package}")
    assert reply["statuscode"] == 5
    assert reply["statusmsg"] == "Package is already installed"
    assert reply["data"]["ensure"] == "1.0-1"


def test_search_lists_available_versions(node):
    cluster, repo = node
    repo.build("2.0-1")
    repo.publish()
    reply = rpc(cluster, "search", f"package={repo.package[:-3]}*")
    assert reply["statuscode"] == 0, reply
    versions = {p["ensure"] for p in reply["data"]["available_packages"] if p["name"] == repo.package}
    assert versions == {"1.0-1", "2.0-1"}
    assert reply["data"]["package_count"] == f"{len(reply['data']['available_packages'])} packages found"
    missing = rpc(cluster, "search", "package=pymco-no-such-package-*")
    assert missing["statuscode"] == 5 and missing["statusmsg"] == "Package not found"


def test_checkupdates_lists_the_newer_version(node):
    cluster, repo = node
    result = cluster.mco("package", "checkupdates", "-I", "pkg01", "-t", "170")
    assert result.rc == 0, result
    line = next(line for line in result.out.splitlines() if "pkg01:" in line)
    assert repo.package in line.split()
    reply = rpc(cluster, "apt_checkupdates")
    [entry] = [p for p in reply["data"]["outdated_packages"] if p["package"] == repo.package]
    assert entry["version"] == "2.0-1"
    assert reply["data"]["exitcode"] == 0


def test_refresh_updates_the_cache(node):
    cluster, repo = node
    reply = rpc(cluster, "refresh")
    assert reply["statuscode"] == 0, reply
    assert reply["data"]["exitcode"] == 0
    assert f"Inst {repo.package} [1.0-1] (2.0-1" in reply["data"]["output"]


def test_update_to_the_newer_version(node):
    cluster, repo = node
    result = cluster.mco("package", "update", repo.package, "-I", "pkg01", "-t", "170")
    assert result.rc == 0, result
    assert repo.installed_version() == "2.0-1"
    assert "2.0-1 = 1" in result.out


def test_uninstall_leaves_configuration(node):
    cluster, repo = node
    result = cluster.mco("package", "uninstall", repo.package, "-I", "pkg01", "-t", "170")
    assert result.rc == 0, result
    assert repo.installed_version() == "config-files"
    assert repo.conffile.exists()
    reply = rpc(cluster, "status", f"package={repo.package}")
    assert reply["data"]["ensure"] == "absent"
    again = rpc(cluster, "uninstall", f"package={repo.package}")
    assert again["statuscode"] == 5 and again["statusmsg"] == "Package is not present on the system"
    update = rpc(cluster, "update", f"package={repo.package}")
    assert update["statusmsg"] == "Package is not present on the system"


def test_purge_removes_everything(node):
    cluster, repo = node
    result = cluster.mco("package", "purge", repo.package, "-I", "pkg01", "-t", "170")
    assert result.rc == 0, result
    assert repo.installed_version() in (None, "not-installed")
    assert not repo.conffile.exists()
    reply = rpc(cluster, "status", f"package={repo.package}")
    assert reply["data"]["ensure"] == "purged"
    again = rpc(cluster, "purge", f"package={repo.package}")
    assert again["statuscode"] == 5 and again["statusmsg"] == "Package is not present on the system"


def test_count_and_md5_match_dpkg(node):
    cluster, repo = node
    listing = run(["dpkg", "--list"], env=dict(os.environ, LC_ALL="C")).stdout
    installed = [line for line in listing.split("\n") if line[:2] == "ii"]
    result = cluster.mco("package", "count", "-I", "pkg01")
    assert result.rc == 0, result
    assert f"pkg01: {len(installed)}" in result.out
    reply = rpc(cluster, "md5")
    assert reply["data"]["output"] == hashlib.md5("\n".join(installed).encode()).hexdigest()
    assert reply["data"]["exitcode"] == 0


def test_yum_actions_fail_cleanly_on_debian(node):
    cluster, repo = node
    reply = rpc(cluster, "yum_checkupdates")
    assert reply["statuscode"] == 1
    assert reply["statusmsg"] == "Cannot find yum at /usr/bin/yum: the yum package provider cannot work on this node"


@pytest.fixture(scope="module")
def misled(node):
    """Issue 12: a Debian node whose facts say RedHat, and one told to use dnf, which it lacks."""
    cluster, repo = node
    cluster.add_node("rh01", facts={"os": {"family": "RedHat", "name": "CentOS"}, "osfamily": "RedHat"})
    cluster.add_node("dnf01", **{"plugin.package.provider": "dnf"})
    cluster.wait([cluster.nodes["rh01"], cluster.nodes["dnf01"]])
    return cluster


def test_the_provider_comes_from_the_node_not_its_facts(misled):
    bash = run(["dpkg-query", "-W", "-f", "${Version}", "bash"]).stdout
    result = misled.mco("rpc", "package", "status", "package=bash", "-I", "rh01", "--json")
    assert result.rc == 0, result
    [reply] = json.loads(result.out)
    assert (reply["statuscode"], reply["data"]["ensure"], reply["data"]["provider"]) == (0, bash, "apt")
    result = misled.mco("package", "status", "bash", "-I", "rh01")
    assert f"rh01: bash-{bash}" in result.out, result


def test_a_missing_package_tool_fails_the_request_never_absent(misled):
    result = misled.mco("rpc", "package", "status", "package=bash", "-I", "dnf01", "--json")
    assert result.rc == 2, result
    [reply] = json.loads(result.out)
    assert reply["statuscode"] == 1
    assert reply["statusmsg"] == "Cannot find dnf at /usr/bin/dnf: the dnf package provider cannot work on this node"
    assert reply["data"].get("ensure") != "absent"
    result = misled.mco("package", "status", "bash", "-I", "dnf01")
    assert result.rc == 2, result
    assert "dnf01: Cannot find dnf at /usr/bin/dnf" in result.out
    assert "absent" not in result.out


def test_application_usage_errors(node):
    cluster, repo = node
    result = cluster.mco("package", "install")
    assert result.rc == 1
    assert result.err.strip().endswith("Please specify package name and action")
    result = cluster.mco("package", "frobnicate", "x")
    assert result.rc == 1
    assert "Action has to be one of install, uninstall, purge, update, status, search, count" in result.err


def test_unfiltered_changes_need_confirmation(node):
    cluster, repo = node
    result = cluster.mco("package", "install", repo.package, input="n\n")
    assert result.rc == 1
    assert "Do you really want to operate on packages unfiltered? (y/n): " in result.out
    assert repo.installed_version() in (None, "not-installed")
