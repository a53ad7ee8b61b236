"""Package providers: parsing the package tools' output, and choosing a provider."""

from __future__ import annotations

import os

import pytest

from pymco.config import Config
from pymco.errors import ActionFailed, ToolMissing
from pymco.package import make_provider, provider_name
from pymco.package.apt import AptProvider, parse_dpkg_query, parse_madison, parse_simulation, split_debian_version
from pymco.package.rpm import DnfProvider, YumProvider, parse_check_update, parse_repoquery, parse_rpm_query


@pytest.mark.parametrize("full,parts", [("2.10-3", ("0", "2.10", "3")), ("1:2.3-4+b1", ("1", "2.3", "4+b1")),
                                        ("1.0", ("0", "1.0", "")), ("2:1.2-3-4", ("2", "1.2-3", "4"))])
def test_split_debian_version(full, parts):
    assert split_debian_version(full) == parts


def test_dpkg_query_installed():
    props = parse_dpkg_query("install ok installed\tbash\t5.2.15-2+b8\tamd64\n", "bash")
    assert props == {"desired": "install", "error": "ok", "status": "installed", "name": "bash",
                     "ensure": "5.2.15-2+b8", "provider": "apt", "mark": "none", "epoch": "0",
                     "version": "5.2.15", "release": "2+b8", "arch": "amd64"}


@pytest.mark.parametrize("line,ensure", [("deinstall ok config-files\tfoo\t1.0-1\tall", "absent"),
                                         ("unknown ok not-installed\tfoo\t\t", "purged"),
                                         ("hold ok half-installed\tfoo\t1.0\tall", "absent")])
def test_dpkg_query_not_installed_states(line, ensure):
    assert parse_dpkg_query(line, "foo")["ensure"] == ensure


def test_dpkg_query_picks_the_named_package_among_glob_matches():
    output = "unknown ok not-installed\tlibc6-amd64\t\t\ninstall ok installed\tlibc6\t2.36-9\tamd64\n"
    assert parse_dpkg_query(output, "libc6")["ensure"] == "2.36-9"
    assert parse_dpkg_query("", "x") is None


def test_apt_simulation():
    output = ("NOTE: This is only a simulation!\n"
              "Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.11/oldstable [amd64])\n"
              "Inst emacs23 [23.1+1-4ubuntu7] (23.1+1-4ubuntu7.1 Ubuntu:10.04/lucid-updates) []\n"
              "Conf bash (5.2.15-2+b13 Debian:12.11/oldstable [amd64])\n")
    assert parse_simulation(output) == [
        {"package": "bash", "version": "5.2.15-2+b13", "repo": "Debian:12.11/oldstable [amd64]"},
        {"package": "emacs23", "version": "23.1+1-4ubuntu7.1", "repo": "Ubuntu:10.04/lucid-updates"}]


def test_madison():
    output = ("     hello |     2.10-3 | http://deb.debian.org/debian bookworm/main amd64 Packages\n"
              "     hello |     2.10-3 | http://deb.debian.org/debian bookworm/main Sources\n"
              "     hello |     2.10-3 | http://mirror.example/debian bookworm/main amd64 Packages\n")
    assert parse_madison(output) == [{"name": "hello", "version": "2.10", "release": "3", "epoch": "0",
                                      "arch": "amd64", "provider": "apt", "ensure": "2.10-3",
                                      "repo": "bookworm/main"}]


def test_rpm_query():
    assert parse_rpm_query("bash\t0\t5.1.8\t6.el9\tx86_64\n", "dnf")["ensure"] == "5.1.8-6.el9"
    props = parse_rpm_query("java\t1\t11.0\t2.el9\tx86_64\n", "yum")
    assert props == {"name": "java", "epoch": "1", "version": "11.0", "release": "2.el9", "arch": "x86_64",
                     "provider": "yum", "ensure": "1:11.0-2.el9"}


def test_check_update_stops_at_obsoleting():
    output = ("\nbash.x86_64    5.1.8-9.el9    baseos\nkernel.x86_64  5.14.0-1.el9  baseos\n"
              "Obsoleting Packages\nfoo.noarch 1-1 appstream\n")
    assert [p["package"] for p in parse_check_update(output)] == ["bash.x86_64", "kernel.x86_64"]


def test_repoquery():
    found = parse_repoquery("nginx\t2\t1.20.1\t14.el9\tx86_64\tappstream\n", "dnf")
    assert found == [{"name": "nginx", "version": "1.20.1", "release": "14.el9", "epoch": "2", "arch": "x86_64",
                      "provider": "dnf", "ensure": "2:1.20.1-14.el9", "repo": "appstream"}]


def config(**plugin):
    return Config(pluginconf={k.replace("__", "."): v for k, v in plugin.items()})


def test_provider_is_found_on_the_node_not_in_its_facts():
    assert os.path.exists("/var/lib/dpkg/status"), "the test machine is Debian"
    assert provider_name(config()) == "apt"


def test_provider_setting_wins_and_puppet_means_automatic():
    assert provider_name(config(package__provider="yum")) == "yum"
    assert provider_name(config(package__provider="puppet")) == "apt"


def test_provider_options_and_unknown_provider():
    provider = make_provider("apt", config(package__apt__lock_timeout="5"))
    assert isinstance(provider, AptProvider) and provider.options == {"lock_timeout": "5"}
    assert isinstance(make_provider("yum", config()), YumProvider)
    assert isinstance(make_provider("dnf", config()), DnfProvider)
    with pytest.raises(ActionFailed, match="Cannot load package provider 'zypper'"):
        make_provider("zypper", config())


def test_missing_tool_aborts_the_request_with_status_1():
    with pytest.raises(ToolMissing, match="^Cannot find yum at /nonexistent/yum: the yum package provider") as info:
        YumProvider({"yum": "/nonexistent/yum"}).require()
    assert info.value.status == 1


def test_status_without_the_providers_tool_fails_instead_of_absent():
    with pytest.raises(ToolMissing, match="Cannot find dnf"):
        DnfProvider({"dnf": "/nonexistent/dnf"}).status("bash")
    with pytest.raises(ToolMissing, match="Cannot find dpkg-query"):
        AptProvider({"dpkg_query": "/nonexistent/dpkg-query"}).status("bash")
