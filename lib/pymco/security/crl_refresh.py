"""Keeping a node's crl.pem current by fetching the CRL from the Puppet CA.

A stock Puppet 7 agent downloads the CRL once and never again
(`crl_refresh_interval` is unset), so a revoked user would keep access to a
node for the life of their certificate.  pymcod therefore fetches
`/puppet-ca/v1/certificate_revocation_list/ca` from `plugin.x509.ca_server`
every `plugin.x509.crl_refresh_interval` seconds over HTTPS verified against
the CA bundle, checks every CRL's signature against that CA, refuses one
older than what it has (no downgrade by a replayed answer), and replaces
crl.pem atomically.  The x509 provider re-reads crl.pem when it changes and
then drops its verification cache, so a revocation is enforced on a node at
most one interval (plus one fetch) after the CA issued it.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
import threading
import time
import urllib.error
import urllib.request

from cryptography import x509

from pymco.errors import SecurityError
from pymco.security import keys

log = logging.getLogger(__name__)

__all__ = ["CrlRefresher", "CRL_PATH"]

CRL_PATH = "/puppet-ca/v1/certificate_revocation_list/ca"
_MAX_CRL = 64 << 20


class CrlRefresher:
    """A daemon thread fetching the CA's CRL into `crl_path` every `interval` seconds."""

    def __init__(self, ca_server: str, ca_path: str, crl_path: str, client_pair: tuple[str, str],
                 interval: float, timeout: float = 10.0) -> None:
        host, _, port = ca_server.partition(":")
        self.url = f"https://{host}:{port or 8140}{CRL_PATH}"
        self.ca_path = ca_path
        self.crl_path = crl_path
        self.client_pair = client_pair
        self.interval = interval
        self.timeout = timeout

    def start(self) -> None:
        """Refresh now and then every interval, for the life of the daemon."""
        threading.Thread(target=self._loop, name="crl-refresh", daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                self.refresh()
            except SecurityError as exc:
                log.warning("cannot refresh the CRL from %s: %s", self.url, exc)
            time.sleep(self.interval)

    def fetch(self) -> bytes:
        context = ssl.create_default_context(cafile=self.ca_path)
        try:
            context.load_cert_chain(*self.client_pair)
        except (OSError, ssl.SSLError) as exc:  # the CRL is public; a client certificate is only polite
            log.debug("fetching the CRL without a client certificate: %s", exc)
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout, context=context) as response:
                return bytes(response.read(_MAX_CRL))
        except urllib.error.HTTPError as exc:
            raise SecurityError(f"the CA answered {exc.code} {exc.reason}") from None
        except (OSError, ssl.SSLError) as exc:
            raise SecurityError(str(getattr(exc, "reason", None) or exc)) from None

    def refresh(self) -> bool:
        """Fetch, verify and install the CRL; True when crl.pem changed."""
        from pymco.security.x509_ca import parse_crls

        data = self.fetch()
        cas = keys.read_certificates(self.ca_path, "plugin.x509.ca certificate bundle")
        fresh = parse_crls(data, self.url, cas)
        if not fresh:
            raise SecurityError("the CA sent no CRL")
        try:
            with open(self.crl_path, "rb") as fh:
                current = fh.read(_MAX_CRL)
        except OSError:
            current = b""
        if current == data:
            return False
        try:
            installed = parse_crls(current, self.crl_path, cas) if current.strip() else []
        except SecurityError as exc:
            log.warning("replacing an unusable %s: %s", self.crl_path, exc)
            installed = []
        _no_downgrade(installed, fresh)
        _replace(self.crl_path, data)
        log.info("refreshed %s from %s", self.crl_path, self.url)
        return True


def _no_downgrade(current: list[x509.CertificateRevocationList],
                  fresh: list[x509.CertificateRevocationList]) -> None:
    for crl in fresh:
        for old in current:
            if old.issuer == crl.issuer and crl.last_update_utc < old.last_update_utc:
                raise SecurityError(f"the CA sent a CRL of {crl.issuer.rfc4514_string()} older than the one in "
                                    "crl.pem; keeping it")


def _replace(path: str, data: bytes) -> None:
    """Write `path` atomically, keeping its mode and owner (Puppet's agent owns its ssldir)."""
    directory = os.path.dirname(path) or "."
    try:
        st: os.stat_result | None = os.stat(path)
    except OSError:
        st = None
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".crl.", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, st.st_mode & 0o777 if st else 0o644)
        if st is not None and os.geteuid() == 0:
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        raise SecurityError(f"cannot write {path}: {exc.strerror or exc}") from None
