"""A small PKI for the USER_CERTIFICATE tests: CAs, a server certificate for
127.0.0.1, client certificates and CRLs, made with `cryptography`."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def upn_value(upn: str) -> bytes:
    """The DER UTF8String an otherName UPN holds."""
    raw = upn.encode()
    assert len(raw) < 128
    return bytes([0x0C, len(raw)]) + raw


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        cert, key = directory / f"{name}.pem", directory / f"{name}.key"
        cert.write_bytes(self.pem)
        key.write_bytes(self.key_pem)
        return cert, key


def make_ca(name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(days=1))
        .not_valid_after(_now() + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(ca: Issued, *, common_name: str, email: str | None = None,
          san_emails: tuple[str, ...] = (), upn: str | None = None,
          server: bool = False, eku: tuple[x509.ObjectIdentifier, ...] | None = None,
          not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    names: list[x509.GeneralName] = [x509.RFC822Name(e) for e in san_emails]
    if upn:
        names.append(x509.OtherName(UPN_OID, upn_value(upn)))
    if server:
        names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    usages = eku if eku is not None else (
        (ExtendedKeyUsageOID.SERVER_AUTH,) if server else (ExtendedKeyUsageOID.CLIENT_AUTH,))
    builder = (
        x509.CertificateBuilder().subject_name(x509.Name(attrs)).issuer_name(ca.cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _now() - dt.timedelta(hours=1))
        .not_valid_after(not_after or _now() + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def client_context(ca: Issued, client: Issued | None, directory: Path,
                   name: str) -> ssl.SSLContext:
    """A TLS client trusting `ca` for the server, presenting `client`."""
    ctx = ssl.create_default_context(cadata=ca.pem.decode())
    if client is not None:
        cert, key = client.write(directory, name)
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def make_crl(ca: Issued, revoked: Iterable[x509.Certificate | int] = (), *,
             last_update: dt.datetime | None = None,
             next_update: dt.datetime | None = None,
             signer: ec.EllipticCurvePrivateKey | None = None,
             issuer: x509.Name | None = None) -> x509.CertificateRevocationList:
    """A CRL of `ca` listing `revoked` (certificates or serial numbers),
    current by default; `signer` forges it with another key, `issuer` names
    another issuer."""
    now = _now()
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer or ca.cert.subject)
               .last_update(last_update or now - dt.timedelta(hours=1))
               .next_update(next_update or now + dt.timedelta(days=1)))
    for item in revoked:
        serial = item if isinstance(item, int) else item.serial_number
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - dt.timedelta(minutes=5)).build())
    return builder.sign(signer or ca.key, hashes.SHA256())


def crl_pem(*crls: x509.CertificateRevocationList) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in crls)


def crl_der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)
