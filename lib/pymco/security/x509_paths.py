"""Where a Puppet identity's certificate, key, CA bundle and CRL are.

One resolution for every user of Puppet's files: the x509 security provider
signs with them and PuppetDB discovery presents them, whatever
`securityprovider` is, so a setting means the same file in both.  Explicit
`plugin.x509.cert`, `private_key`, `ca` and `crl` win; the rest follow
Puppet's ssldir layout (`certs/<certname>.pem`, `private_keys/<certname>.pem`,
`certs/ca.pem`, `crl.pem`) under `plugin.x509.ssldir`, which defaults to what
`puppet config print ssldir` reports.  Kept apart from the provider so that
resolving paths costs no `cryptography` import.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from pymco.config import Config

log = logging.getLogger(__name__)

__all__ = ["X509Paths", "x509_paths", "default_ssldir"]


@dataclass(frozen=True)
class X509Paths:
    certname: str
    cert: str
    private_key: str
    ca: str
    crl: str
    crl_required: bool = False  # `plugin.x509.crl` set: it must exist (else crl.pem is used when it exists)


def default_ssldir() -> str:
    """Puppet's ssldir as `puppet config print ssldir` reports it, else Puppet's documented defaults."""
    import shutil  # not at the top: only configs without plugin.x509.ssldir pay for these imports
    import subprocess

    puppet = shutil.which("puppet") or ("/opt/puppetlabs/bin/puppet" if os.access("/opt/puppetlabs/bin/puppet",
                                                                                     os.X_OK) else None)
    if puppet:
        try:
            proc = subprocess.run([puppet, "config", "print", "ssldir"], capture_output=True, text=True,
                                  timeout=30, stdin=subprocess.DEVNULL)
            value = proc.stdout.strip()
            if proc.returncode == 0 and value.startswith("/"):
                return value
            log.warning("`puppet config print ssldir` failed (exit %d); using Puppet's default ssldir",
                        proc.returncode)
        except (OSError, subprocess.SubprocessError) as exc:
            log.warning("cannot run `puppet config print ssldir` (%s); using Puppet's default ssldir", exc)
    if os.geteuid() == 0:
        return "/etc/puppetlabs/puppet/ssl"
    return os.path.expanduser("~/.puppetlabs/etc/puppet/ssl")


def x509_paths(config: Config) -> X509Paths:
    """The files `plugin.x509.*` names; Puppet is asked for its ssldir only when a path is left to it."""
    section = config.plugin_section("x509")
    names = ("cert", "private_key", "ca", "crl")
    ssldir = section.get("ssldir") or (default_ssldir() if any(not section.get(n) for n in names) else "")
    certname = section.get("certname") or config.identity
    return X509Paths(
        certname=certname,
        cert=section.get("cert") or os.path.join(ssldir, "certs", f"{certname}.pem"),
        private_key=section.get("private_key") or os.path.join(ssldir, "private_keys", f"{certname}.pem"),
        ca=section.get("ca") or os.path.join(ssldir, "certs", "ca.pem"),
        crl=section.get("crl") or os.path.join(ssldir, "crl.pem"),
        crl_required=bool(section.get("crl")))
