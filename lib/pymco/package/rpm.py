"""Red Hat-family packages: rpm for state, dnf (or yum) to change it.

Properties are those of Puppet's rpm-family providers: name, epoch, version,
release, arch, provider, and `ensure` = version-release, prefixed "epoch:"
when the epoch is not 0.  rpm keeps no configuration-only state, so a
package that is not installed is `absent` and purge is a removal.
`check-update` exits 100 when updates exist; that is passed back in
`exitcode`, not treated as a failure.
"""

from __future__ import annotations

from typing import Any

from pymco.errors import ActionFailed
from pymco.package.base import PackageProvider, outdated

__all__ = ["DnfProvider", "YumProvider", "parse_rpm_query", "parse_check_update", "parse_repoquery",
           "YUM_CLEAN_MODES"]

_RPM_FORMAT = "%{NAME}\\t%|EPOCH?{%{EPOCH}}:{0}|\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n"
_REPOQUERY_FORMAT = "%{name}\\t%{epoch}\\t%{version}\\t%{release}\\t%{arch}\\t%{repoid}\\n"
YUM_CLEAN_MODES = ("all", "headers", "packages", "metadata", "dbcache", "plugins", "expire-cache")


def _ensure(epoch: str, version: str, release: str) -> str:
    full = f"{version}-{release}"
    return full if epoch in ("", "0", "(none)") else f"{epoch}:{full}"


def parse_rpm_query(output: str, provider: str) -> dict[str, Any] | None:
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 5:
            name, epoch, version, release, arch = fields
            return {"name": name, "epoch": epoch, "version": version, "release": release, "arch": arch,
                    "provider": provider, "ensure": _ensure(epoch, version, release)}
    return None


def parse_check_update(output: str) -> list[dict[str, str]]:
    """`yum/dnf -q check-update` lines 'name.arch version repo', up to 'Obsoleting Packages'."""
    found = []
    for line in output.strip().splitlines():
        if line.lower().startswith("obsoleting packages"):
            break
        fields = line.split()
        if len(fields) == 3:
            found.append(outdated(*fields))
    return found


def parse_repoquery(output: str, provider: str) -> list[dict[str, Any]]:
    found = []
    for line in output.splitlines():
        fields = line.split("\t")
        if len(fields) == 6:
            name, epoch, version, release, arch, repo = fields
            found.append({"name": name, "version": version, "release": release, "epoch": epoch, "arch": arch,
                          "provider": provider, "ensure": _ensure(epoch, version, release), "repo": repo})
    return found


class DnfProvider(PackageProvider):
    name = "dnf"
    manager = "yum"
    tool = ("dnf", "/usr/bin/dnf")

    def tool_command(self, *args: str) -> str:
        return self.run([self.require(), "-y", "-q", *args]).stdout

    def rpm(self) -> str:
        return self.require(("rpm", "/usr/bin/rpm"))

    def status(self, package: str) -> dict[str, Any]:
        self.require()
        result = self.run([self.rpm(), "-q", "--qf", _RPM_FORMAT, "--", package], check=False)
        props = parse_rpm_query(result.stdout, self.name) if result.ok else None
        return props or {"ensure": "absent", "name": package, "provider": self.name}

    def install(self, package: str, version: str | None = None) -> str:
        return self.tool_command("install", "--", f"{package}-{version}" if version else package)

    def update(self, package: str) -> str:
        return self.tool_command("update", "--", package)

    def uninstall(self, package: str) -> str:
        return self.tool_command("remove", "--", package)

    def purge(self, package: str) -> str:
        return self.uninstall(package)

    def search(self, pattern: str) -> list[dict[str, Any]]:
        result = self.run([self.require(), "-q", "repoquery", "--qf", _REPOQUERY_FORMAT, "--", pattern])
        return parse_repoquery(result.stdout, self.name)

    def installed_list(self) -> tuple[str, int]:
        result = self.run([self.rpm(), "-qa"], check=False)
        if not result.ok:
            raise self.failed("rpm command", result)
        return result.stdout, result.exitcode

    def checkupdates(self) -> dict[str, Any]:
        result = self.run([self.require(), "-q", "check-update"], check=False)
        return {"output": result.stdout, "outdated_packages": parse_check_update(result.stdout),
                "exitcode": result.exitcode, "package_manager": self.manager}

    def clean(self, mode: str) -> dict[str, Any]:
        if mode not in YUM_CLEAN_MODES:
            raise ActionFailed(f"Unsupported yum clean mode: {mode}")
        result = self.run([self.require(), "clean", mode], check=False)
        if not result.ok:
            raise self.failed("Yum clean", result)
        return {"output": result.stdout, "exitcode": result.exitcode}

    def refresh(self) -> dict[str, Any]:
        self.clean("metadata")
        return self.checkupdates()


class YumProvider(DnfProvider):
    """yum itself (EL7 and older); repoquery comes from yum-utils."""

    name = "yum"
    tool = ("yum", "/usr/bin/yum")

    def search(self, pattern: str) -> list[dict[str, Any]]:
        repoquery = self.path("repoquery", "/usr/bin/repoquery")
        result = self.run([repoquery, "--qf", _REPOQUERY_FORMAT.replace("repoid", "repo"), "--", pattern])
        return parse_repoquery(result.stdout, self.name)
