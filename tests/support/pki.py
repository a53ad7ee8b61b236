"""Throwaway certificate authorities for the security tests, made with `cryptography`.

`Pki` builds a Puppet-like CA (root certificate with CA basic constraints and
keyCertSign/cRLSign usage, leaf certificates with SAN and server+client
extended key usage) and lays certificates out as Puppet's ssldir does:
certs/<name>.pem, private_keys/<name>.pem, certs/ca.pem and crl.pem.  It also
writes the bare RSA key pairs MCollective's ssl plugin uses.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from pymco.security.x509 import X509Security

_NOW = dt.datetime.now(dt.timezone.utc)


def new_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    """One CA and the certificates it issued, written under `ssldir`."""

    def __init__(self, ssldir: Path, name: str = "Puppet CA: pymco-test", parent: "Pki | None" = None,
                 bits: int = 2048) -> None:
        """A root CA, or with `parent` an intermediate CA (Puppet 6+'s layout: ca.pem holds both)."""
        self.ssldir = ssldir
        self.parent = parent
        (ssldir / "certs").mkdir(parents=True, exist_ok=True)
        (ssldir / "private_keys").mkdir(parents=True, exist_ok=True)
        self.key = new_key(bits)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        issuer = parent.cert.subject if parent else subject
        signing_key = parent.key if parent else self.key
        if parent:
            parent.serial += 1
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(self.key.public_key()).serial_number(parent.serial if parent else 1)
            .not_valid_before(_NOW - dt.timedelta(days=1)).not_valid_after(_NOW + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                           critical=False)
            .sign(signing_key, hashes.SHA256())
        )
        self.serial = 2
        self.revoked: list[int] = []
        bundle = cert_pem(self.cert) + (cert_pem(parent.cert) if parent else b"")
        (ssldir / "certs" / "ca.pem").write_bytes(bundle)
        self.write_crl()

    def issue(self, certname: str, days: float = 30, not_before_days: float = -1,
              write: bool = True, bits: int = 2048) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        """A Puppet-style leaf certificate for `certname` (written to the ssldir layout)."""
        key = new_key(bits)
        self.serial += 1
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, certname)]))
            .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(self.serial)
            .not_valid_before(_NOW + dt.timedelta(days=not_before_days))
            .not_valid_after(_NOW + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(certname)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.key, hashes.SHA256())
        )
        if write:
            self.write_pair(certname, cert, key)
        return cert, key

    def write_pair(self, certname: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> None:
        (self.ssldir / "certs" / f"{certname}.pem").write_bytes(cert_pem(cert))
        path = self.ssldir / "private_keys" / f"{certname}.pem"
        path.write_bytes(key_pem(key))
        path.chmod(0o600)

    def revoke(self, cert: x509.Certificate) -> None:
        self.revoked.append(cert.serial_number)
        self.write_crl()

    def write_crl(self) -> None:
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(_NOW - dt.timedelta(hours=1)).next_update(_NOW + dt.timedelta(days=30)))
        for serial in self.revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial)
                .revocation_date(_NOW - dt.timedelta(minutes=5)).build())
        crl = builder.sign(self.key, hashes.SHA256())
        data = crl.public_bytes(serialization.Encoding.PEM)
        if self.parent:
            data += (self.parent.ssldir / "crl.pem").read_bytes()
        (self.ssldir / "crl.pem").write_bytes(data)


def rsa_pair(directory: Path, name: str, bits: int = 2048) -> tuple[Path, Path]:
    """MCollective ssl-plugin style `<name>-private.pem` / `<name>.pem` (public) files."""
    directory.mkdir(parents=True, exist_ok=True)
    key = new_key(bits)
    private = directory / f"{name}-private.pem"
    private.write_bytes(key_pem(key))
    private.chmod(0o600)
    public = directory / f"{name}.pem"
    public.write_bytes(public_pem(key))
    return private, public


def x509_provider(ssldir: Path, certname: str, client: bool = True, **plugin: object) -> "X509Security":
    """An x509 security provider over `ssldir` (plugin.x509.<key> from `plugin`).

    A daemon-side one never fetches a CRL: there is no Puppet CA behind these throwaway PKIs.
    """
    from pymco.config import Config
    from pymco.security.x509 import X509Security

    pluginconf = {"x509.ssldir": str(ssldir), "x509.certname": certname}
    if not client:
        pluginconf["x509.crl_refresh_interval"] = "0"
    pluginconf.update({f"x509.{k}": str(v) for k, v in plugin.items()})
    return X509Security(Config(settings={"identity": certname}, pluginconf=pluginconf), client=client)
