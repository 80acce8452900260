"""A small private PKI for the fleet: one CA, the broker's server certificate, one client
certificate per device (CN = device id, so Mosquitto's ``use_identity_as_username`` maps a
certificate to the same ACL user as the password login).

ECDSA P-256 keeps keys small and handshakes cheap on a Pi; everything is PEM so Mosquitto
(OpenSSL) and paho (Python ssl) read it directly.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 825   # the longest validity clients such as browsers/macOS accept for leaves


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edge-runtime fleet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _save(pair: CertPair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> CertPair:
    _write_private(pair.key, key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def _load(pair: CertPair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
    return cert, key


def _builder(subject: x509.Name, issuer: x509.Name, public_key, days: int) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days)))


class FleetPki:
    """Certificates under ``<dir>``: ``ca.crt/ca.key``, ``server.crt/key``, ``clients/<id>.crt/key``."""

    def __init__(self, directory: Path, fleet: str = "default"):
        self.dir = Path(directory)
        self.fleet = fleet
        self.ca = CertPair(self.dir / "ca.crt", self.dir / "ca.key")
        self.server = CertPair(self.dir / "server.crt", self.dir / "server.key")

    def client(self, name: str) -> CertPair:
        return CertPair(self.dir / "clients" / f"{name}.crt", self.dir / "clients" / f"{name}.key")

    def ensure_ca(self) -> CertPair:
        """Create the CA once; later calls reuse it (re-creating would orphan every device)."""
        if self.ca.cert.exists() and self.ca.key.exists():
            return self.ca
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"edge-runtime fleet CA ({self.fleet})")
        cert = (_builder(name, name, key.public_key(), CA_DAYS)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        self.dir.mkdir(parents=True, exist_ok=True)
        return _save(self.ca, cert, key)

    def _issue(self, pair: CertPair, common_name: str, usage, san: list[x509.GeneralName]) -> CertPair:
        ca_cert, ca_key = _load(self.ensure_ca())
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (_builder(_name(common_name), ca_cert.subject, key.public_key(), LEAF_DAYS)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        pair.cert.parent.mkdir(parents=True, exist_ok=True)
        return _save(pair, builder.sign(ca_key, hashes.SHA256()), key)

    def issue_server(self, hostnames: list[str] | tuple[str, ...] = ("localhost", "127.0.0.1")) -> CertPair:
        """The broker's certificate; every name clients use to reach it goes into the SAN."""
        san: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                san.append(x509.DNSName(host))
        return self._issue(self.server, hostnames[0], ExtendedKeyUsageOID.SERVER_AUTH, san)

    def issue_client(self, name: str) -> CertPair:
        """A client certificate whose CN is ``name`` (the device id or coordinator user)."""
        return self._issue(self.client(name), name, ExtendedKeyUsageOID.CLIENT_AUTH, [])

    def mosquitto_tls_conf(self, require_certificate: bool = True) -> str:
        """Listener lines for Mosquitto; with client certificates the CN becomes the user name."""
        lines = [f"cafile {self.ca.cert}", f"certfile {self.server.cert}", f"keyfile {self.server.key}",
                 "tls_version tlsv1.2"]
        if require_certificate:
            lines += ["require_certificate true", "use_identity_as_username true"]
        return "\n".join(lines) + "\n"
