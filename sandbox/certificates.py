"""Keys and certificates the sandbox makes on first start and keeps in its folder."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

VALID_DAYS = 3650


@dataclass(frozen=True)
class Certificates:
    """Files clients and the HTTPS server need."""

    ca_file: Path
    server_certificate: Path
    server_key: Path
    service_account_key: Path


def ensure_certificates(folder: Path, host_names: Sequence[str] = ()) -> Certificates:
    """Create a CA, a server certificate for 127.0.0.1 and a service-account key, unless they exist.

    Args:
        folder: where the PEM files live (created when missing).
        host_names: more names the server certificate must hold (Carol's host names); a
            certificate made without one of them is made again.

    Returns:
        The paths of the PEM files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = Certificates(
        ca_file=folder / "ca.pem",
        server_certificate=folder / "server.pem",
        server_key=folder / "server-key.pem",
        service_account_key=folder / "service-account-key.pem",
    )
    if all(path.is_file() for path in vars(files).values()) and _names_covered(files.server_certificate, host_names):
        return files
    ca_key, server_key, account_key = (_new_key() for _ in range(3))
    ca = _ca_certificate(ca_key)
    server = _server_certificate(server_key, ca, ca_key, host_names)
    files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.server_certificate.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(_private_pem(server_key))
    files.service_account_key.write_bytes(_private_pem(account_key))
    return files


def _names_covered(certificate_file: Path, host_names: Sequence[str]) -> bool:
    certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(host_names) <= set(names.get_values_for_type(x509.DNSName))


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file written by `ensure_certificates`."""
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _ca_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Carol sandbox local CA")])
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
    )
    return (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(key: rsa.RSAPrivateKey, ca: x509.Certificate, ca_key: rsa.RSAPrivateKey,
                        host_names: Sequence[str]) -> x509.Certificate:
    dns_names = [x509.DNSName(name) for name in dict.fromkeys(["localhost", *host_names])]
    names = x509.SubjectAlternativeName([*dns_names, x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    return (
        _builder(subject, ca.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(names, critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
