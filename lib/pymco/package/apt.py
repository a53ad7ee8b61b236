"""Debian-family packages: dpkg-query for state, apt-get to change it.

The properties are those Puppet's apt/dpkg provider reports (desired, error,
status, name, ensure, provider, mark), plus the version split into epoch,
version and release and the architecture, which the DDL declares.  A package
dpkg has never heard of is `purged`; one whose configuration files remain
is `absent`.  apt-get waits for the dpkg lock (`lock_timeout`, default 120 s)
instead of failing when another tool holds it.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from pymco.errors import ActionFailed
from pymco.package.base import PackageProvider, outdated

__all__ = ["AptProvider", "split_debian_version", "parse_dpkg_query", "parse_simulation", "parse_madison"]

_QUERY_FORMAT = "${Status}\\t${Package}\\t${Version}\\t${Architecture}\\n"
_NOT_INSTALLED_STATES = ("config-files", "half-installed", "unpacked", "half-configured")
_INST = re.compile(r"^Inst (.+?) \[.+?\] \((.+?)\s(.+?)\)")


def split_debian_version(full: str) -> tuple[str, str, str]:
    """(epoch, upstream version, revision) of '1:2.3-4'; epoch '0' and revision '' when absent."""
    epoch, sep, rest = full.partition(":")
    if not sep:
        epoch, rest = "0", full
    upstream, sep, revision = rest.rpartition("-")
    if not sep:
        upstream, revision = rest, ""
    return epoch, upstream, revision


def parse_dpkg_query(output: str, package: str) -> dict[str, Any] | None:
    """Properties from `dpkg-query -W` lines for `package` (None if none matched)."""
    rows = [line.split("\t") for line in output.splitlines() if line.count("\t") == 3]
    if not rows:
        return None
    row = next((r for r in rows if r[1] == package), rows[0])
    status_words, name, version, arch = row
    parts = status_words.split()
    if len(parts) != 3:
        return None
    desired, error, state = parts
    props: dict[str, Any] = {"desired": desired, "error": error, "status": state, "name": name,
                             "ensure": version, "provider": "apt", "mark": "hold" if desired == "hold" else "none"}
    if state == "not-installed":
        props["ensure"] = "purged"
    elif state in _NOT_INSTALLED_STATES:
        props["ensure"] = "absent"
    else:
        epoch, upstream, revision = split_debian_version(version)
        props.update(epoch=epoch, version=upstream, release=revision, arch=arch)
    return props


def parse_simulation(output: str) -> list[dict[str, str]]:
    """Outdated packages from `apt-get --simulate dist-upgrade` 'Inst' lines."""
    found = []
    for line in output.splitlines():
        match = _INST.match(line)
        if match:
            found.append(outdated(match.group(1).strip(), match.group(2).strip(), match.group(3).strip()))
    return found


def parse_madison(output: str) -> list[dict[str, Any]]:
    """Available versions from `apt-cache madison` ('name | version | url suite/comp arch Packages')."""
    found: list[dict[str, Any]] = []
    seen = set()
    for line in output.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 3 or not fields[2].endswith("Packages"):
            continue
        name, version, source = fields
        words = source.split()
        arch = words[-2] if len(words) >= 3 else ""
        repo = words[1] if len(words) >= 3 else source
        if (name, version, arch) in seen:
            continue
        seen.add((name, version, arch))
        epoch, upstream, revision = split_debian_version(version)
        found.append({"name": name, "version": upstream, "release": revision, "epoch": epoch, "arch": arch,
                      "provider": "apt", "ensure": version, "repo": repo})
    return found


class AptProvider(PackageProvider):
    name = "apt"
    manager = "apt"
    tool = ("apt_get", "/usr/bin/apt-get")
    keeps_config_files = True
    environment = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTBUGS_FRONTEND": "none",
                   "APT_LISTCHANGES_FRONTEND": "none"}

    def apt_get(self, *args: str) -> str:
        lock = self.options.get("lock_timeout", "120")
        command = [self.require(), "-q", "-y", "-o", f"DPkg::Lock::Timeout={lock}", *args]
        return self.run(command).stdout

    def status(self, package: str) -> dict[str, Any]:
        self.require()
        dpkg_query = self.require(("dpkg_query", "/usr/bin/dpkg-query"))
        result = self.run([dpkg_query, "-W", "-f", _QUERY_FORMAT, "--", package], check=False)
        props = parse_dpkg_query(result.stdout, package) if result.ok else None
        if props is None:
            # dpkg-query knows nothing of it (exit 1): Puppet's dpkg provider calls that purged
            return {"ensure": "purged", "status": "missing", "name": package, "error": "ok", "provider": "apt"}
        if props["error"] != "ok":
            raise ActionFailed(f"Package {props['name']}, version {props['ensure']} is in error state: "
                               f"{props['error']}")
        return props

    def install(self, package: str, version: str | None = None) -> str:
        if version:
            return self.apt_get("-o", "DPkg::Options::=--force-confold", "--allow-downgrades", "install", "--",
                                f"{package}={version}")
        return self.apt_get("-o", "DPkg::Options::=--force-confold", "install", "--", package)

    def update(self, package: str) -> str:
        return self.apt_get("-o", "DPkg::Options::=--force-confold", "--only-upgrade", "install", "--", package)

    def uninstall(self, package: str) -> str:
        return self.apt_get("remove", "--", package)

    def purge(self, package: str) -> str:
        output = self.apt_get("remove", "--purge", "--", package)
        if self.status(package)["ensure"] != "purged":
            # apt leaves a package alone when it is only config files it does not know of
            dpkg = self.path("dpkg", "/usr/bin/dpkg")
            output += self.run([dpkg, "--purge", "--", package]).stdout
        return output

    def search(self, pattern: str) -> list[dict[str, Any]]:
        cache = self.path("apt_cache", "/usr/bin/apt-cache")
        prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
        names = self.run([cache, "pkgnames", "--", prefix] if prefix else [cache, "pkgnames"]).stdout.split()
        matching = sorted({n for n in names if fnmatch.fnmatchcase(n, pattern)})
        if not matching:
            return []
        return parse_madison(self.run([cache, "madison", "--", *matching[:500]]).stdout)

    def installed_list(self) -> tuple[str, int]:
        dpkg = self.path("dpkg", "/usr/bin/dpkg")
        result = self.run([dpkg, "--list"], check=False)
        if not result.ok:
            raise self.failed("dpkg command", result)
        return "\n".join(line for line in result.stdout.split("\n") if line[:2] == "ii"), result.exitcode

    def checkupdates(self) -> dict[str, Any]:
        result = self.run([self.require(), "--simulate", "dist-upgrade"], check=False)
        if not result.ok:
            raise self.failed("Apt check-update", result)
        return {"output": result.stdout, "outdated_packages": parse_simulation(result.stdout),
                "exitcode": result.exitcode, "package_manager": self.manager}

    def refresh(self) -> dict[str, Any]:
        result = self.run([self.require(), "update"], check=False)
        if not result.ok:
            raise self.failed("apt-get update", result)
        return self.checkupdates()
