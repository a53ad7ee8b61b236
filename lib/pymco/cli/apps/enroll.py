"""`mco enroll`: a certificate for this user (or node) from the Puppet CA, where the x509 provider finds it."""

from __future__ import annotations

from pymco.cli.application import Application, UsageError

__all__ = ["Enroll"]


class Enroll(Application):
    name = "enroll"
    description = "Get a certificate for this user or node from the Puppet CA (x509 security)"
    usage = ["mco enroll [--certname NAME] [--ca-server HOST[:PORT]] [--ssldir DIR] [--wait SECONDS]"]
    exclude_sections = ("common", "filter", "rpc")

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--certname", help="Certificate name (default: plugin.x509.certname, else identity)")
        parser.add_argument("--ca-server", dest="ca_server",
                            help="The Puppet CA as HOST[:PORT] (default: plugin.x509.ca_server, else puppet:8140)")
        parser.add_argument("--ssldir", help="Where to keep the files (default: plugin.x509.ssldir, else "
                                             "`puppet config print ssldir`)")
        parser.add_argument("--wait", type=float, default=300.0,
                            help="Seconds to wait for the CA to sign the request (default 300)")
        parser.add_argument("--keylength", type=int, default=4096, choices=(2048, 3072, 4096),
                            help="RSA key size (default 4096, as Puppet)")

    def main(self) -> int:
        from pymco.security.enroll import enroll
        from pymco.security.x509_paths import default_ssldir

        assert self.config is not None
        if self.args.wait < 0:
            raise UsageError("--wait must not be negative")
        section = self.config.plugin_section("x509")
        certname = self.args.certname or section.get("certname") or self.config.identity
        ssldir = self.args.ssldir or section.get("ssldir") or default_ssldir()
        ca_server = self.args.ca_server or section.get("ca_server") or "puppet:8140"
        done = enroll(certname, ssldir, ca_server, self.args.wait, bits=self.args.keylength, say=self.out)
        self.out(f"Enrolled {done.certname}: certificate {done.cert_path} (serial {done.serial}), "
                 f"private key {done.key_path}")
        return 0
