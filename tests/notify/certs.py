"""Throw-away PKI for TLS tests: a CA, a server certificate, good and rogue client certificates, and more client
certificates issued by the same CA on demand (`Pki.issue_client`: one per MSSanté mailbox)."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Fixed validity so that building the PKI never reads the clock.
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2099, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files of a test PKI."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_ca_cert: Path
    rogue_client_cert: Path
    rogue_client_key: Path

    def server_context(self) -> ssl.SSLContext:
        """Return a server context that requires a client certificate signed by the CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca_cert))
        context.load_cert_chain(str(self.server_cert), str(self.server_key))
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_context(self) -> ssl.SSLContext:
        """Return a client context presenting the good client certificate."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def issue_client(self, common_name: str, directory: Path) -> tuple[Path, Path]:
        """Issue another client certificate by the CA, named `common_name`; return its certificate and key files,
        `<directory>/<common_name>.crt` and `.key`."""
        ca = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = _leaf(common_name, ca, ca_key, x509.random_serial_number(), server=False)
        cert_file, key_file = directory / f"{common_name}.crt", directory / f"{common_name}.key"  # no with_suffix: a@x.fr
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_key_pem(key))
        return cert_file, key_file


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SNP Dispatch tests"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, serial: int) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    cert = (
        _builder(common_name, _name(common_name), key, 1)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, serial: int, *, server: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(common_name, ca.subject, key, serial)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(_key_pem(key))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_pki(directory: Path, *, client_name: str = "snp-dispatch client") -> Pki:
    """Generate the CA, server, client and rogue client certificates as PEM files; `client_name` is the clients' CN."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("SNP test CA")
    rogue_ca, rogue_key = _ca("Rogue test CA")
    server, server_key = _leaf("localhost", ca, ca_key, 2, server=True)
    client, client_key = _leaf(client_name, ca, ca_key, 3, server=False)
    rogue, rogue_client_key = _leaf(client_name, rogue_ca, rogue_key, 4, server=False)
    _write(directory / "ca", ca, ca_key)
    _write(directory / "rogue-ca", rogue_ca, None)
    _write(directory / "server", server, server_key)
    _write(directory / "client", client, client_key)
    _write(directory / "rogue-client", rogue, rogue_client_key)
    return Pki(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        rogue_ca_cert=directory / "rogue-ca.crt",
        rogue_client_cert=directory / "rogue-client.crt",
        rogue_client_key=directory / "rogue-client.key",
    )
